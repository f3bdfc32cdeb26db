// A third relay instance is manifests only: in a scratch copy of the repository an
// operator adds relay-work as the runbook says (a values file, a HelmRelease, its
// OnePasswordItem entry, an ingress rule), and the flows of that copy — the same
// bundles, no code changed — template it, bootstrap it, sync its ingress backend
// and verify it, on local API servers.
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { parseDocument, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { management, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { parseManifests } from "../../scripts/lib/yaml.ts";
import {
  type ApiServer,
  type ApiServers,
  client,
  playCcm,
  seedCozystack,
  setFluxReady,
  startApiServers,
} from "../platform/index.ts";
import { tempDir } from "../support/files.ts";
import { type FlowResult, runCommand } from "../support/flows.ts";

let cp: ApiServers;
let mgmt: ApiServer, tenantServer: ApiServer;
let dir: string;
let copy: string;

/** The repository as it is on disk (uncommitted files included), its bundles, and its installed packages and tools by link. */
function scratchRepository(into: string): string {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(into, file)), { recursive: true });
    try {
      cpSync(join(repoRoot, file), join(into, file));
    } catch {
      // Deleted in the working tree but not yet in git's index.
    }
  }
  cpSync(join(repoRoot, "dist"), join(into, "dist"), { recursive: true });
  for (const linked of ["node_modules", ".tools"]) symlinkSync(join(repoRoot, linked), join(into, linked));
  return into;
}

/** What an operator writes for relay-work, as relay-personal has it. */
function addRelayWork(root: string): void {
  const app = join(root, tenant.appPath);
  const values = readFileSync(join(app, "relay-personal/values.yaml"), "utf8")
    .replaceAll("personal.relay.enigma.vgijssel.nl", "work.relay.enigma.vgijssel.nl")
    .replaceAll("relay-personal", "relay-work")
    .replace(/bucket: \S+/, "bucket: bucket-work");
  mkdirSync(join(app, "relay-work"));
  writeFileSync(join(app, "relay-work/values.yaml"), values);
  writeFileSync(
    join(app, "helmrelease-relay-work.yaml"),
    readFileSync(join(app, "helmrelease-relay-personal.yaml"), "utf8")
      .replaceAll("relay-personal", "relay-work")
      .replaceAll("personal", "work"),
  );
  const kustomization = parseDocument(readFileSync(join(app, "kustomization.yaml"), "utf8"));
  (kustomization.get("resources") as { add(v: string): void }).add("helmrelease-relay-work.yaml");
  writeFileSync(join(app, "kustomization.yaml"), String(kustomization));
  const secrets = parseDocument(readFileSync(join(app, "helmrelease-1password-secrets.yaml"), "utf8"));
  (secrets.getIn(["spec", "values", "items"]) as { add(v: object): void }).add({
    name: "relay-work-s3-credentials",
    namespace: relayNamespace,
    itemPath: "vaults/setup-docs-prod/items/relay-work-s3-credentials",
  });
  writeFileSync(join(app, "helmrelease-1password-secrets.yaml"), String(secrets));
  // The ingress rule: relay-personal's Ingress, for the new host.
  const ingressFile = join(root, management.ingressFile);
  const text = readFileSync(ingressFile, "utf8");
  const personal = text.split(/^---$/m).find((doc) => doc.includes("name: relay-personal"))!;
  writeFileSync(
    ingressFile,
    `${text.trimEnd()}\n---\n${personal.replaceAll("relay-personal", "relay-work").replaceAll("personal.relay", "work.relay").trim()}\n`,
  );
}

/** A flow of the scratch copy: its own runner and bundles, its own manifests. */
function flowOfCopy(flow: string, args: readonly string[]): Promise<FlowResult> {
  return runCommand(
    process.execPath,
    [join(copy, "scripts/build/flow.mjs"), flow, ...args],
    { KUBECONFIG: mgmt.kubeconfigPath },
    copy,
  );
}

beforeAll(async () => {
  dir = tempDir("third-instance-");
  copy = scratchRepository(join(dir, "repo"));
  addRelayWork(copy);
  cp = await startApiServers([{ name: management.cluster }, { name: tenant.app }]);
  [mgmt, tenantServer] = cp.servers as [ApiServer, ApiServer];
  await seedCozystack(mgmt, tenantServer);
});

