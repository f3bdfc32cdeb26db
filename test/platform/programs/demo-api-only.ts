// `npm run demo` on a machine that cannot run a node (no root, not Linux): the
// flows against two API servers alone; the demo plays the controllers they lack
// (Flux, KubeVirt CCM, the 1Password operator) and says so. Nothing tracked changes.
import type { Server } from "node:https";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  type ApiServer,
  client,
  ensureKubeBinary,
  playCcm,
  s3EndpointHosts,
  seedCozystack,
  setFluxReady,
  startApiServers,
} from "../index.ts";
import { preMigrationVendir } from "../../support/vendir.ts";
import { flow, heading, note, run } from "./demo-output.ts";
import { management, onePassword, relayNamespace, tenant } from "../../../scripts/lib/names.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { s3LikeServer, testCa } from "../../support/tls.ts";
import type { Manifest } from "../../../scripts/lib/kube.ts";
import { parseManifests } from "../../../scripts/lib/yaml.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const { values } = parseArgs({ options: { keep: { type: "boolean", default: false } } });

await ensureKubeBinary((line) => note(line));
const scratch = mkdtempSync(join(tmpdir(), "relay-demo-"));
heading(`Start ${management.cluster} and ${tenant.app} as local kube-apiservers with the real Flux and 1Password CRDs`);
const cp = await startApiServers([{ name: management.cluster }, { name: tenant.app }]);
const [mgmt, tenantServer] = cp.servers as [ApiServer, ApiServer];
for (const s of cp.servers) note(`${s.name}: ${s.url}`);
process.env.KUBECONFIG = mgmt.kubeconfigPath;

