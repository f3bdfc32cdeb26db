// Real Flux on the real node deploys apps/docs-prod from this working tree (no
// status written by a test): a broken change is caught by Flux with its own
// message, bootstrap's wait fails with it and verify shows it; drift is put back.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Patch } from "../../scripts/lib/apps.ts";
import { readyCondition, type Live } from "../../scripts/lib/kube.ts";
import { relayNamespace } from "../../scripts/lib/names.ts";
import { client, runFlow } from "../local/flows.ts";
import { detectNodeMode } from "../local/node.ts";
import { localPatches, type LocalSystem, startSystem } from "../local/system.ts";

const mode = detectNodeMode();
let system: LocalSystem;
let good: Patch[];

const bootstrap = (patchesFile: string, timeout = "5m") =>
  runFlow("bootstrap", ["--app", "docs-prod", "--tenant-kubeconfig", system.tenant.kubeconfigPath, "--skip-secrets", "--git-url", system.git.url, "--patches", patchesFile, "--timeout", timeout]);

function patchesWith(name: string, extra: Patch[]): string {
  const file = join(system.dir, `${name}.yaml`);
  writeFileSync(file, stringify([...good, ...extra]));
  return file;
}

const helmRelease = async (name: string) =>
  (await client(system.tenant).get({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { namespace: "flux-system", name } })) as Live;

describe.runIf(mode.node || process.env.CI === "true")("real Flux on the node", () => {
  beforeAll(async () => {
    if (!mode.node) throw new Error(`expected a machine that can run a node under CI; ${mode.reason}`);
    system = await startSystem();
    good = localPatches(system.cluster.node.s3.podUrl);
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

  it("puts a hand-edited relay Deployment back (helm-controller's drift detection)", async () => {
    const t = client(system.tenant);
    const path = await t.path("apps/v1", "Deployment", relayNamespace, "relay-personal-relay-server");
    await t.request("PATCH", path, { metadata: { labels: { "edited-by-hand": "yes" } } }, "application/merge-patch+json");
    const hr = await helmRelease("relay-personal");
    await t.request("PATCH", await t.path("helm.toolkit.fluxcd.io/v2", "HelmRelease", "flux-system", "relay-personal"), { metadata: { annotations: { "reconcile.fluxcd.io/requestedAt": new Date().toISOString() } } }, "application/merge-patch+json");
    const deadline = Date.now() + 120_000;
    let labels: Record<string, string> | undefined = { "edited-by-hand": "yes" };
    while (Date.now() < deadline && labels?.["edited-by-hand"]) {
      await new Promise((r) => setTimeout(r, 2000));
      labels = ((await t.request<Live>("GET", path)).metadata.labels) as Record<string, string> | undefined;
    }
    expect(labels?.["edited-by-hand"], JSON.stringify(hr.status)).toBeUndefined();
  }, 180_000);

  it.each([
    ["a valuesFiles entry that does not exist", { target: { kind: "HelmRelease", name: "relay-personal" }, patch: stringify([{ op: "add", path: "/spec/chart/spec/valuesFiles/-", value: "apps/docs-prod/relay-personal/no-such-values.yaml" }]) }, /no values file found at path/],
    ["values the chart's schema rejects", { patch: stringify({ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { name: "relay-personal" }, spec: { values: { ulimits: { nofile: "plenty" } } } }) }, /values don't meet the specifications of the schema|ulimits\.nofile/],
    ["a dependsOn on a release that does not exist", { target: { kind: "HelmRelease", name: "relay-personal" }, patch: stringify([{ op: "add", path: "/spec/dependsOn/-", value: { name: "relay-missing" } }]) }, /dependency 'flux-system\/relay-missing'/],
  ] as const)("catches %s before production: the HelmRelease goes not Ready, bootstrap fails with Flux's message, verify shows it", async (name, patch, message) => {
    const broken = await bootstrap(patchesWith(name.replace(/\W+/g, "-"), [patch as Patch]), "2m");
    expect(broken.code, broken.all).toBe(3);
    expect(broken.stderr).toMatch(new RegExp(`expected Kustomization flux-system/docs-prod to be Ready within 120 s; Flux's last status: .*; not Ready: HelmRelease flux-system/relay-personal .*(?:${message.source})`));
    const ready = readyCondition(await helmRelease("relay-personal"));
    expect(ready?.status).toBe("False");
    expect(ready?.message).toMatch(message);
    const verify = await runFlow("verify", ["--only", "tenant", "--tenant-kubeconfig", system.tenant.kubeconfigPath]);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(new RegExp(`✗ HelmRelease flux-system/relay-personal Ready: .*(?:${message.source})`));
    // Back to the good state for the next case.
    const fixed = await bootstrap(system.patchesFile);
    expect(fixed.code, fixed.all).toBe(0);
  }, 600_000);
});
