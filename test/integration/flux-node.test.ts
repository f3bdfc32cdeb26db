// Real Flux on the real node deploys apps/docs-prod from this working tree, with
// no status written by a test: the relays' S3 credentials come from the real
// 1Password operator, and a rotation in 1Password reaches the Pod with no document
// lost; a field label the chart does not read is named by verify; drift is put
// back, a stale Ready holds bootstrap until Flux catches up, a broken change is
// caught by Flux with its own message, fails bootstrap's wait and shows in verify,
// and a server upgrade committed to git (and its rollback) keeps every document and
// attachment.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Patch } from "../../scripts/lib/apps.ts";
import { readyCondition, type Live } from "../../scripts/lib/kube.ts";
import { onePassword, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { instanceByName, relayInstances } from "../../scripts/lib/instances.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { defaultServerTag } from "../../scripts/lib/server-versions.ts";
import { runTool } from "../../scripts/lib/tools.ts";
import {
  changeItem,
  client,
  detectNodeMode,
  itemTitle,
  localPatches,
  type LocalSystem,
  readyRelayPod,
  rotateItem,
  startSystem,
} from "../platform/index.ts";
import { runFlow, startFlow, writeOnePasswordSecrets } from "../support/flows.ts";
import { downloadAttachment, sha256Hex, uploadAttachment } from "../support/attachments.ts";
import { signDocument, signFile } from "../support/relay-tokens.ts";
import { waitFor } from "../support/wait.ts";
import { connectDoc, until } from "../support/yjs-client.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

interface PodLive {
  metadata: { name: string; deletionTimestamp?: Date };
  spec: { containers: { image: string }[] };
  status: { podIP?: string; conditions?: { type: string; status: string }[] };
}

const mode = detectNodeMode();
let system: LocalSystem;
let good: Patch[];

const bootstrapArgs = (patchesFile: string, timeout: string) => [
  "--app",
  "docs-prod",
  "--tenant-kubeconfig",
  system.tenant.kubeconfigPath,
  "--skip-secrets",
  "--git-url",
  system.git.url,
  "--patches",
  patchesFile,
  "--timeout",
  timeout,
];
const bootstrap = (patchesFile: string, timeout = "5m") => runFlow("bootstrap", bootstrapArgs(patchesFile, timeout));

/** A patches file: the machine's own patches and `extra`. */
function patchesWith(name: string, extra: Patch[]): string {
  const file = join(system.dir, `${name}.yaml`);
  writeFileSync(file, stringify([...good, ...extra]));
  return file;
}

const root = {
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { namespace: tenant.fluxNamespace, name: tenant.kustomization },
};
const generation = (live: Live) => (live.metadata as { generation?: number }).generation ?? 0;
const helmRelease = async (name: string) =>
  (await client(system.tenant).get({
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { namespace: "flux-system", name },
  })) as Live;

describe.runIf(mode.node || process.env.CI === "true")("real Flux on the node", () => {
  beforeAll(async () => {
    if (!mode.node) throw new Error(`expected a machine that can run a node under CI; ${mode.reason}`);
    system = await startSystem();
    good = localPatches(system.cluster.node.s3.podUrl);
    // The two Secrets Connect and the operator read, as an operator writes them first.
    const secrets = await writeOnePasswordSecrets(system);
    expect(secrets.code, secrets.all).toBe(0);
  }, 600_000);

  afterAll(async () => {
    await system?.stop();
  });

  it("bootstrap waits until Flux has installed both relays from libs/relay-server, with no status written by a test", async () => {
    // With the recovery cases' bounded health check (below): the generation they start from.
    const result = await bootstrap(bounded());
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/Ready: Applied revision: main@sha1:[0-9a-f]{40}/);
    for (const name of ["relay-personal", "relay-family"])
      expect(readyCondition(await helmRelease(name))?.status).toBe("True");
    const deployments = await client(system.tenant).list<Live>("apps/v1", "Deployment", relayNamespace);
    expect(
      deployments.map((d) => [d.metadata.name, (d.status as { availableReplicas?: number }).availableReplicas]),
    ).toEqual([
      ["relay-family-relay-server", 1],
      ["relay-personal-relay-server", 1],
    ]);
  }, 600_000);

  // The recovery cases run right after the first bootstrap, on a Kustomization Flux has just made Ready.
  // The schema case's fix needs bootstrap --force, which asks helm-controller only once kustomize-controller
  // has applied the fixed spec: a force before it ran the broken values again (a value kustomize-controller
  // co-owns stays on the HelmRelease after bootstrap's own apply drops it), and the release stayed failed.
  // Every generation up to the end of these cases has a short health-check timeout (10m in the repo): a
  // reconcile kustomize-controller has in flight when bootstrap applies the next spec holds that spec until
  // its health check ends. Seen: the previous good generation's check, started just before the broken spec
  // came in, waited on the release bootstrap's own apply had just broken, and held the fix for the full 10m.
  const healthCheckTimeout = (value: string): Patch => ({
    target: { kind: "Kustomization", name: tenant.kustomization },
    patch: stringify([{ op: "replace", path: "/spec/timeout", value }]),
  });
  const bounded = () => patchesWith("bounded-health-check", [healthCheckTimeout("2m")]);
  const recoveryCases = [
    [
      "a valuesFiles entry that does not exist",
      {
        target: { kind: "HelmRelease", name: "relay-personal" },
        patch: stringify([
          {
            op: "add",
            path: "/spec/chart/spec/valuesFiles/-",
            value: "apps/docs-prod/relay-personal/no-such-values.yaml",
          },
        ]),
      },
      /no values file found at path/,
      false,
    ],
    // helm-controller v1.4.3 keeps the failed upgrade's Ready=False after the values are put back
    // (fluxcd/helm-controller#1362): the fix needs a forced reconcile, bootstrap --force.
    [
      "values the chart's schema rejects",
      {
        patch: stringify({
          apiVersion: "helm.toolkit.fluxcd.io/v2",
          kind: "HelmRelease",
          metadata: { name: "relay-personal" },
          spec: { values: { ulimits: { nofile: "plenty" } } },
        }),
      },
      /values don't meet the specifications of the schema/,
      true,
    ],
    [
      "a dependsOn on a release that does not exist",
      {
        target: { kind: "HelmRelease", name: "relay-personal" },
        patch: stringify([{ op: "add", path: "/spec/dependsOn/-", value: { name: "relay-missing" } }]),
      },
      /relay-missing/,
      false,
    ],
  ] as const;
  it.each(recoveryCases)(
    "catches %s before production: the HelmRelease goes not Ready, bootstrap fails with Flux's message, verify shows it",
    async (name, patch, message, force) => {
      const broken = await bootstrap(
        patchesWith(name.replace(/\W+/g, "-"), [patch as Patch, healthCheckTimeout("45s")]),
        "90s",
      );
      expect(broken.code, broken.all).toBe(3);
      expect(broken.stderr).toMatch(
        new RegExp(
          `expected Kustomization flux-system/docs-prod to be Ready within 90 s; Flux's last status: .*not Ready: HelmRelease flux-system/relay-personal .*(?:${message.source})`,
        ),
      );
      const ready = readyCondition(await helmRelease("relay-personal"));
      expect(ready?.status).toBe("False");
      expect(ready?.message).toMatch(message);
      const verify = await runFlow("verify", ["--only", "tenant", "--tenant-kubeconfig", system.tenant.kubeconfigPath]);
      expect(verify.code).toBe(1);
      expect(verify.stdout).toMatch(
        new RegExp(`✗ HelmRelease flux-system/relay-personal Ready: .*(?:${message.source})`),
      );
      // The relay that was running keeps running: Flux never changed the release.
      const deployment = await client(system.tenant).get({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { namespace: relayNamespace, name: "relay-personal-relay-server" },
      });
      expect((deployment?.status as { availableReplicas?: number }).availableReplicas).toBe(1);
      // The fix, as an operator applies it; where helm-controller needs it, with bootstrap --force.
      const fixed = await runFlow("bootstrap", [...bootstrapArgs(bounded(), "5m"), ...(force ? ["--force"] : [])]);
      const why = async () =>
        `${fixed.all}\nHelmRelease relay-personal status: ${JSON.stringify((await helmRelease("relay-personal")).status)}\nhelm-controller's last lines:\n${system.flux.log("helm-controller").slice(-8000)}\nkustomize-controller's last lines:\n${system.flux.log("kustomize-controller").slice(-8000)}`;
      if (fixed.code !== 0) expect.fail(await why());
      if (force) expect(fixed.stdout).toMatch(/HelmRelease relay-personal: forced reconcile handled, Ready/);
    },
    600_000,
  );

  const personal = instances.find((i) => i.name === "personal")!;
  const kubectl = (...args: string[]) => runTool("kubectl", ["--kubeconfig", system.tenant.kubeconfigPath, ...args]);
  const secretOf = async (name: string) =>
    (await client(system.tenant).get({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: relayNamespace, name },
    })) as Live & { data: Record<string, string> };

  it("rotates the S3 credentials end to end: the item changes in 1Password, the operator restarts the relay with the new Secret, and a document written before reads back", async () => {
    const t = client(system.tenant);
    const before = await waitFor("relay-personal's Pod to be Ready", 60_000, () => readyRelayPod(t, personal));
    const docId = `rotation-${Date.now()}`;
    const url = async (ip: string) =>
      `ws://${ip}:8080/d/${docId}/ws/${docId}?token=${await signDocument(system.relayKey, docId)}`;
    const writer = connectDoc(await url(before.ip));
    await writer.synced;
    writer.doc.getText("body").insert(0, "written before the rotation");
    // A second client seeing the edit: the server holds it.
    const reader = connectDoc(await url(before.ip));
    try {
      await reader.synced;
      await until("the second client's text", "written before the rotation", () =>
        reader.doc.getText("body").toString(),
      );
    } finally {
      writer.close();
      reader.close();
    }
    const rotated = { accessKey: `rotated-access-${Date.now()}`, secretKey: `rotated-secret-${Date.now()}` };
    const { pod } = await rotateItem(t, system.secretsFile, personal, rotated);
    const secret = await secretOf(personal.credentialsSecret);
    expect(secret.metadata.annotations?.["operator.1password.io/item-version"]).toBe("2");
    // The new Pod runs with the new Secret: its process environment (compared here, never printed).
    const env = await kubectl(
      "-n",
      relayNamespace,
      "exec",
      pod.name,
      "--",
      "printenv",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
    );
    expect(
      env.trim() === `${rotated.accessKey}\n${rotated.secretKey}`,
      "the new Pod's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are the rotated values",
    ).toBe(true);
    // The old Pod flushed the document to S3 on its way out; the new one serves it.
    const after = connectDoc(await url(pod.ip));
    try {
      await after.synced;
      await until("the document after the rotation", "written before the rotation", () =>
        after.doc.getText("body").toString(),
      );
    } finally {
      after.close();
    }
  }, 400_000);

  it("names the missing key when a field label differs from the chart's existingSecretKeys: the Pod waits in CreateContainerConfigError and verify says which key", async () => {
    const t = client(system.tenant);
    const value = Buffer.from((await secretOf(personal.credentialsSecret)).data.accessKey!, "base64").toString();
    // The field renamed in 1Password: the operator writes the label as the key.
    changeItem(system.secretsFile, onePassword.vault, itemTitle(personal), { accessKey: null, "access-key": value });
    const verifyTenant = () =>
      runFlow("verify", ["--only", "tenant", "--tenant-kubeconfig", system.tenant.kubeconfigPath]);
    const broken = await waitFor("verify to show the Pod in CreateContainerConfigError", 180_000, async () => {
      const r = await verifyTenant();
      return /CreateContainerConfigError/.test(r.stdout) ? r : undefined;
    });
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(
      /✗ Deployment relay\/relay-personal-relay-server available: .*CreateContainerConfigError \(couldn't find key accessKey in Secret relay\/relay-personal-s3-credentials\)/,
    );
    expect(broken.stdout).toMatch(
      /✗ Secret relay\/relay-personal-s3-credentials \(relay-personal's S3 credentials\) has keys accessKey, secretKey: missing accessKey; has access-key, secretKey/,
    );
    expect(broken.all).not.toContain(value);
    // The label put back: the operator writes accessKey again and the relay runs.
    await rotateItem(t, system.secretsFile, personal, { "access-key": null, accessKey: value });
    const fixed = await waitFor("verify to pass relay-personal's Deployment again", 60_000, async () => {
      const r = await verifyTenant();
      return /✓ Deployment relay\/relay-personal-relay-server available/.test(r.stdout) ? r : undefined;
    });
    expect(fixed.stdout).toMatch(
      /✓ Secret relay\/relay-personal-s3-credentials \(relay-personal's S3 credentials\) has keys accessKey, secretKey/,
    );
  }, 400_000);

  it("puts back a relay Deployment scaled down by hand (helm-controller's drift detection)", async () => {
    const t = client(system.tenant);
    const path = await t.path("apps/v1", "Deployment", relayNamespace, "relay-personal-relay-server");
    // A field the chart sets: replicas 1, changed by another field manager, as `kubectl scale` does.
    await t.request(
      "PATCH",
      `${path}?fieldManager=kubectl-scale`,
      { spec: { replicas: 0 } },
      "application/merge-patch+json",
    );
    expect(((await t.request<Live>("GET", path)).spec as { replicas: number }).replicas).toBe(0);
    const hr = await t.path("helm.toolkit.fluxcd.io/v2", "HelmRelease", "flux-system", "relay-personal");
    await t.request(
      "PATCH",
      hr,
      { metadata: { annotations: { "reconcile.fluxcd.io/requestedAt": new Date().toISOString() } } },
      "application/merge-patch+json",
    );
    const replicas = await waitFor("helm-controller to put replicas back to 1", 180_000, async () => {
      const live = await t.request<Live>("GET", path);
      const spec = live.spec as { replicas: number };
      return spec.replicas === 1 ? spec.replicas : undefined;
    });
    expect(replicas).toBe(1);
    await waitFor("the Deployment to be available again", 180_000, async () => {
      const live = await t.request<Live>("GET", path);
      return (live.status as { availableReplicas?: number }).availableReplicas === 1 ? true : undefined;
    });
  }, 400_000);

  it("holds bootstrap on a stale Ready until Flux has reconciled the new generation", async () => {
    const t = client(system.tenant);
    const pid = system.flux.pids()["kustomize-controller"];
    expect(pid).toBeGreaterThan(0);
    const before = (await t.get(root)) as Live;
    expect(readyCondition(before)?.status).toBe("True");
    // kustomize-controller paused: the new spec raises the generation, the Ready stays the old one.
    process.kill(pid, "SIGSTOP");
    let resumed = false;
    try {
      const changed = patchesWith("stale-ready", [
        {
          patch: stringify({
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: relayNamespace, annotations: { "example.com/stale-ready": "1" } },
          }),
        },
      ]);
      const running = startFlow("bootstrap", bootstrapArgs(changed, "3m"));
      let exited = false;
      void running.result.then(() => (exited = true));
      const stale = await waitFor("the root Kustomization to have a new generation", 60_000, async () => {
        const live = (await t.get(root)) as Live;
        return generation(live) > generation(before) ? live : undefined;
      });
      expect(readyCondition(stale)?.status).toBe("True");
      expect(stale.status?.observedGeneration).toBeLessThan(generation(stale));
      // Long enough for a wait that accepts the stale Ready to have returned.
      await new Promise((r) => setTimeout(r, 10_000));
      expect(exited).toBe(false);
      process.kill(pid, "SIGCONT");
      resumed = true;
      const result = await running.result;
      expect(result.code, result.all).toBe(0);
      const after = (await t.get(root)) as Live;
      expect(after.status?.observedGeneration).toBe(generation(after));
      const ns = await t.get({ apiVersion: "v1", kind: "Namespace", metadata: { name: relayNamespace } });
      expect(ns?.metadata.annotations?.["example.com/stale-ready"]).toBe("1");
    } finally {
      if (!resumed) process.kill(pid, "SIGCONT");
    }
  }, 400_000);

  it("upgrades relay-personal from 0.9.6 to the default server through a git commit, and rolls back, keeping every document and attachment", async () => {
    const t = client(system.tenant);
    const personal = instanceByName("personal");
    const values = readFileSync(join(repoRoot, personal.valuesFile), "utf8");
    /** The commit an operator makes to hold relay-personal at a release: image.tag in its values file. */
    const pinnedTo = (tag: string) => ({ [personal.valuesFile]: `${values}\nimage:\n  tag: ${tag}\n` });
    const defaultTag = defaultServerTag();
    // The system's local signing key (localPatches gives it to the relays): the test's clients get tokens.
    const privateKey = system.relayKey;
    const patches = system.patchesFile;

    /** Publishes a commit, runs bootstrap as the operator does, and waits for the one Pod of relay-personal to run `tag`. */
    const deploy = async (tag: string, files: Record<string, string>) => {
      const started = Date.now();
      await system.git.publish(files);
      const result = await bootstrap(patches);
      expect(result.code, result.all).toBe(0);
      const pod = await waitFor(`relay-personal's Pod to run ${tag} and be Ready`, 300_000, async () => {
        const pods = (
          await t.list<PodLive>("v1", "Pod", relayNamespace, `app.kubernetes.io/instance=${personal.release}`)
        ).filter((p) => !p.metadata.deletionTimestamp);
        const ready = pods.filter(
          (p) =>
            p.spec.containers[0]!.image.endsWith(`:${tag}`) &&
            p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
        );
        return pods.length === 1 && ready.length === 1 ? ready[0] : undefined;
      });
      return { base: `http://${pod.status.podIP}:8080`, seconds: (Date.now() - started) / 1000 };
    };
    const docId = `upgrade-${Date.now()}`;
    const attachment = new TextEncoder().encode(`an attachment written by 0.9.6 at ${new Date().toISOString()}`);
    const fileToken = await signFile(privateKey, docId, sha256Hex(attachment));
    const connect = async (base: string) => {
      const c = connectDoc(
        `${base.replace("http", "ws")}/d/${docId}/ws/${docId}?token=${await signDocument(privateKey, docId)}`,
      );
      await c.synced;
      return c;
    };
    const readBack = async (base: string, expected: string) => {
      const c = await connect(base);
      try {
        await until(`the document's text on ${base}`, expected, () => c.doc.getText("body").toString());
      } finally {
        c.close();
      }
      expect(Buffer.from(await downloadAttachment(base, docId, fileToken)).toString()).toBe(
        Buffer.from(attachment).toString(),
      );
    };

    try {
      const old = await deploy("v0.9.6", pinnedTo("v0.9.6"));
      const writer = await connect(old.base);
      writer.doc.getText("body").insert(0, "written by 0.9.6");
      await uploadAttachment(old.base, docId, fileToken, attachment);
      // Nothing waits for a save here: the stop the upgrade makes saves (the chart's preStop hook).
      writer.close();

      const upgraded = await deploy(defaultTag, {});
      console.log(
        `[flux-node] 0.9.6 → ${defaultTag} through a git commit: ${upgraded.seconds.toFixed(0)} s until the new Pod was Ready`,
      );
      await readBack(upgraded.base, "written by 0.9.6");
      const second = await connect(upgraded.base);
      second.doc.getText("body").insert(second.doc.getText("body").length, ", then by the default");
      second.close();

      const rolledBack = await deploy("v0.9.6", pinnedTo("v0.9.6"));
      console.log(`[flux-node] rollback to 0.9.6: ${rolledBack.seconds.toFixed(0)} s until the new Pod was Ready`);
      await readBack(rolledBack.base, "written by 0.9.6, then by the default");
    } finally {
      // The working tree again, for whatever runs next.
      await system.git.publish();
    }
  }, 900_000);
});
