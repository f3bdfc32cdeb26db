// The flows' plain output on their main paths, pinned in testdata/*.golden (see
// test/support/golden.ts): a changed message, step title or order shows up as a
// diff here, and the runbook's examples are checked against the same files.
import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { management, onePassword, relayNamespace } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { type ApiServer, type ApiServers, client, playCcm, seedCozystack, startApiServers } from "../platform/index.ts";
import { localSecretsFile, tempDir } from "../support/files.ts";
import { preMigrationVendir } from "../support/vendir.ts";
import { runFlow } from "../support/flows.ts";
import { goldenPath, normalize, updateGolden, updating } from "../support/golden.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

let cp: ApiServers;
let mgmt: ApiServer, tenantServer: ApiServer;
let dir: string;
let secrets: string;

beforeAll(async () => {
  cp = await startApiServers([{ name: management.cluster }, { name: "cluster-docs-infra-prod" }]);
  [mgmt, tenantServer] = cp.servers as [ApiServer, ApiServer];
  await seedCozystack(mgmt, tenantServer);
  await client(mgmt).apply(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: management.fluxNamespace } },
    { fieldManager: "flux-install" },
  );
  dir = tempDir("golden-");
  secrets = localSecretsFile(dir, {
    [onePassword.credentialsReference]: JSON.stringify({
      verifier: {},
      encCredentials: {},
      version: "2",
      deviceUuid: "golden",
      uniqueKey: {},
    }),
    [onePassword.tokenReference]: "golden-operator-token",
  });
});

afterAll(async () => {
  await cp?.stop();
});

/** Runs a flow as moon does and compares its normalized stdout with the golden file. */
async function expectGolden(name: string, flow: string, args: string[], code = 0): Promise<void> {
  const result = await runFlow(flow, args, { KUBECONFIG: mgmt.kubeconfigPath });
  expect(result.code, result.all).toBe(code);
  const output = normalize(result.stdout);
  if (updating) updateGolden(name, output);
  expect(output).toBe(readFileSync(goldenPath(name), "utf8"));
}

describe("the flows' plain output", () => {
  const local = () => ["--secrets-from", "local", "--local-secrets", secrets];
  const onTenant = () => ["--tenant-kubeconfig", tenantServer.kubeconfigPath];
  let ingressFile: string;

  it("create-1password-secret", () => expectGolden("create-1password-secret", "create-1password-secret", local()));

  it("bootstrap of docs-prod, first apply", () =>
    expectGolden("bootstrap-docs-prod", "bootstrap", ["--app", "docs-prod", "--no-wait", ...local()]));

  it("bootstrap of docs-prod, again: nothing changes", () =>
    expectGolden("bootstrap-docs-prod-again", "bootstrap", ["--app", "docs-prod", "--no-wait", ...local()]));

  it("relay-server upgrade, then diff shows no change", async () => {
    for (const i of instances)
      expect((await runFlow("relay-helm", ["upgrade", "--instance", i.name, "--no-wait", ...onTenant()])).code).toBe(0);
    await expectGolden("relay-server-diff", "relay-helm", ["diff", "--instance", "personal", ...onTenant()]);
  });

  it("sync-ingress, then --check", async () => {
    await playCcm(tenantServer, mgmt);
    ingressFile = join(dir, "ingress-relay.yaml");
    cpSync(join(repoRoot, management.ingressFile), ingressFile);
    await expectGolden("sync-ingress", "sync-ingress", ["--ingress-file", ingressFile, ...onTenant()]);
    await expectGolden("sync-ingress-check", "sync-ingress", ["--ingress-file", ingressFile, "--check", ...onTenant()]);
  });

  it("verify of the management cluster", async () => {
    const ingresses = execFileSync(
      join(repoRoot, ".tools/bin/kubectl"),
      ["--kubeconfig", mgmt.kubeconfigPath, "apply", "--server-side", "-f", ingressFile],
      { encoding: "utf8" },
    );
    expect(ingresses).toMatch(/relay-personal serverside-applied/);
    await expectGolden(
      "verify-management",
      "verify",
      ["--only", "management", "--ingress-file", ingressFile, ...onTenant()],
      1,
    );
  });

  it("vendir remove-entry on the pre-migration vendir folder", async () => {
    const vendir = preMigrationVendir(dir);
    await expectGolden("vendir-remove-entry", "vendir-remove-entry", ["relay-server", "--dir", vendir]);
  });

  it("the relay Services stay where the goldens say", async () => {
    expect((await client(tenantServer).list("v1", "Service", relayNamespace)).length).toBe(2);
  });
});
