// `npm run demo`: the whole system on this machine, through the commands an
// operator types. The tenant is a real single-node cluster running the Relay
// server built from source; real Flux deploys this working tree; what no local
// machine can have is played in code and said so. Nothing tracked changes.
// Without root or Linux, the API-only demo runs instead (demo-api-only.ts).
import { cpSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { management, relayNamespace, tenant } from "../../../scripts/lib/names.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { flow, heading, note, run } from "./demo-output.ts";
import { client, detectNodeMode, relayRoutes, s3EndpointHosts, startIngress, startSystem } from "../index.ts";
import { preMigrationVendir } from "../../support/vendir.ts";
import { testCa } from "../../support/tls.ts";
import type { Manifest } from "../../../scripts/lib/kube.ts";
import { parseManifests } from "../../../scripts/lib/yaml.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const mode = detectNodeMode();
console.log(mode.reason);
if (!mode.node) {
  await import("./demo-api-only.ts");
} else {
  const { values } = parseArgs({ options: { keep: { type: "boolean", default: false } } });
  heading(
    `Start ${management.cluster} (API server) and ${tenant.app} (API server and a real node), real Flux, and what is played`,
  );
  const system = await startSystem((line) => note(line));
  const { mgmt, tenant: tenantServer, dir } = system;
  process.env.KUBECONFIG = mgmt.kubeconfigPath;
  let ingress: Awaited<ReturnType<typeof startIngress>> | undefined;
  let s3Tls: Awaited<ReturnType<typeof startIngress>> | undefined;
  let ok = false;
  try {
    for (const line of system.played) note(line);
    const local = ["--secrets-from", "local", "--local-secrets", system.secretsFile];

    heading("create-1password-secret (local secret source instead of 1Password)");
    await run("create-1password-secret", "create-1password-secret", local);

    heading(
      `bootstrap docs-prod: Flux clones this working tree, builds apps/docs-prod and installs both relays from libs/relay-server`,
    );
    await run("bootstrap", "bootstrap", [
      "--app",
      "docs-prod",
      "--skip-secrets",
      "--git-url",
      system.git.url,
      "--patches",
      system.patchesFile,
      "--timeout",
      "10m",
      ...local,
    ]);

    heading(
      `bootstrap docs-infra-prod into ${management.cluster} (its Flux is played: the demo applies the Ingresses below)`,
    );
    await run("bootstrap", "bootstrap", ["--app", "docs-infra-prod", "--no-wait"]);

    heading("sync-ingress against a scratch copy of apps/docs-infra-prod");
    const ingressFile = join(dir, "ingress-relay.yaml");
    cpSync(join(repoRoot, management.ingressFile), ingressFile);
    const onTenant = ["--tenant-kubeconfig", tenantServer.kubeconfigPath];
    await run("sync-ingress", "sync-ingress", [...onTenant, "--ingress-file", ingressFile]);
    await run("sync-ingress", "sync-ingress", [...onTenant, "--ingress-file", ingressFile, "--check"]);

    // What the management cluster's Flux and cert-manager would do: apply the file, issue each host's TLS Secret.
    const ca = testCa(dir);
    const tls = ca.issue(
      instances.map((i) => i.host),
      "relay-hosts",
    );
    const s3Hosts = s3EndpointHosts();
    const m = client(mgmt);
    for (const ing of parseManifests(readFileSync(ingressFile, "utf8"), ingressFile) as (Manifest & {
      spec: { tls: { secretName: string }[] };
    })[]) {
      await m.apply(ing as never, { fieldManager: "kustomize-controller" });
      for (const t of ing.spec.tls) {
        await m.apply(
          {
            apiVersion: "v1",
            kind: "Secret",
            type: "kubernetes.io/tls",
            metadata: { namespace: ing.metadata.namespace, name: t.secretName },
            data: {
              "tls.crt": Buffer.from(tls.cert).toString("base64"),
              "tls.key": Buffer.from(tls.key).toString("base64"),
            },
          },
          { fieldManager: "cert-manager" },
        );
      }
    }
    note("Flux of the management cluster (played): the Ingresses applied in tenant-root");
    note("cert-manager (played): a TLS Secret per host from a test CA (Let's Encrypt cannot issue for a local run)");

    heading("vendir remove-entry relay-server against a scratch copy of the pre-migration third_party/vendir");
    const vendir = preMigrationVendir(dir);
    await run("vendir:remove-entry", "vendir-remove-entry", ["relay-server", "--dir", vendir]);
    await run("vendir:remove-entry (again)", "vendir-remove-entry", ["relay-server", "--dir", vendir]);

    heading(
      "verify: both clusters, /ready over HTTPS through a local TLS endpoint that plays the ingress controller, and the S3 endpoint over TLS",
    );
    ingress = await startIngress(client(tenantServer), tls, await relayRoutes());
    note(
      `ingress controller (played): https://127.0.0.1:${ingress.port}, routing each public host to its relay's Pod; the public hosts are never contacted`,
    );
    const moto = new URL(system.cluster.node.s3.hostUrl);
    s3Tls = await startIngress(
      client(tenantServer),
      ca.issue(s3Hosts, "s3-endpoint"),
      new Map(s3Hosts.map((h) => [h, { host: moto.hostname, port: Number(moto.port) }])),
    );
    note(
      `S3 endpoint ${s3Hosts.join(", ")} (played): https://127.0.0.1:${s3Tls.port}, TLS from the test CA in front of the node's moto (${moto.origin}); the production endpoint is never contacted`,
    );
    const connectTo = [
      ...instances.map((i) => `${i.host}=127.0.0.1:${ingress!.port}`),
      ...s3Hosts.map((h) => `${h}=127.0.0.1:${s3Tls!.port}`),
    ].flatMap((c) => ["--connect-to", c]);
    const code = await flow("verify", "verify", [
      ...onTenant,
      "--ingress-file",
      ingressFile,
      "--ca-file",
      ca.caFile,
      ...connectTo,
    ]);
    if (code !== 0)
      throw new Error(
        "the demo expected every verify check to pass or be skipped with its reason; one failed (see above)",
      );
    ok = true;

    heading("Done");
    note(
      `the relays run in namespace ${relayNamespace} of ${tenant.app}, installed by Flux's helm-controller from libs/relay-server`,
    );
    if (values.keep) {
      note("--keep: everything runs until you press Ctrl-C. Point kubectl at it:");
      note(`kubectl --kubeconfig ${tenantServer.kubeconfigPath} get all -A   # ${tenant.app}`);
      note(`kubectl --kubeconfig ${mgmt.kubeconfigPath} get all -A   # ${management.cluster}`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
    }
  } finally {
    await ingress?.stop();
    await s3Tls?.stop();
    await system.stop();
    rmSync(dir, { recursive: true, force: true });
    note(
      "stopped the clusters, Flux and everything played, and removed the scratch files; nothing tracked in the repo changed",
    );
    if (!ok) process.exitCode = 1;
  }
}
