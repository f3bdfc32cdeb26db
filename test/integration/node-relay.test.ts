// The Relay server as users meet it, on the real node, for every server version the
// chart supports (the default, appVersion, and the older ones still pinned): two Yjs
// clients collaborate through it with tokens signed by a key the chart hands it,
// documents survive a restart through S3, a client without a token is refused (or,
// before 0.9.7, let in: the hole the default closes), the open-files limit decides
// how many sockets it holds, bad input fails with a message naming its cause, and
// its logs are plain text at the configured level.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import * as Y from "yjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../scripts/lib/kube.ts";
import { type RelayInstance } from "../../scripts/lib/names.ts";
import { instanceByName } from "../../scripts/lib/instances.ts";
import { anonymousAccessFixedIn, compareVersions, supportedServerVersions } from "../../scripts/lib/server-versions.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { runTool } from "../../scripts/lib/tools.ts";
import { releaseHistory } from "../../scripts/lib/relay-release.ts";
import { deploymentAvailable, noSplitDocuments } from "../../scripts/lib/verify/tenant.ts";
import { detectNodeMode, ensureGoTool, localNofile, type NodeCluster, startNodeCluster } from "../platform/index.ts";
import { runFlow, startFlow } from "../support/flows.ts";
import { genAuth, signDocument as signTokenFor } from "../support/relay-tokens.ts";
import { waitFor } from "../support/wait.ts";
import { closeAll, connectDoc, openMany, until, upgradeStatus } from "../support/yjs-client.ts";
import { type OfficialClient, openOfficial } from "../support/y-sweet.ts";

const exec = promisify(execFile);
const mode = detectNodeMode();
console.log(`[node] ${mode.reason}`);
// CI must prove the node, never skip it: there the missing piece is a failure.
const run = mode.node || process.env.CI === "true";

const relay = instanceByName("personal");
/** Every supported server version, the default (the chart's appVersion) first: each runs every test of what the server does. */
const versions = supportedServerVersions();
const instance = relay.release;
const namespace = "relay";
const authSecret = "relay-personal-auth";
let cluster: NodeCluster;
let kubeconfig: string;
let privateKey = "";
const figures: Record<string, string> = {};

const kubectl = (...args: string[]) => runTool("kubectl", ["--kubeconfig", kubeconfig, ...args]);
const helm = (...args: string[]) => runTool("helm", ["--kubeconfig", kubeconfig, ...args]);

const signDocument = (docId: string) => signTokenFor(privateKey, docId);

/** The node's values (its S3, ClusterIP, our key, quick stops) and a test's override, as files on top of the instance's own. */
function localValues(override: Record<string, unknown>): { files: string[]; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "node-relay-values-"));
  const base = {
    storage: { s3: { endpoint: cluster.node.s3.podUrl } },
    service: { type: "ClusterIP" },
    // The instances ask more open files than this machine's hard limit (20000) allows; a test's override may set another.
    ulimits: { nofile: localNofile },
    // Quick stops here (a save every second, a 2 s preStop pause), except where a test says otherwise.
    relay: { auth: { privateKeySecret: { name: authSecret } }, checkpointFreqSeconds: 1 },
    terminationGracePeriodSeconds: 15,
    preStopSleepSeconds: 0,
  };
  const files = [join(dir, "local.yaml"), join(dir, "override.yaml")];
  writeFileSync(files[0]!, stringify(base));
  writeFileSync(files[1]!, stringify(override));
  return { files, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** helm upgrade --install with the instance's values and a local override. */
async function install(
  release: string,
  override: Record<string, unknown>,
  flags: string[] = ["--wait", "--atomic", "--timeout", "3m"],
): Promise<string> {
  const values = localValues(override);
  try {
    return await helm(
      "upgrade",
      "--install",
      release,
      join(repoRoot, "libs/relay-server"),
      "-f",
      join(repoRoot, relay.valuesFile),
      ...values.files.flatMap((f) => ["-f", f]),
      "--namespace",
      namespace,
      ...flags,
    );
  } finally {
    values.remove();
  }
}

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  status: {
    podIP?: string;
    phase: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      state?: { waiting?: { reason?: string }; terminated?: { exitCode: number } };
      lastState?: { terminated?: unknown };
      restartCount: number;
    }[];
  };
}