let s3Endpoint: { server: Server; port: number } | undefined;
try {
  heading("Seed the management cluster as Cozystack does: tenant-root and the tenant's admin kubeconfig Secret");
  await seedCozystack(mgmt, tenantServer);
  await client(mgmt).apply(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: management.fluxNamespace } },
    { fieldManager: "flux-install" },
  );
  note(
    `Secret ${tenant.kubeconfigSecret.namespace}/${tenant.kubeconfigSecret.name} (keys super-admin.conf, admin.conf); namespace ${management.fluxNamespace}`,
  );

  // A local secret source stands in for 1Password (no account needed).
  const secretsFile = join(scratch, "local-secrets.json");
  writeFileSync(
    secretsFile,
    JSON.stringify({
      [onePassword.credentialsReference]: JSON.stringify({
        verifier: { salt: "demo", localHash: "demo" },
        encCredentials: { kid: "demo", enc: "A256GCM", cty: "b5+jwk+json", iv: "demo", data: "demo" },
        version: "2",
        deviceUuid: "demo-device",
        uniqueKey: { alg: "A256GCM", k: "demo" },
      }),
      [onePassword.tokenReference]: "demo-operator-token",
    }),
    { mode: 0o600 },
  );
  const local = ["--secrets-from", "local", "--local-secrets", secretsFile];

  heading("create-1password-secret (local secret source instead of 1Password)");
  await run("create-1password-secret", "create-1password-secret", local);

  heading(`bootstrap docs-prod into ${tenant.app} (tenant kubeconfig from the Cozystack Secret)`);
  const flux = (async () => {
    // No Flux controller runs here: once the root Kustomization exists, mark it Ready as kustomize-controller would.
    const c = client(tenantServer);
    const ref = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { namespace: tenant.fluxNamespace, name: tenant.kustomization },
    };
    while (!(await c.get(ref))) await new Promise((r) => setTimeout(r, 200));
    await setFluxReady(
      tenantServer,
      ref.kind,
      ref.apiVersion,
      tenant.fluxNamespace,
      tenant.kustomization,
      true,
      "Applied revision: main (played by the demo)",
    );
  })();
  await run("bootstrap", "bootstrap", ["--app", "docs-prod", "--skip-secrets", "--timeout", "60s"]);
  await flux;

  heading(`bootstrap docs-infra-prod into ${management.cluster}`);
  await run("bootstrap", "bootstrap", ["--app", "docs-infra-prod", "--no-wait"]);

  heading(`Install relay-personal and relay-family from libs/relay-server with the real helm`);
  note("No Pods will run: these API servers have no scheduler and no kubelet, so --no-wait.");
  for (const i of instances)
    await run("relay-server:upgrade", "relay-helm", [
      "upgrade",
      "--instance",
      i.name,
      "--no-wait",
      "--tenant-kubeconfig",
      tenantServer.kubeconfigPath,
    ]);

  heading("Play the controllers the local servers lack");
  const t = client(tenantServer);
  for (const name of ["1password-operator", "1password-secrets", ...instances.map((i) => i.release)]) {
    await setFluxReady(
      tenantServer,
      "HelmRelease",
      "helm.toolkit.fluxcd.io/v2",
      tenant.fluxNamespace,
      name,
      true,
      "Helm install succeeded (played by the demo)",
    );
  }
  note("Flux: every HelmRelease Ready");
  for (const i of instances) {
    await t.apply(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: relayNamespace, name: i.credentialsSecret },
        data: { accessKey: Buffer.from("demo").toString("base64"), secretKey: Buffer.from("demo").toString("base64") },
      },
      { fieldManager: "onepassword-operator" },
    );
    const [svc] = await t.list("v1", "Service", relayNamespace, `app.kubernetes.io/instance=${i.release}`);
    await t.patchStatus(
      { apiVersion: "v1", kind: "Service", metadata: { namespace: relayNamespace, name: svc!.metadata!.name! } },
      { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } },
    );
  }
  note("1Password operator: Secrets relay-personal-s3-credentials, relay-family-s3-credentials");
  const mirrors = await playCcm(tenantServer, mgmt);
  for (const [service, mirror] of mirrors)
    note(`KubeVirt CCM: ${service} → tenant-root/${mirror} (name from the UID) and a LoadBalancer address`);

  heading("sync-ingress against a scratch copy of apps/docs-infra-prod");
  const infra = join(scratch, "docs-infra-prod");
  cpSync(join(repoRoot, management.appPath), infra, { recursive: true });
  const ingressFile = join(infra, "ingress-relay.yaml");
  await run("sync-ingress", "sync-ingress", [
    "--tenant-kubeconfig",
    tenantServer.kubeconfigPath,
    "--ingress-file",
    ingressFile,
  ]);
  await run("sync-ingress", "sync-ingress", [
    "--tenant-kubeconfig",
    tenantServer.kubeconfigPath,
    "--ingress-file",
    ingressFile,
    "--check",
  ]);
  for (const ingress of parseManifests(readFileSync(ingressFile, "utf8"), ingressFile) as (Manifest & {
    spec: {
      rules: {
        host: string;
        http: { paths: { backend: { service: { name: string; port: { number: number } } } }[] };
      }[];
    };
  })[]) {
    for (const rule of ingress.spec.rules)
      for (const p of rule.http.paths)
        note(
          `ingress backend: https://${rule.host} → tenant-root/${p.backend.service.name}:${p.backend.service.port.number}`,
        );
  }

  // The operator commits the file; Flux in the management cluster applies it.
  for (const ingress of parseManifests(readFileSync(ingressFile, "utf8"), ingressFile))
    await client(mgmt).apply(ingress, { fieldManager: "kustomize-controller" });
  note("Flux (played): the updated Ingresses applied in tenant-root of the management cluster");

  heading("vendir remove-entry relay-server against a scratch copy of the pre-migration third_party/vendir");
  const vendir = preMigrationVendir(scratch);
  await run("vendir:remove-entry", "vendir-remove-entry", ["relay-server", "--dir", vendir]);
  await run("vendir:remove-entry (again)", "vendir-remove-entry", ["relay-server", "--dir", vendir]);

  heading(
    "verify (no kubelet runs the relays, no cert-manager issues TLS, nothing listens on the public hosts: those checks fail, honestly)",
  );
  // The public hosts are sent to a loopback port where nothing listens, the S3 endpoint to a played one: the demo never reaches out.
  const ca = testCa(scratch);
  const s3Hosts = s3EndpointHosts();
  s3Endpoint = await s3LikeServer(ca.issue(s3Hosts, "s3-endpoint"));
  note(
    `S3 endpoint ${s3Hosts.join(", ")} (played): https://127.0.0.1:${s3Endpoint.port} with a test CA, answering 403 as S3 does without credentials; the production endpoint is never contacted`,
  );
  const connectTo = [
    ...instances.map((i) => `${i.host}=127.0.0.1:9`),
    ...s3Hosts.map((h) => `${h}=127.0.0.1:${s3Endpoint!.port}`),
  ].flatMap((c) => ["--connect-to", c]);
  await flow("verify", "verify", [
    "--tenant-kubeconfig",
    tenantServer.kubeconfigPath,
    "--ingress-file",
    ingressFile,
    "--ca-file",
    ca.caFile,
    "--request-timeout",
    "2s",
    ...connectTo,
  ]);
  process.exitCode = 0;

  heading("Done");
  if (values.keep) {
    note("--keep: the servers run until you press Ctrl-C. Point kubectl at them:");
    for (const s of cp.servers) note(`kubectl --kubeconfig ${s.kubeconfigPath} get all -A   # ${s.name}`);
    const stop = () =>
      void (s3Endpoint?.server.close(), cp.stop())
        .then(() => rmSync(scratch, { recursive: true, force: true }))
        .then(() => process.exit(0));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  }
} finally {
  if (!values.keep) {
    s3Endpoint?.server.close();
    await cp.stop();
    rmSync(scratch, { recursive: true, force: true });
    note("stopped both servers and removed the scratch files; nothing tracked in the repo changed");
  }
}
