// The data-plane faults on the real node, each with two collaborating clients
// editing throughout: the edits made before, during and after the fault, what the
// server had saved in S3 at the fault, what a fresh client reads back once the
// system is healthy and the Pod restarted, how long collaboration stalled, and what
// the operator saw (verify's lines, the Pod's state). The fault test runs them short
// and asserts the expectations; `npm run faults` runs them full length and writes
// docs/reliability.md from the same rows.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import * as Y from "yjs";
import { KubeClient, type Manifest } from "../../scripts/lib/kube.ts";
import { instanceByName } from "../../scripts/lib/instances.ts";
import { type RelayInstance } from "../../scripts/lib/names.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { splitDocuments } from "../../scripts/lib/split-documents.ts";
import { runTool } from "../../scripts/lib/tools.ts";
import { deploymentAvailable, documentsSaved, noSplitDocuments } from "../../scripts/lib/verify/tenant.ts";
import { localNofile, type NodeCluster } from "../platform/index.ts";
import { type Editing, losses, longestStall, readBack, startEditing } from "./editors.ts";
import { genAuth, signDocument } from "./relay-tokens.ts";
import { copyVersion, enableVersioning, type VersionWatch, watchVersions } from "./s3.ts";
import { waitFor } from "./wait.ts";
import { closeAll, connectDoc, type DocClient, openMany } from "./yjs-client.ts";

/** One fault's figures and what it was held to: a row of docs/reliability.md. */
export interface FaultRow {
  fault: string;
  /** Edits the two clients made before, during and after the fault. */
  made: { before: number; during: number; after: number };
  /**
   * What S3 held at a moment the row names: edits made before then and found there, the age
   * then of the oldest one missing, and how long before then the server had passed it on.
   */
  inS3?: { when: string; saved: number; of: number; oldestLostAgeMs: number; oldestLostHeldMs: number };
  /** Edits read back by a fresh client once the system was healthy and the Pod restarted (the editing clients gone). */
  readBack: { back: number; of: number };
  /** The longest time an edit of one client took to reach the other around the fault. */
  stallMs: number;
  /** verify's lines and the Pod's state during (or right after) the fault. */
  operator: string[];
  expectation: string;
  /** The expectation held (judged once the read-back is in). */
  met: boolean;
  /** What else was seen: timings, a split and the runbook's recovery, the server code behind a loss. */
  notes: string[];
  /** Figures a test asserts beyond the columns. */
  facts: Record<string, number | boolean | string>;
}

export interface FaultSetup {
  cluster: NodeCluster;
  namespace: string;
  /** The instance whose values file, bucket and release name the faults use. */
  instance: RelayInstance;
  checkpointSeconds: number;
  log?: (line: string) => void;
}

/** How much longer than one checkpoint the server may have held an edit lost at a crash: the save under way (a PUT to S3). */
export const saveMarginMs = 1000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  status: {
    phase: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      containerID?: string;
      restartCount: number;
      state?: { waiting?: { reason?: string }; running?: { startedAt?: string } };
      lastState?: { terminated?: { reason?: string; exitCode?: number } };
    }[];
  };
}

export class FaultBench {
  private privateKey = "";
  /** The Service's address: clients reach whichever Pod runs, as through the load balancer. */
  private base = "";
  private readonly kubeconfig: string;
  private readonly client: KubeClient;
  /** Every session's document and row, for the read-back after the Pod restarted. */
  private readonly sessions: { editing: Editing; row: FaultRow; judge: (row: FaultRow) => boolean }[] = [];
  private readonly log: (line: string) => void;

  constructor(private readonly setup: FaultSetup) {
    this.kubeconfig = setup.cluster.server.kubeconfigPath;
    this.client = new KubeClient(setup.cluster.server.kubeConfig, "tenant");
    this.log = setup.log ?? (() => {});
  }