afterAll(async () => {
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a third relay instance, added as manifests only", () => {
  it("is read from the copy's manifests, with its host, bucket, Secret and 1Password item", () => {
    const work = relayInstances(copy).find((i) => i.release === "relay-work");
    expect(work).toEqual({
      name: "work",
      release: "relay-work",
      host: "work.relay.enigma.vgijssel.nl",
      url: "https://work.relay.enigma.vgijssel.nl",
      bucket: "bucket-work",
      credentialsSecret: "relay-work-s3-credentials",
      itemPath: "vaults/setup-docs-prod/items/relay-work-s3-credentials",
      valuesFile: "apps/docs-prod/relay-work/values.yaml",
    });
    expect(relayInstances(copy).map((i) => i.name)).toEqual(["personal", "family", "work"]);
  });

  it("relay-server:template renders it; bootstrap applies its HelmRelease; sync-ingress writes its backend; verify checks it", async () => {
    // Helm's part, played: each release's Service in the tenant (as the copy's relay-server:template renders it), then KubeVirt CCM's mirrors.
    const t = client(tenantServer);
    await t.apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: relayNamespace } },
      { fieldManager: "helm" },
    );
    for (const name of ["personal", "family", "work"]) {
      const template = await flowOfCopy("relay-helm", ["template", "--instance", name]);
      expect(template.code, template.all).toBe(0);
      const service = parseManifests(template.stdout, `relay-server:template --instance ${name}`).find(
        (o) => o.kind === "Service",
      )!;
      expect(service.metadata.name).toBe(`relay-${name}-relay-server`);
      await t.apply(
        { ...service, metadata: { ...service.metadata, namespace: relayNamespace } },
        { fieldManager: "helm" },
      );
    }
    await playCcm(tenantServer, mgmt);

    const bootstrap = await flowOfCopy("bootstrap", [
      "--app",
      "docs-prod",
      "--skip-secrets",
      "--no-wait",
      "--tenant-kubeconfig",
      tenantServer.kubeconfigPath,
    ]);
    expect(bootstrap.code, bootstrap.all).toBe(0);
    expect(
      await t.get({
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { namespace: tenant.fluxNamespace, name: "relay-work" },
      }),
    ).toBeDefined();

    const sync = await flowOfCopy("sync-ingress", ["--tenant-kubeconfig", tenantServer.kubeconfigPath]);
    expect(sync.code, sync.all).toBe(0);
    expect(sync.stdout).toMatch(
      /work\.relay\.enigma\.vgijssel\.nl → Service a[0-9a-f]{31} port 8080 \(mirror of relay\/relay-work-relay-server\)/,
    );
    const ingress = parseManifests(
      readFileSync(join(copy, management.ingressFile), "utf8"),
      management.ingressFile,
    ).find((o) => o.metadata.name === "relay-work")!;
    expect(stringify(ingress)).toMatch(/name: a[0-9a-f]{31}/);

    await setFluxReady(
      tenantServer,
      "HelmRelease",
      "helm.toolkit.fluxcd.io/v2",
      tenant.fluxNamespace,
      "relay-work",
      true,
      "Helm install succeeded (played)",
    );
    const verify = await flowOfCopy("verify", [
      "--only",
      "tenant",
      "--only",
      "management",
      "--tenant-kubeconfig",
      tenantServer.kubeconfigPath,
    ]);
    expect(verify.stdout).toContain("✓ HelmRelease flux-system/relay-work Ready");
    expect(verify.stdout).toMatch(
      /✓ mirror of Service relay\/relay-work-relay-server in tenant-root: Service a[0-9a-f]{31}/,
    );
    expect(verify.stdout).toMatch(/✓ \S*ingress-relay\.yaml backends match the mirrors: up to date/);
    // The rest of relay-work is checked as the others are (played here only as far as this test needs).
    for (const check of [
      "Deployment relay/relay-work-relay-server available",
      "Service relay/relay-work-relay-server has a LoadBalancer address",
      "Secret relay/relay-work-s3-credentials (relay-work's S3 credentials) has keys accessKey, secretKey",
      "Ingress tenant-root/relay-work matches",
      "TLS Secret tenant-root/relay-work-tls for work.relay.enigma.vgijssel.nl",
    ]) {
      expect(verify.stdout).toContain(check);
    }
  });
});