async function pods(release: string): Promise<PodJson[]> {
  return (
    JSON.parse(
      await kubectl("-n", namespace, "get", "pods", "-l", `app.kubernetes.io/instance=${release}`, "-o", "json"),
    ) as { items: PodJson[] }
  ).items.filter((p) => !p.metadata.deletionTimestamp);
}

/** The one Ready Pod of a release. */
async function readyPod(release: string): Promise<{ name: string; ip: string }> {
  const ready = (await pods(release)).filter(
    (p) => p.status.conditions?.find((c) => c.type === "Ready")?.status === "True",
  );
  expect(ready, `expected one Ready Pod of ${release}`).toHaveLength(1);
  return { name: ready[0]!.metadata.name, ip: ready[0]!.status.podIP! };
}

const s3Keys = async (bucket: string): Promise<string[]> =>
  (
    await exec("python3", [
      "-c",
      "import boto3,sys; c=boto3.client('s3',endpoint_url=sys.argv[1],region_name='us-east-1',aws_access_key_id='local-node',aws_secret_access_key='local-node-secret'); [print(o['Key']) for o in c.list_objects_v2(Bucket=sys.argv[2]).get('Contents',[])]",
      cluster.node.s3.hostUrl,
      bucket,
    ])
  ).stdout
    .split("\n")
    .filter(Boolean);

/** Load tests: one CPU for the Pod, so accepting sockets measures the limit, not the 100m CPU quota. */
const loadResources = {
  resources: { requests: { cpu: "50m", memory: "256Mi" }, limits: { cpu: "1", memory: "512Mi" } },
};