  private kubectl = (...args: string[]) => runTool("kubectl", ["--kubeconfig", this.kubeconfig, ...args]);
  private token = (docId: string) => signDocument(this.privateKey, docId);
  private get ns() {
    return this.setup.namespace;
  }
  private get release() {
    return this.setup.instance.release;
  }
  private get deployment(): Manifest {
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { namespace: this.ns, name: `${this.release}-relay-server` },
    };
  }
  private get s3() {
    return this.setup.cluster.node.s3;
  }
  private get checkpointMs() {
    return this.setup.checkpointSeconds * 1000;
  }
  /** How long the server may have held an edit lost at a crash (passed it on to the other client) at most: one checkpoint and the margin. */
  get lossWindowMs(): number {
    return this.checkpointMs + saveMarginMs;
  }

  /** The namespace, the Secrets (S3, a signing key of ours), a versioned bucket, and the chart installed. */
  async prepare(): Promise<void> {
    // Where the whole system runs, the namespace and the S3 credentials are Flux's and the played operator's already.
    await this.client.apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: this.ns } },
      { fieldManager: "faults" },
    );
    const secret = (name: string, data: Record<string, string>) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: this.ns, name },
      stringData: data,
    });
    const credentials = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: this.ns, name: this.setup.instance.credentialsSecret },
    };
    if (!(await this.client.get(credentials)))
      await this.client.apply(
        secret(credentials.metadata.name, { accessKey: this.s3.accessKeyId, secretKey: this.s3.secretAccessKey }),
        { fieldManager: "faults" },
      );
    this.privateKey = await genAuth();
    await this.client.apply(secret(`${this.release}-auth`, { privateKey: this.privateKey }), {
      fieldManager: "faults",
    });
    // Every save kept: what the server had saved at a given moment can be read back.
    await enableVersioning(this.s3, this.setup.instance.bucket);
    await this.install();
    const svc = JSON.parse(
      await this.kubectl("-n", this.ns, "get", "service", this.deployment.metadata.name, "-o", "json"),
    ) as { spec: { clusterIP: string; ports: { port: number }[] } };
    this.base = `http://${svc.spec.clusterIP}:${svc.spec.ports[0]!.port}`;
  }

  /** helm upgrade --install with the instance's values, the node's (its S3, ClusterIP, our key, metrics, quick saves) and `override`. */
  async install(override: Record<string, unknown> = {}): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "faults-values-"));
    try {
      writeFileSync(
        join(dir, "local.yaml"),
        stringify({
          storage: { s3: { endpoint: this.s3.podUrl } },
          service: { type: "ClusterIP" },
          // The instance's nofile may be above this machine's hard limit: the node's own here.
          ulimits: { nofile: localNofile },
          relay: {
            auth: { privateKeySecret: { name: `${this.release}-auth` } },
            checkpointFreqSeconds: this.setup.checkpointSeconds,
            metrics: { enabled: true },
          },
          // The chart wants the grace period to exceed its pause (a checkpoint and a second) by more than 10 s.
          terminationGracePeriodSeconds: Math.max(20, this.setup.checkpointSeconds + 15),
          preStopSleepSeconds: 0,
        }),
      );
      writeFileSync(join(dir, "override.yaml"), stringify(override));
      const values = [
        join(repoRoot, this.setup.instance.valuesFile),
        join(dir, "local.yaml"),
        join(dir, "override.yaml"),
      ].flatMap((f) => ["-f", f]);
      await runTool("helm", [
        "--kubeconfig",
        this.kubeconfig,
        "upgrade",
        "--install",
        this.release,
        join(repoRoot, "libs/relay-server"),
        ...values,
        "--namespace",
        this.ns,
        "--wait",
        "--timeout",
        "4m",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async pod(): Promise<PodJson | undefined> {
    const pods = (
      JSON.parse(
        await this.kubectl(
          "-n",
          this.ns,
          "get",
          "pods",
          "-l",
          `app.kubernetes.io/instance=${this.release}`,
          "-o",
          "json",
        ),
      ) as { items: PodJson[] }
    ).items;
    return pods.find((p) => !p.metadata.deletionTimestamp);
  }

  private async ready(): Promise<boolean> {
    const pod = await this.pod().catch(() => undefined);
    return pod?.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  }

  /**
   * Waits until the Pod is Ready (with `not`, a container other than that one: a status
   * left from before a crash does not count) and the Service answers: after the node
   * restarted, kube-proxy writes the Service's rules a moment after the Pod is Ready.
   */
  private waitReady(timeoutMs = 360_000, not?: string): Promise<true> {
    return waitFor(
      `the ${this.release} Pod to be Ready${not ? " with a new container" : ""} and its Service to answer`,
      timeoutMs,
      async () => {
        const pod = await this.pod().catch(() => undefined);
        if (not && pod?.status.containerStatuses?.[0]?.containerID === not) return undefined;
        if (!pod?.status.conditions?.some((c) => c.type === "Ready" && c.status === "True")) return undefined;
        return (await fetch(`${this.base}/ready`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.ok,
          () => false,
        ))
          ? true
          : undefined;
      },
    );
  }

  /** The Pod's state as `kubectl get pod` tells it: phase (or why it waits), readiness, restarts and how the last run ended. */
  private async podState(): Promise<string> {
    const pod = await this.pod();
    if (!pod) return "no Pod";
    const s = pod.status.containerStatuses?.[0];
    const ended = s?.lastState?.terminated;
    const ready = pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? "Ready" : "not Ready";
    return `Pod ${s?.state?.waiting?.reason ?? pod.status.phase}, ${ready}, ${s?.restartCount ?? 0} restart(s)${ended ? `, last run ended ${ended.reason} (exit ${ended.exitCode})` : ""}`;
  }

  /** What verify's tenant checks of this relay say, one line each. */
  private async verifyLines(
    which: ("available" | "split" | "saved")[] = ["available", "split", "saved"],
  ): Promise<string[]> {
    const checks = { available: deploymentAvailable, split: noSplitDocuments, saved: documentsSaved };
    const lines: string[] = [];
    for (const w of which) {
      const r = await checks[w](this.client, this.deployment, this.setup.instance);
      lines.push(`${r.skipped ? "-" : r.ok ? "✓" : "✗"} ${r.name}: ${r.detail.replace(/\n\s*/g, " | ")}`);
    }
    return lines;
  }

  /** The S3 request counts by method and outcome on the server's /metrics (0.9.7 and later). */
  private async s3Requests(): Promise<string> {
    const pod = await this.pod();
    const res = await fetch(`http://${pod?.status.podIP}:9090/metrics`, { signal: AbortSignal.timeout(5000) }).catch(
      () => undefined,
    );
    if (!res?.ok) return "/metrics did not answer";
    const counts = (await res.text()).split("\n").filter((l) => l.startsWith("relay_server_s3_requests_total{"));
    return `relay_server_s3_requests_total ${counts.map((l) => l.replace(/^[^{]*\{method="(\w+)",outcome="(\w+)"\} (\d+)$/, "$1 $2: $3")).join(", ")}`;
  }

  private async podLog(): Promise<string> {
    return this.kubectl("-n", this.ns, "logs", (await this.pod())!.metadata.name);
  }

  /** The host pid of the server: the container's first process (the chart's wrapper execs the server). */
  private async serverPid(): Promise<number> {
    const id = (await this.pod())?.status.containerStatuses?.[0]?.containerID;
    if (!id) throw new Error(`expected a running container in the ${this.release} Pod; found none`);
    return this.setup.cluster.node.containerPid(id);
  }

  /** The moment `pid` is gone, checked every 20 ms for at most `timeoutMs`. */
  private deathOf(pid: number, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const until = Date.now() + timeoutMs;
      const timer = setInterval(() => {
        try {
          process.kill(pid, 0);
        } catch {
          clearInterval(timer);
          return resolve(Date.now());
        }
        if (Date.now() > until) {
          clearInterval(timer);
          reject(new Error(`expected the server (pid ${pid}) to die within ${timeoutMs / 1000} s; it did not`));
        }
      }, 20);
    });
  }

  private row(fault: string, expectation: string): FaultRow {
    return {
      fault,
      made: { before: 0, during: 0, after: 0 },
      readBack: { back: 0, of: 0 },
      stallMs: 0,
      operator: [],
      expectation,
      met: false,
      notes: [],
      facts: {},
    };
  }

  /** Two clients editing a new document, every 200 ms each, for two checkpoints before the fault starts. */
  private async edit(name: string): Promise<Editing> {
    const editing = await startEditing({
      base: this.base,
      docId: `${name}-${Date.now()}`,
      token: this.token,
      intervalMs: 200,
    });
    await sleep(2 * this.checkpointMs);
    return editing;
  }

  private count(editing: Editing, row: FaultRow, from: number, to: number): void {
    const edits = editing.edits();
    row.made = {
      before: edits.filter((e) => e.at < from).length,
      during: edits.filter((e) => e.at >= from && e.at < to).length,
      after: edits.filter((e) => e.at >= to).length,
    };
  }

  /**
   * Keeps what S3 held of the document at `at`: the newest version listed by then
   * (`graceMs` later for a dead server: a restarted one needs a start, an edit and a
   * checkpoint before it writes), copied under another id. Returns that id, or
   * undefined when nothing had been saved yet.
   */
  private async keepVersion(
    editing: Editing,
    watch: VersionWatch,
    at: number,
    graceMs: number,
    when: string,
  ): Promise<string | undefined> {
    await sleep(Math.max(0, at + graceMs - Date.now()));
    const key = `${editing.docId}/data.ysweet`;
    const version = watch.latestAt(at + graceMs);
    if (!version) return undefined;
    const copy = `${editing.docId}-${when.replace(/\W+/g, "-")}`;
    await copyVersion(this.s3, this.setup.instance.bucket, key, version, `${copy}/data.ysweet`);
    return copy;
  }

  /** The kept version read back through the (running) server, against the edits made before `at`. */
  private async readKept(
    editing: Editing,
    copy: string | undefined,
    at: number,
    when: string,
  ): Promise<NonNullable<FaultRow["inS3"]>> {
    const held = copy ? await readBack(this.base, copy, await this.token(copy)) : [];
    const loss = losses(editing.edits(), held, at);
    return {
      when,
      saved: loss.readBack,
      of: loss.made,
      oldestLostAgeMs: loss.oldestLostAgeMs,
      oldestLostHeldMs: loss.oldestLostHeldMs,
    };
  }

  /**
   * Waits until both clients hold every edit. When they do not (two clients that
   * reconnected at the same moment got separate copies of the document, servers up
   * to 0.10.0), notes whether verify names the document and applies the runbook's
   * recovery: the clients reconnect one at a time.
   */
  private async settle(editing: Editing, row: FaultRow, waitMs = 20_000): Promise<void> {
    try {
      return await editing.converged(waitMs);
    } catch {
      // A split, or clients still reconnecting: below.
    }
    const named = splitDocuments(await this.podLog()).split.includes(editing.docId);
    row.facts.split = true;
    row.facts.splitNamedByVerify = named;
    row.notes.push(
      named
        ? "the two clients reconnected at the same moment and got separate copies of the document (crates/relay/src/server.rs:629-646 of 0.10.0, fixed in 0.12.0); verify named it; the runbook's recovery (reconnect one at a time) merged them"
        : `the clients had not caught up ${waitMs / 1000} s after the fault (${editing.statuses().join(", ")}); reconnected one at a time`,
    );
    await editing.reconnectOneByOne();
    await editing.converged(60_000);
  }

  /** Editing stops; once the server has acknowledged every edit, the clients go, as devices that close. */
  private async finish(editing: Editing, row: FaultRow, judge: (row: FaultRow) => boolean): Promise<FaultRow> {
    editing.pause();
    await editing.converged(60_000);
    await editing.acknowledged(30_000);
    editing.close();
    this.sessions.push({ editing, row, judge });
    return row;
  }

  private complete = (row: FaultRow) => row.readBack.back === row.readBack.of;
  private withinWindow = (row: FaultRow) => (row.inS3?.oldestLostHeldMs ?? Infinity) <= this.lossWindowMs;

  /** 1. S3 refuses the Pod's connections for `outageMs` while two clients edit; a third client edits and closes meanwhile. */
  async s3Outage(outageMs: number): Promise<FaultRow> {
    const row = this.row(
      `S3 unreachable for ${seconds(outageMs)} while two clients edit`,
      "the server keeps serving; every edit made during the outage is in S3 two checkpoints after S3 is back; verify names the documents not saved",
    );
    const editing = await this.edit("s3-outage");
    const watch = watchVersions(this.s3, this.setup.instance.bucket, `${editing.docId}/data.ysweet`);
    // A device that edits during the outage and closes: the server unloads its document two checkpoints later.
    const leaver = await startEditing({
      base: this.base,
      docId: `s3-outage-leaver-${Date.now()}`,
      token: this.token,
      clients: 1,
      intervalMs: 200,
    });
    try {
      const from = Date.now();
      await this.setup.cluster.node.blockS3();
      await sleep(Math.min(2000, outageMs / 4));
      leaver.close();
      // Seen near the end of the outage, once the leaver's document is unloaded.
      await sleep(Math.max(0, from + outageMs - 1500 - Date.now()));
      row.operator.push(...(await this.verifyLines()), `/metrics: ${await this.s3Requests()}`, await this.podState());
      await sleep(Math.max(0, from + outageMs - Date.now()));
      const to = Date.now();
      await this.setup.cluster.node.unblockS3();
      row.stallMs = longestStall(editing.edits(), from, to);
      const when = "two checkpoints after S3 was back";
      row.inS3 = await this.readKept(
        editing,
        await this.keepVersion(editing, watch, to, 2 * this.checkpointMs + saveMarginMs, when),
        to,
        when,
      );
      this.count(editing, row, from, to);
      const leaverDuring = leaver.edits().filter((e) => e.at >= from);
      const leaverBack = new Set(await readBack(this.base, leaver.docId, await this.token(leaver.docId)));
      const leaverLost = leaverDuring.filter((e) => !leaverBack.has(e.id)).length;
      row.facts.leaverLost = leaverLost;
      row.facts.leaverDuring = leaverDuring.length;
      row.notes.push(
        `a third client that edited during the outage and closed: ${leaverLost} of its ${leaverDuring.length} edits made during the outage were not saved${leaverLost ? " (the server unloaded its document while the save failed and ended its save loop: crates/relay/src/server.rs:515-532 and 556-601 of 0.10.0; they come back only when a device that holds them reconnects)" : ""}`,
      );
    } finally {
      await this.setup.cluster.node.unblockS3();
      await watch.stop();
      leaver.close();
    }
    return this.finish(
      editing,
      row,
      (r) =>
        r.inS3!.saved === r.inS3!.of &&
        this.complete(r) &&
        r.operator.some((l) => l.startsWith("✗") && l.includes("saves documents to S3")),
    );
  }

  /** 2. S3 unreachable when the Pod starts: the server exits at start, and starts once S3 is back. */
  async s3AtStart(outageMs: number): Promise<FaultRow> {
    const row = this.row(
      `S3 unreachable when the Pod starts (for ${seconds(outageMs)})`,
      "the Pod does not become Ready; its state and verify's line name S3; it becomes Ready by itself once S3 is back; nothing lost",
    );
    const editing = await this.edit("s3-at-start");
    const name = this.deployment.metadata.name;
    try {
      // The old Pod stops first (and saves), so the outage meets a start, not a stop.
      await this.kubectl("-n", this.ns, "scale", `deployment/${name}`, "--replicas=0");
      await waitFor("the old Pod to stop", 120_000, async () => ((await this.pod()) ? undefined : true));
      const from = Date.now();
      await this.setup.cluster.node.blockS3();
      await this.kubectl("-n", this.ns, "scale", `deployment/${name}`, "--replicas=1");
      await waitFor("the new Pod to fail its start", 120_000, async () =>
        (await this.pod())?.status.containerStatuses?.[0]?.lastState?.terminated ? true : undefined,
      );
      await sleep(Math.max(0, from + outageMs - Date.now()));
      // verify is read while the container runs a new start (between two back-offs), the
      // state in which it is found most of the time: it must still name S3 from the last run's log.
      await waitFor("the container to run a new start after a failed one", 120_000, async () => {
        const status = (await this.pod())?.status.containerStatuses?.[0];
        return status?.state?.running && status.restartCount > 0 ? true : undefined;
      });
      row.operator.push(...(await this.verifyLines(["available"])), await this.podState());
      const back = Date.now();
      await this.setup.cluster.node.unblockS3();
      await this.waitReady();
      const ready = Date.now();
      row.facts.readyAfterS3BackMs = ready - back;
      row.notes.push(
        `Ready ${seconds(ready - back)} after S3 was back: the kubelet's restart back-off decides (10 s, doubling up to 5 min)`,
      );
      await this.settle(editing, row);
      this.count(editing, row, from, ready);
      row.stallMs = longestStall(editing.edits(), from, ready);
    } finally {
      await this.setup.cluster.node.unblockS3();
    }
    return this.finish(
      editing,
      row,
      (r) =>
        this.complete(r) &&
        /CrashLoopBackOff|Error/.test(r.operator.join(" ")) &&
        /S3|bucket/.test(r.operator[0] ?? ""),
    );
  }

  /** 3. The server killed with SIGKILL, as a crash kills it. */
  async sigkill(): Promise<FaultRow> {
    const row = this.row(
      "the server killed with SIGKILL",
      `every edit the server held longer than one checkpoint (${this.setup.checkpointSeconds} s) plus ${saveMarginMs / 1000} s is in S3 at the kill; the container restarts; nothing lost once the clients reconnect`,
    );
    return this.crash(row, "sigkill", async () => {
      const pid = await this.serverPid();
      process.kill(pid, "SIGKILL");
      return this.deathOf(pid, 10_000);
    });
  }

  /** 4. The server OOM-killed under load: a memory limit of `limit`, and documents of 1 MB opened until the kernel kills it (at most 200). */
  async oom(limit: string): Promise<FaultRow> {
    const row = this.row(
      `OOM kill under load (memory limit ${limit})`,
      `as SIGKILL: every edit the server held longer than one checkpoint plus ${saveMarginMs / 1000} s is in S3 at the kill; the container restarts (OOMKilled) and is Ready again; nothing lost`,
    );
    await this.install({ resources: { requests: { cpu: "50m", memory: limit }, limits: { memory: limit } } });
    const loaders: DocClient[] = [];
    try {
      return await this.crash(row, "oom", async () => {
        const pid = await this.serverPid();
        const death = this.deathOf(pid, 120_000);
        let dead = false;
        void death.then(
          () => (dead = true),
          () => {},
        );
        const big = "x".repeat(1_000_000);
        for (let i = 0; i < 200 && !dead; i++) {
          const docId = `oom-load-${i}-${Date.now()}`;
          const c = connectDoc(
            `${this.base.replace(/^http/, "ws")}/d/${docId}/ws/${docId}?token=${await this.token(docId)}`,
          );
          c.synced.then(
            () => c.doc.getText("body").insert(0, big),
            () => {},
          );
          loaders.push(c);
          await sleep(150);
        }
        loaders.forEach((c) => c.close());
        return death;
      });
    } finally {
      loaders.forEach((c) => c.close());
      await this.install();
    }
  }

  /** 6. The whole node loses power for `offMs` and boots again. */
  async powerCycle(offMs: number): Promise<FaultRow> {
    const row = this.row(
      `the node stopped (every component and Pod killed) for ${seconds(offMs)} and started again`,
      `every edit the server held longer than one checkpoint plus ${saveMarginMs / 1000} s is in S3 at the stop; the relay is Ready again; nothing lost`,
    );
    return this.crash(row, "power-cycle", async () => {
      const death = Date.now();
      await this.setup.cluster.node.powerOff();
      await sleep(offMs);
      const on = Date.now();
      await this.setup.cluster.node.powerOn();
      row.notes.push(`node Ready ${seconds(Date.now() - on)} after it was started`);
      return death;
    });
  }

  /** A crash: `kill` returns the moment the server died; the clients edit throughout. */
  private async crash(row: FaultRow, name: string, kill: () => Promise<number>): Promise<FaultRow> {
    const editing = await this.edit(name);
    const watch = watchVersions(this.s3, this.setup.instance.bucket, `${editing.docId}/data.ysweet`);
    try {
      await sleep(this.checkpointMs);
      const container = (await this.pod())?.status.containerStatuses?.[0]?.containerID;
      const death = await kill();
      const kept = await this.keepVersion(editing, watch, death, 700, "at the kill");
      await this.waitReady(360_000, container);
      const ready = Date.now();
      row.inS3 = await this.readKept(editing, kept, death, "at the kill");
      row.facts.readyAfterMs = ready - death;
      row.notes.push(`Ready ${seconds(ready - death)} after the server died`);
      row.operator.push(...(await this.verifyLines(["available"])), await this.podState());
      await this.settle(editing, row);
      this.count(editing, row, death, ready);
      row.stallMs = longestStall(editing.edits(), death - 1000, ready);
    } finally {
      await watch.stop();
    }
    return this.finish(editing, row, (r) => this.withinWindow(r) && this.complete(r));
  }

  /** 5. The kubelet restarted, and containerd restarted: the clients' WebSockets stay open and the Pod stays Ready. */
  async restart(component: "kubelet" | "containerd"): Promise<FaultRow> {
    const row = this.row(
      `${component} restarted`,
      component === "kubelet"
        ? "the clients' WebSockets stay open; nothing lost; the Pod may read not Ready until its next readiness probe (the kubelet starts each probe worker at Failure, pkg/kubelet/prober/worker.go:116 of v1.34.4)"
        : "the clients' WebSockets stay open and the Pod stays Ready; nothing lost",
    );
    const editing = await this.edit(`restart-${component}`);
    const drops = editing.disconnects();
    let notReady = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples++;
        if (!(await this.ready())) notReady++;
        await sleep(500);
      }
    })();
    const from = Date.now();
    await this.setup.cluster.node.restartComponent(component);
    const back = Date.now();
    // Long enough for the kubelet's probes (every 5 s) to have run again twice.
    await sleep(12_000);
    sampling = false;
    await sampler;
    const to = Date.now();
    row.facts.drops = editing.disconnects() - drops;
    row.facts.notReadySamples = notReady;
    row.notes.push(
      `${component} back in ${seconds(back - from)}; WebSockets dropped: ${row.facts.drops}; Pod not Ready in ${notReady} of ${samples} samples (every 0.5 s for ${seconds(to - from)})`,
    );
    row.operator.push(...(await this.verifyLines(["available"])), await this.podState());
    await this.settle(editing, row);
    this.count(editing, row, from, to);
    row.stallMs = longestStall(editing.edits(), from, to);
    return this.finish(
      editing,
      row,
      (r) => r.facts.drops === 0 && (component === "kubelet" || r.facts.notReadySamples === 0) && this.complete(r),
    );
  }

  /**
   * 7. A reconnect storm: `sockets` clients on one document and `docs` shared documents
   * with `perDoc` clients each are connected; the Pod restarts (a rollout); once it
   * answers, every client reconnects at the same moment. Counts who is back and how
   * fast, refusals, "Too many open files", the documents split into copies, and the
   * edits lost when those copies are saved and the clients are gone.
   */
  async reconnectStorm(opts: { sockets: number; docs: number; perDoc: number }): Promise<FaultRow> {
    const total = opts.sockets + opts.docs * opts.perDoc;
    const row = this.row(
      `reconnect storm: ${total} clients (${opts.sockets} on one document, ${opts.docs} shared documents × ${opts.perDoc}) reconnect at once after a restart`,
      'every client back, none refused, no "Too many open files" at ulimits.nofile 16384 (relay-family\'s resources); verify names every split document',
    );
    // relay-family's resources: the instance meant for many devices.
    const family = parse(readFileSync(join(repoRoot, instanceByName("family").valuesFile), "utf8")) as {
      resources: unknown;
    };
    await this.install({ resources: family.resources });
    const ws = this.base.replace(/^http/, "ws");
    const stormDoc = `storm-${Date.now()}`;
    const stormUrl = `${ws}/d/${stormDoc}/ws/${stormDoc}?token=${await this.token(stormDoc)}`;
    const docIds = Array.from({ length: opts.docs }, (_, i) => `shared-${i}-${Date.now()}`);
    const urls = await Promise.all(docIds.map(async (d) => `${ws}/d/${d}/ws/${d}?token=${await this.token(d)}`));
    // Before: every client connected, one after another on each document, each with one edit.
    const first = await openMany(stormUrl, opts.sockets, { batch: 200, perSocketMs: 20_000, totalMs: 240_000 });
    const docs = docIds.map(() => Array.from({ length: opts.perDoc }, () => new Y.Doc()));
    let clients: DocClient[] = [];
    for (const [d, url] of urls.entries()) {
      for (const [i, doc] of docs[d]!.entries()) {
        const c = connectDoc(url, doc, 30_000);
        await c.synced;
        doc.getArray<string>("edits").push([`c${i}-before`]);
        clients.push(c);
      }
    }
    await sleep(2 * this.checkpointMs + saveMarginMs);
    row.made.before = opts.docs * opts.perDoc;
    closeAll(first.sockets);
    clients.forEach((c) => c.close());
    // The restart, and the moment it answers again.
    const name = this.deployment.metadata.name;
    const old = (await this.pod())!.metadata.name;
    await this.kubectl("-n", this.ns, "rollout", "restart", `deployment/${name}`);
    const restarted = Date.now();
    // The new Pod (Recreate: the old one is gone first), as soon as it answers through the Service.
    await waitFor("the new Pod to answer /ready", 300_000, async () => {
      const pod = await this.pod().catch(() => undefined);
      if (!pod || pod.metadata.name === old || pod.status.phase !== "Running") return undefined;
      return (await fetch(`${this.base}/ready`, { signal: AbortSignal.timeout(1000) }).then(
        (r) => r.ok,
        () => false,
      ))
        ? true
        : undefined;
    });
    const answered = Date.now();
    // Everyone at once.
    const [again, reconnected] = await Promise.all([
      openMany(stormUrl, opts.sockets, { batch: opts.sockets, perSocketMs: 30_000, totalMs: 60_000 }),
      Promise.all(
        urls.flatMap((url, d) =>
          docs[d]!.map(async (doc, i) => {
            const c = connectDoc(url, doc, 30_000);
            const ok = await c.synced.then(
              () => true,
              () => false,
            );
            if (ok) doc.getArray<string>("edits").push([`c${i}-after`]);
            return { c, ok };
          }),
        ),
      ),
    ]);
    // A client whose first try failed tries again, as the plugin's does (here every 0.5 s, at most 10 times).
    const firstTry = { failed: opts.sockets - again.held, errors: again.errors };
    let socketsBack = again.held;
    const sockets = [...again.sockets];
    for (let i = 0; i < 10 && socketsBack < opts.sockets; i++) {
      await sleep(500);
      const retry = await openMany(stormUrl, opts.sockets - socketsBack, {
        batch: opts.sockets,
        perSocketMs: 10_000,
        totalMs: 20_000,
      });
      socketsBack += retry.held;
      sockets.push(...retry.sockets);
    }
    const allBack = Date.now();
    clients = reconnected.map((r) => r.c);
    const docsBack = reconnected.filter((r) => r.ok).length;
    await sleep(3000);
    // A document is split when one of its clients does not hold every client's edit made after the restart.
    const split = docIds.filter((_, d) =>
      docs[d]!.some((doc) => docs[d]!.some((_, i) => !doc.getArray<string>("edits").toArray().includes(`c${i}-after`))),
    );
    row.operator.push(...(await this.verifyLines(["available", "split"])), await this.podState());
    const log = await this.podLog();
    const named = splitDocuments(log).split;
    closeAll(sockets);
    clients.forEach((c) => c.close());
    // Every copy saved (a checkpoint or two), then the Pod restarts with the instance's resources (the chart's
    // stop saves what is loaded): a fresh client reads each document from S3.
    await sleep(2 * this.checkpointMs + saveMarginMs);
    await this.install();
    let lost = 0;
    let beforeLost = 0;
    for (const docId of docIds) {
      const held = await readBack(this.base, docId, await this.token(docId));
      for (let i = 0; i < opts.perDoc; i++) {
        if (!held.includes(`c${i}-after`)) lost++;
        if (!held.includes(`c${i}-before`)) beforeLost++;
      }
    }
    row.made.after = reconnected.filter((r) => r.ok).length;
    row.readBack = { back: row.made.before + row.made.after - lost - beforeLost, of: row.made.before + row.made.after };
    row.stallMs = allBack - restarted;
    Object.assign(row.facts, {
      socketsBack,
      firstTryFailed: firstTry.failed,
      firstTryErrors: firstTry.errors.join("; "),
      docClientsBack: docsBack,
      refused: opts.sockets - socketsBack + (reconnected.length - docsBack),
      backWithinMs: allBack - answered,
      tooManyOpenFiles: log.includes("Too many open files"),
      splitDocs: split.length,
      namedByVerify: split.filter((d) => named.includes(d)).length,
      editsLostOnSplitCopies: lost,
      editsBeforeLost: beforeLost,
    });
    row.notes.push(
      `${socketsBack} of ${opts.sockets} sockets and ${docsBack} of ${reconnected.length} document clients back ${seconds(allBack - answered)} after the server answered (${firstTry.failed} socket(s) needed a second try${firstTry.errors.length ? `: ${firstTry.errors.join("; ")}` : ""}); not back: ${row.facts.refused}; "Too many open files" ${row.facts.tooManyOpenFiles ? "logged" : "not logged"}`,
      `${split.length} of ${opts.docs} shared documents split into copies (verify named ${row.facts.namedByVerify}); ${lost} of ${row.made.after} edits made after the reconnect were lost when the copies were saved and their clients had gone (the later save wins: crates/relay/src/server.rs:629-646 of 0.10.0, fixed in 0.12.0); devices that kept them send them again when they reconnect one at a time`,
    );
    row.met =
      socketsBack === opts.sockets &&
      docsBack === reconnected.length &&
      !row.facts.tooManyOpenFiles &&
      row.facts.namedByVerify === split.length &&
      beforeLost === 0;
    return row;
  }

  /**
   * Restarts the Pod as a rollout does (the chart's stop saves), then a fresh client
   * reads every session's document: what S3 holds. Fills in each row's read-back and
   * judges its expectation.
   */
  async readBackAfterRestart(): Promise<void> {
    const name = this.deployment.metadata.name;
    await this.kubectl("-n", this.ns, "rollout", "restart", `deployment/${name}`);
    await this.kubectl("-n", this.ns, "rollout", "status", `deployment/${name}`, "--timeout=240s");
    await this.waitReady();
    for (const { editing, row, judge } of this.sessions) {
      const loss = losses(editing.edits(), await readBack(this.base, editing.docId, await this.token(editing.docId)));
      row.readBack = { back: loss.readBack, of: loss.made };
      row.met = judge(row);
    }
    this.log(`read back ${this.sessions.length} documents after a restart`);
  }
}
