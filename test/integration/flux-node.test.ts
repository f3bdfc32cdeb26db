// Real Flux on the real node deploys apps/docs-prod from this working tree, with
// no status written by a test.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readyCondition, type Live } from "../../scripts/lib/kube.ts";
import { relayNamespace } from "../../scripts/lib/names.ts";
import { client, runFlow } from "../local/flows.ts";
import { detectNodeMode } from "../local/node.ts";
import { type LocalSystem, startSystem } from "../local/system.ts";

const mode = detectNodeMode();
let system: LocalSystem;

const bootstrap = (patchesFile: string, timeout = "5m") =>
  runFlow("bootstrap", ["--app", "docs-prod", "--tenant-kubeconfig", system.tenant.kubeconfigPath, "--skip-secrets", "--git-url", system.git.url, "--patches", patchesFile, "--timeout", timeout]);

const helmRelease = async (name: string) =>
  (await client(system.tenant).get({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { namespace: "flux-system", name } })) as Live;

describe.runIf(mode.node || process.env.CI === "true")("real Flux on the node", () => {
  beforeAll(async () => {
    if (!mode.node) throw new Error(`expected a machine that can run a node under CI; ${mode.reason}`);
    system = await startSystem();
  }, 600_000);

  afterAll(async () => {
    await system?.stop();
  });

  it("bootstrap waits until Flux has installed both relays from libs/relay-server, with no status written by a test", async () => {
    const result = await bootstrap(system.patchesFile);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/Ready: Applied revision: main@sha1:[0-9a-f]{40}/);
    for (const name of ["relay-personal", "relay-family"]) expect(readyCondition(await helmRelease(name))?.status).toBe("True");
    const deployments = await client(system.tenant).list<Live>("apps/v1", "Deployment", relayNamespace);
    expect(deployments.map((d) => [d.metadata.name, (d.status as { availableReplicas?: number }).availableReplicas])).toEqual([
      ["relay-family-relay-server", 1],
      ["relay-personal-relay-server", 1],
    ]);
  }, 600_000);

});