describe.skipIf(!run)("the Relay server on a real node", () => {
  beforeAll(async () => {
    if (!mode.node) throw new Error(`expected node mode in CI; ${mode.reason}`);
    cluster = await startNodeCluster((line) => console.log(`[node] ${line}`));
    kubeconfig = cluster.server.kubeconfigPath;
    await kubectl("create", "namespace", namespace);
    await kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted");
    const { s3 } = cluster.node;
    await kubectl(
      "-n",
      namespace,
      "create",
      "secret",
      "generic",
      `${instance}-s3-credentials`,
      `--from-literal=accessKey=${s3.accessKeyId}`,
      `--from-literal=secretKey=${s3.secretAccessKey}`,
    );
    // A document-signing key made by the server's own binary, handed to the chart as a Secret.
    privateKey = await genAuth();
    await kubectl(
      "-n",
      namespace,
      "create",
      "secret",
      "generic",
      authSecret,
      `--from-literal=privateKey=${privateKey}`,
    );
  }, 600_000);

  afterAll(async () => {
    await cluster?.stop();
    console.log(`[node] figures: ${JSON.stringify(figures)}`);
  }, 120_000);

  describe.each(versions)("server %s", (version: string) => {
    /** Every install of this block runs `version`: the image the node imported for it. */
    const tag = { image: { tag: `v${version}` } };
    // What the chart and Kubernetes decide alone (the runtime's open-files limit, the wrapper's
    // refusal, an image or Secret that is not there) runs once, on the default version; what the
    // server itself does runs on every version.
    const serverIndependent = version === versions[0];
    const figure = (what: string, value: string) => void (figures[`${version}: ${what}`] = value);

    it("syncs a Y.Text edit between two clients, and serves it from S3 after a rollout restart that saved it", async () => {
      // The chart's own shutdown settings: the restart below is the production one.
      await install(instance, {
        ...tag,
        relay: { logging: { level: "info" }, checkpointFreqSeconds: 10 },
        terminationGracePeriodSeconds: 90,
        preStopSleepSeconds: 5,
      });
      const pod = await readyPod(instance);
      const docId = `doc-${Date.now()}`;
      const url = (ip: string) =>
        signDocument(docId).then((token) => `ws://${ip}:8080/d/${docId}/ws/${docId}?token=${token}`);
      // One after the other: two first connections racing for a document not yet loaded
      // from S3 each make the server load its own copy (two "Loading doc" lines, two save
      // loops), and their edits never meet (seen on this node with 0.9.6; see the report).
      const a = connectDoc(await url(pod.ip));
      await a.synced;
      const b = connectDoc(await url(pod.ip));
      try {
        await b.synced;
        a.doc.getText("body").insert(0, "hello from a");
        await until("client b's text", "hello from a", () => b.doc.getText("body").toString());
      } finally {
        a.close();
        b.close();
      }
      // Recreate, right after the edit: the chart's preStop hook waits one checkpoint (the periodic
      // save writes the edit to S3), then sends SIGINT, on which the server stops (it ignores SIGTERM).
      const restarted = Date.now();
      await kubectl("-n", namespace, "rollout", "restart", `deployment/${instance}-relay-server`);
      await kubectl("-n", namespace, "rollout", "status", `deployment/${instance}-relay-server`, "--timeout=180s");
      const seconds = (Date.now() - restarted) / 1000;
      figure("rollout restart (Recreate) until the new Pod is Ready", `${seconds.toFixed(1)} s`);
      // Killed at the end of its grace period instead, the old Pod alone would take 90 s.
      expect(
        seconds,
        "expected the old Pod to stop on the hook's SIGINT, well before its 90 s grace period",
      ).toBeLessThan(60);
      const keys = await s3Keys(relay.bucket);
      expect(keys).toContain(`${docId}/data.ysweet`);
      const next = await waitFor("the restarted Pod to be Ready", 60_000, () =>
        readyPod(instance).catch(() => undefined),
      );
      expect(next.name).not.toBe(pod.name);
      const c = connectDoc(await url(next.ip), new Y.Doc());
      try {
        await c.synced;
        await until("the new client's text", "hello from a", () => c.doc.getText("body").toString());
      } finally {
        c.close();
      }
    }, 400_000);

    // 0.9.6 gives a WebSocket without a token server permission when [[auth]] keys exist
    // (crates/relay/src/server.rs:1081-1109 of 0.9.6); 0.9.7 refuses it (b15b026b).
    const open = compareVersions(version, anonymousAccessFixedIn) < 0;
    it(
      open
        ? "lets a WebSocket without a token open and write a new document into the bucket (the hole 0.9.7 closed); HTTP without a token gets 401"
        : "answers every request without a token with 401 or 403, WebSocket upgrades included, and writes nothing to the bucket",
      async () => {
        await install(instance, { ...tag, relay: { logging: { level: "info" }, checkpointFreqSeconds: 1 } });
        const pod = await readyPod(instance);
        const base = `${pod.ip}:8080`;
        const docId = `anonymous-${version.replace(/\./g, "-")}-${Date.now()}`;
        const before = await s3Keys(relay.bucket);
        const sockets = Object.fromEntries(
          await Promise.all(
            [`/d/${docId}/ws/${docId}`, `/doc/ws/${docId}`].map(
              async (path) => [path, await upgradeStatus(`ws://${base}${path}`)] as const,
            ),
          ),
        );
        const requests = [
          ["GET", `/d/${docId}/as-update`],
          ["POST", `/d/${docId}/update`],
          ["GET", `/doc/${docId}/as-update`],
          ["POST", `/doc/${docId}/update`],
          ["POST", "/doc/new"],
          ["POST", `/doc/${docId}/auth`],
          ["POST", `/f/${docId}/upload-url`],
          ["GET", `/f/${docId}/download-url`],
          ["GET", `/f/${docId}/history`],
          ["HEAD", `/f/${docId}`],
          ["POST", "/check_store"],
          ["GET", `/d/${docId}/versions`],
        ] as const;
        const http = Object.fromEntries(
          await Promise.all(
            requests.map(async ([method, path]) => {
              const res = await fetch(`http://${base}${path}`, {
                method,
                ...(method === "POST" ? { body: "{}", headers: { "content-type": "application/json" } } : {}),
              });
              await res.arrayBuffer();
              return [`${method} ${path}`, res.status] as const;
            }),
          ),
        );
        figure("status of requests without a token", JSON.stringify({ ...sockets, ...http }).replaceAll(docId, "<id>"));
        for (const [what, status] of Object.entries(http))
          expect([401, 403], `${what} without a token`).toContain(status);
        if (!open) {
          for (const [path, status] of Object.entries(sockets))
            expect([401, 403], `WebSocket ${path} without a token`).toContain(status);
          // Three checkpoints (1 s each): a document the server had taken would be in the bucket by now.
          await new Promise((r) => setTimeout(r, 3_000));
          expect(await s3Keys(relay.bucket)).toEqual(before);
          return;
        }
        expect(Object.values(sockets)).toEqual([101, 101]);
        const anonymous = connectDoc(`ws://${base}/d/${docId}/ws/${docId}`);
        try {
          await anonymous.synced;
          anonymous.doc.getText("body").insert(0, "written without a token");
          const key = await waitFor("the anonymous client's document in the bucket", 30_000, async () =>
            (await s3Keys(relay.bucket)).find((k) => k === `${docId}/data.ysweet`),
          );
          expect(before).not.toContain(key);
        } finally {
          anonymous.close();
        }
      },
      300_000,
    );

    // Up to 0.10.0 two first connections at the same moment each load the document
    // (crates/relay/src/server.rs:629-646 of 0.10.0); fixed in 0.12.0 (cbf9a537).
    it("splits a document two official clients open at the same moment, verify names it, and the edits meet once the clients reconnect one after the other", async () => {
      await install(instance, { ...tag, relay: { logging: { level: "info" }, checkpointFreqSeconds: 1 } });
      const pod = await readyPod(instance);
      const base = `http://${pod.ip}:8080`;
      const open = async (docId: string, doc?: Y.Doc) => {
        const c = openOfficial(base, docId, await signDocument(docId), doc);
        await c.synced;
        return c;
      };
      let split: { docId: string; a: OfficialClient; b: OfficialClient } | undefined;
      let attempts = 0;
      while (!split && attempts < 5) {
        attempts++;
        const docId = `split-${version.replace(/\./g, "-")}-${attempts}-${Date.now()}`;
        const [a, b] = await Promise.all([open(docId), open(docId)]);
        a.doc.getText("body").insert(0, "A");
        b.doc.getText("body").insert(0, "B");
        await new Promise((r) => setTimeout(r, 2_000));
        if (a.text().length === 2 && b.text().length === 2) {
          a.destroy();
          b.destroy();
        } else {
          split = { docId, a, b };
        }
      }
      figure(
        "attempts until two clients at the same moment split a document",
        split ? String(attempts) : "none split in 5",
      );
      expect(
        split,
        "expected two first connections at the same moment to split the document (server up to 0.10.0)",
      ).toBeDefined();
      const { docId, a, b } = split!;
      const client = new KubeClient(cluster.server.kubeConfig, "tenant");
      const deployment = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { namespace, name: `${instance}-relay-server` },
      };
      const check = await noSplitDocuments(client, deployment, relay);
      expect(check.ok, check.detail).toBe(false);
      expect(check.detail).toContain(docId);
      // Both leave; the server saves each copy (the later save wins in S3) and unloads them.
      a.destroy();
      b.destroy();
      await new Promise((r) => setTimeout(r, 5_000));
      const stored = await open(docId);
      figure("what S3 holds of the two copies' edits once both were saved", JSON.stringify(stored.text()));
      stored.destroy();
      // The devices kept their edits: reconnecting one after the other, each merges its own into the one copy.
      const again = [await open(docId, a.doc), await open(docId, b.doc)];
      const reader = await open(docId);
      try {
        await until("a fresh client's text to hold both edits", 2, () => reader.text().length);
        expect([...reader.text()].sort().join("")).toBe("AB");
      } finally {
        [...again, reader].forEach((c) => c.destroy());
      }
    }, 300_000);

    // 0.10.0 adds `relay doc inspect|versions|get|restore` and `relay subdocs index`; the runbook
    // runs them in the Pod, where relay.toml and the S3 credentials already are.
    it.runIf(compareVersions(version, "0.10.0") >= 0)(
      "reads a stored document with `relay doc inspect info` run in the Pod through kubectl exec",
      async () => {
        await install(instance, { ...tag, relay: { logging: { level: "info" }, checkpointFreqSeconds: 1 } });
        const pod = await readyPod(instance);
        // The Relay plugin's document ids are <relay id>-<document id>; the commands take the two parts.
        const relayId = "2d4c5b0e-0f6a-4a57-9c1e-7b1f3f0e2a11";
        const docGuid = `d${Date.now()}`;
        const docId = `${relayId}-${docGuid}`;
        const c = connectDoc(`ws://${pod.ip}:8080/d/${docId}/ws/${docId}?token=${await signDocument(docId)}`);
        try {
          await c.synced;
          c.doc.getText("body").insert(0, "inspect me");
          await waitFor("the document in the bucket", 30_000, async () =>
            (await s3Keys(relay.bucket)).includes(`${docId}/data.ysweet`) ? true : undefined,
          );
        } finally {
          c.close();
        }
        const out = await kubectl(
          "-n",
          namespace,
          "exec",
          pod.name,
          "--",
          "./relay",
          "doc",
          "inspect",
          "info",
          "--relay",
          relayId,
          "--doc",
          docGuid,
        );
        expect(out).toContain(`Source: ${docId}/data.ysweet`);
        expect(out).toMatch(/KV entries:\s+[1-9]/);
      },
      300_000,
    );

    it("writes debug lines and no ANSI escape codes at relay.logging.level debug", async () => {
      await install(instance, { ...tag, relay: { logging: { level: "debug" } } });
      const pod = await readyPod(instance);
      // Some traffic, so the server has something to say at debug.
      const docId = `log-${Date.now()}`;
      const c = connectDoc(`ws://${pod.ip}:8080/d/${docId}/ws/${docId}?token=${await signDocument(docId)}`);
      await c.synced.finally(() => c.close());
      const log = await kubectl("-n", namespace, "logs", pod.name);
      const lines = log.split("\n").filter(Boolean);
      expect(lines.filter((l) => / DEBUG /.test(l)).length).toBeGreaterThan(0);
      expect(lines.filter((l) => l.includes("\x1b["))).toEqual([]);
    }, 300_000);

    it("holds 1,500 concurrent WebSockets with none refused at ulimits.nofile 16384", async () => {
      await install(instance, {
        ...tag,
        ulimits: { nofile: 16384 },
        relay: { logging: { level: "info" } },
        ...loadResources,
      });
      const pod = await readyPod(instance);
      const docId = "load";
      const started = Date.now();
      const result = await openMany(
        `ws://${pod.ip}:8080/d/${docId}/ws/${docId}?token=${await signDocument(docId)}`,
        1500,
        { batch: 100, perSocketMs: 10_000, totalMs: 120_000 },
      );
      figure("held at nofile 16384 (of 1500)", `${result.held} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      closeAll(result.sockets);
      expect({ held: result.held, refused: result.refused }).toEqual({ held: 1500, refused: 0 });
      const log = await kubectl("-n", namespace, "logs", pod.name);
      expect(log).not.toContain("Too many open files");
    }, 400_000);

    it.runIf(serverIndependent)(
      "refuses connections past about 1,000 and logs Too many open files with ulimits.nofile null (the runtime's soft 1024)",
      async () => {
        await install(instance, {
          ...tag,
          ulimits: { nofile: null },
          relay: { logging: { level: "info" } },
          ...loadResources,
        });
        const pod = await readyPod(instance);
        const docId = "load";
        const result = await openMany(
          `ws://${pod.ip}:8080/d/${docId}/ws/${docId}?token=${await signDocument(docId)}`,
          1500,
          { batch: 100, perSocketMs: 5_000, totalMs: 180_000 },
        );
        figure("held at the runtime's soft limit (of 1500)", String(result.held));
        const log = await kubectl("-n", namespace, "logs", pod.name);
        closeAll(result.sockets);
        expect(result.held).toBeGreaterThan(800);
        expect(result.held).toBeLessThan(1100);
        expect(result.refused).toBeGreaterThan(300);
        expect(log).toContain("Too many open files");
      },
      400_000,
    );

    it.runIf(serverIndependent)(
      "stops the Pod at once with the chart's message when ulimits.nofile exceeds the hard limit",
      async () => {
        const hard = Number((await exec("sh", ["-c", "ulimit -Hn"])).stdout.trim());
        expect(hard).toBeGreaterThan(1024);
        const started = Date.now();
        await install(instance, { ...tag, ulimits: { nofile: hard + 1 } }, []);
        const log = await waitFor("the Pod to stop with the chart's message", 120_000, async () => {
          for (const p of await pods(instance)) {
            const text = await kubectl("-n", namespace, "logs", p.metadata.name).catch(() =>
              kubectl("-n", namespace, "logs", p.metadata.name, "--previous").catch(() => ""),
            );
            if (text.includes("cannot set the open-files limit")) return text;
          }
          return undefined;
        });
        figure("nofile above the hard limit: message after", `${((Date.now() - started) / 1000).toFixed(1)} s`);
        expect(log).toContain(
          `cannot set the open-files limit (ulimits.nofile) to ${hard + 1}: the hard limit is ${hard}`,
        );
        // Back to a working release for the tests after this one.
        await install(instance, { ...tag, ulimits: { nofile: 16384 } });
      },
      400_000,
    );

    // The operator's helm is 4.x; Flux's helm-controller (and the pinned one) is helm 3. The flows run with either.
    it.runIf(serverIndependent)(
      "relay-server:upgrade, diff and template run with helm 4 (the operator's own helm) as with helm 3",
      async () => {
        const { binary: helm4 } = await ensureGoTool("helm4");
        const values = localValues({ ...tag, relay: { logging: { level: "info" } } });
        try {
          const args = [
            "--instance",
            "personal",
            ...values.files.flatMap((f) => ["--values", f]),
            "--tenant-kubeconfig",
            kubeconfig,
          ];
          const withHelm4 = { TOOLS_HELM: helm4 };
          const upgrade = await runFlow("relay-helm", ["upgrade", ...args, "--timeout", "3m"], withHelm4);
          expect(upgrade.code, upgrade.all).toBe(0);
          const diff = await runFlow("relay-helm", ["diff", ...args], withHelm4);
          expect(diff.code, diff.all).toBe(0);
          expect(diff.stdout).toMatch(/no change/);
          const template = await runFlow("relay-helm", ["template", ...args], withHelm4);
          expect(template.code, template.all).toBe(0);
          expect(template.stdout).toContain(`image: "docker.system3.md/relay-server:v${version}"`);
          await readyPod(instance);
        } finally {
          values.remove();
        }
      },
      300_000,
    );

    it.runIf(serverIndependent)(
      "on Ctrl-C during relay-server:upgrade says at once that helm rolls back, lets it bring the running revision back, and names the state it left",
      async () => {
        await install(instance, { ...tag });
        const client = new KubeClient(cluster.server.kubeConfig, "tenant");
        const running = (await releaseHistory(client, instance))[0]!;
        expect(running.status).toBe("deployed");
        // A revision whose Pod never gets Ready: helm waits on it when Ctrl-C comes.
        const values = localValues({ image: { repository: "127.0.0.1:1/missing/relay-server", tag: "v0.0.0" } });
        try {
          const flow = startFlow("relay-helm", [
            "upgrade",
            "--instance",
            "personal",
            ...values.files.flatMap((f) => ["--values", f]),
            "--timeout",
            "3m",
            "--tenant-kubeconfig",
            kubeconfig,
          ]);
          await waitFor("helm to wait on the new revision", 120_000, async () =>
            (await releaseHistory(client, instance))[0]?.status === "pending-upgrade" ? true : undefined,
          );
          const interrupted = Date.now();
          flow.process.kill("SIGINT");
          const result = await flow.result;
          figure(
            "Ctrl-C during upgrade until helm's rollback ended",
            `${((Date.now() - interrupted) / 1000).toFixed(1)} s`,
          );
          expect(result.code, result.all).toBe(130);
          const lines = result.stderr.trim().split("\n");
          expect(lines[0]).toMatch(
            /^SIGINT: helm stops the upgrade of relay-personal and undoes it \(--atomic: back to its last deployed revision, .*\); this can take up to 3m \(--timeout\); waiting for it to finish/,
          );
          const [latest] = await releaseHistory(client, instance);
          expect(latest).toMatchObject({ status: "deployed" });
          expect(latest!.revision).toBeGreaterThan(running.revision + 1);
          expect(lines.at(-1)).toContain(
            `stopped helm and waited for it to exit (relay-personal is at revision ${latest!.revision}, deployed)`,
          );
          // The running revision's image is back, Ready.
          const pod = await waitFor("the rolled back Pod to be Ready", 120_000, () =>
            readyPod(instance).catch(() => undefined),
          );
          const image = await kubectl(
            "-n",
            namespace,
            "get",
            "pod",
            pod.name,
            "-o",
            "jsonpath={.spec.containers[0].image}",
          );
          expect(image).not.toContain("missing");
        } finally {
          values.remove();
        }
      },
      400_000,
    );

    describe.each(
      (
        [
          {
            cause: "an image that is not there",
            override: { image: { repository: "127.0.0.1:1/missing/relay-server", tag: "v0.0.0" } },
            reason: /ErrImagePull|ImagePullBackOff/,
            logLines: false,
          },
          {
            cause: "a wrong S3 endpoint",
            override: { storage: { s3: { endpoint: "http://127.0.0.1:1" } } },
            reason: /CrashLoopBackOff/,
            logLines: true,
          },
          {
            cause: "a missing credentials Secret",
            override: { storage: { s3: { existingSecret: "relay-bad-no-such-secret" } } },
            reason: /CreateContainerConfigError.*relay-bad-no-such-secret/,
            logLines: false,
          },
        ] as const
      ).filter((c) => serverIndependent || c.logLines),
    )("bad input: $cause", ({ cause, override, reason, logLines }) => {
      it(`fails relay-server:upgrade with a message naming the cause, and verify's Deployment check shows it (${cause})`, async () => {
        const values = localValues({ ...tag, ...override });
        try {
          // The operator's flow, as moon runs it, with the bad value given through --values.
          const args = [
            "upgrade",
            "--instance",
            "personal",
            ...values.files.flatMap((f) => ["--values", f]),
            "--tenant-kubeconfig",
            kubeconfig,
          ];
          const failed = await runFlow("relay-helm", [...args, "--timeout", "45s"]);
          console.log(`[node] relay-server:upgrade on ${cause}: ${failed.stderr.trim()}`);
          expect(failed.code, failed.all).toBe(3);
          expect(failed.stderr).toMatch(reason);
          if (logLines) expect(failed.stderr).toContain("last lines of its log");
          figure(
            `relay-server:upgrade's message on ${cause}`,
            failed.stderr.trim().replace(/^.*?while helm waited, /, "… "),
          );
          // Without --wait (so without --atomic), the failing Pod stays for verify to look at.
          const kept = await runFlow("relay-helm", [...args, "--no-wait"]);
          expect(kept.code, kept.all).toBe(0);
          const deployment = {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { namespace, name: `${instance}-relay-server` },
          };
          const client = new KubeClient(cluster.server.kubeConfig, "tenant");
          const result = await waitFor(`verify to name the cause of ${cause}`, 120_000, async () => {
            const r = await deploymentAvailable(client, deployment, { release: instance } as RelayInstance);
            return reason.test(r.detail) && (!logLines || r.detail.includes("last lines of its log")) ? r : undefined;
          });
          console.log(`[node] verify on ${cause}: ${result.detail}`);
          expect(result.ok).toBe(false);
        } finally {
          values.remove();
          // Each bad upgrade starts from a working release, as in production.
          await install(instance, { ...tag });
        }
      }, 400_000);
    });
  });
});
