// The capacity section of `npm run bench`: edit latency and memory of the relay
// instances at their own values on the real node, beside the bare server on the
// host and the WebSocket ping floor from the same run; abrupt disconnects; an OOM
// kill. Writes docs/capacity.json and the chart README's sizing table from it, and
// returns the markdown section for docs/bench.md. Every load loop is bounded.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import WebSocket from "ws";
import { parseDocument, stringify } from "yaml";
import * as Y from "yjs";
import { freePorts, localNofile, startNodeCluster } from "../index.ts";
import { relayChartPath, relayNamespace } from "../../../scripts/lib/names.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { defaultServerTag, versionOfTag } from "../../../scripts/lib/server-versions.ts";
import { toolPath } from "../../../scripts/lib/tools.ts";
import {
  editLatency,
  type LatencyLoad,
  pingRoundTrips,
  connectClient,
  type Client,
} from "../../support/edit-latency.ts";
import { tempDir } from "../../support/files.ts";
import { genAuth, relayBinary, signDocument } from "../../support/relay-tokens.ts";
import {
  type CapacityResults,
  capacityResultsFile,
  type InstanceCapacity,
  instanceValues,
  type LatencyRow,
  quantity,
  sizingTable,
  spliceSizing,
} from "../../support/sizing.ts";
import { waitFor } from "../../support/wait.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;

// The load: each active editor types a keystroke every 200 ms (an edit each, as the
// Relay plugin's editor binding sends one per transaction); 300 edits timed per row.
const load = { edits: Number(process.env.CAPACITY_EDITS ?? 300), intervalMs: 200 };
const grid: readonly [editors: number, documents: number][] = [
  [1, 1],
  [1, 20],
  [10, 1],
  [10, 20],
  [50, 1],
  [50, 20],
];
const pings = 200;

// Memory: sockets, small notes and 1 MB notes added one kind after the other on a fresh Pod.
const idleSockets = 2000;
const smallNotes = 200;
const smallNote = "# Groceries\n\n- milk\n- bread\n- apples\n\nAsk about the weekend plans before Friday.\n".repeat(4); // about 300 bytes
const bigNotes = 20;
const bigNote = Array.from(
  { length: 20_000 },
  (_, i) => `Line ${String(i).padStart(5, "0")} of a long note, written once and kept.\n`,
)
  .join("")
  .slice(0, 1_000_000);

// Abrupt disconnects: sockets that end without a close frame, spread over documents
// as devices reopen the same notes; the anchor closes the same number cleanly.
const abruptSockets = 1000;
const abruptDocuments = 20;
// The usage pattern the projection states: every device drops off without a close
// frame (a laptop sleeping, a phone changing networks) this often, holding this many
// sockets (a shared folder or two and the notes open in it).
const pattern = {
  devices: { "relay-personal": 4, "relay-family": 12 } as Record<string, number>,
  dropsPerDevicePerDay: 10,
  socketsPerDrop: 4,
};

const familyNoCpuLimit = "relay-family-nocpulimit";

interface Memory {
  /** Bytes the memory limit counts: the cgroup's usage less its inactive file cache (the kubelet's working set). */
  bytes: number;
  rss: number;
  fds: number;
}

interface Target {
  name: string;
  host: string;
  url(docId: string): Promise<string>;
  memory(): Promise<Memory>;
  /** The container's CFS periods and throttled periods so far (Pods only). */
  cpu?(): Promise<{ periods: number; throttled: number }>;
}

export interface CapacitySection {
  markdown: string;
  results: CapacityResults;
}

/** Runs the whole capacity measurement; writes docs/capacity.json and the chart README's sizing table. */
export async function runCapacity(log: (line: string) => void = console.log): Promise<CapacitySection> {
  const machineBefore = loadavg();
  const version = versionOfTag(defaultServerTag());
  const dir = tempDir("bench-capacity-");
  const cluster = await startNodeCluster();
  const kc = cluster.server.kubeconfigPath;
  const k = async (...args: string[]) =>
    (await run(toolPath("kubectl"), ["--kubeconfig", kc, ...args], { maxBuffer: 64 * MiB })).stdout;
  const helm = (...args: string[]) =>
    run(toolPath("helm"), ["--kubeconfig", kc, ...args], { cwd: repoRoot, maxBuffer: 64 * MiB });
  let bare: ChildProcess | undefined;
  try {
    const key = await genAuth();
    const tokens = new Map<string, Promise<string>>();
    const token = (docId: string) => tokens.get(docId) ?? tokens.set(docId, signDocument(key, docId)).get(docId)!;
    const { s3 } = cluster.node;
    await k("create", "namespace", relayNamespace);
    await k(
      "-n",
      relayNamespace,
      "create",
      "secret",
      "generic",
      "relay-bench-auth",
      `--from-literal=privateKey=${key}`,
    );
    for (const i of instances)
      await k(
        "-n",
        relayNamespace,
        "create",
        "secret",
        "generic",
        i.credentialsSecret,
        `--from-literal=accessKey=${s3.accessKeyId}`,
        `--from-literal=secretKey=${s3.secretAccessKey}`,
      );

    // The instances at their own values; only S3 (the node's), the Service type (no load
    // balancer here), our signing key and the open-files limit (capped here) are local.
    const personal = instances.find((i) => i.name === "personal")!;
    const family = instances.find((i) => i.name === "family")!;
    const nofileHere = (n: number | null) => Math.min(n ?? 1024, localNofile);
    const local = (file: string, values: object) => {
      const path = join(dir, file);
      writeFileSync(path, stringify(values));
      return path;
    };
    const localBase = {
      storage: { s3: { endpoint: s3.podUrl } },
      service: { type: "ClusterIP" },
      relay: { auth: { privateKeySecret: { name: "relay-bench-auth" } } },
    };
    const releases = [
      {
        release: personal.release,
        valuesFile: personal.valuesFile,
        extra: { ulimits: { nofile: nofileHere(instanceValues(personal).nofile) } },
      },
      {
        release: family.release,
        valuesFile: family.valuesFile,
        extra: { ulimits: { nofile: nofileHere(instanceValues(family).nofile) } },
      },
      // Family without its CPU limit (its values file less that one key: helm's schema check refuses a null), on its own prefix of the same bucket.
      {
        release: familyNoCpuLimit,
        valuesFile: withoutCpuLimit(family.valuesFile, join(dir, "family-without-cpu-limit.yaml")),
        extra: {
          ulimits: { nofile: nofileHere(instanceValues(family).nofile) },
          storage: { s3: { prefix: "nocpulimit/" } },
        },
      },
    ];
    log("capacity: installing relay-personal, relay-family and relay-family without its CPU limit");
    await Promise.all(
      releases.map((r) =>
        helm(
          "upgrade",
          "--install",
          r.release,
          relayChartPath,
          "-f",
          r.valuesFile,
          "-f",
          local(`${r.release}-local.yaml`, localBase),
          "-f",
          local(`${r.release}-extra.yaml`, r.extra),
          "--namespace",
          relayNamespace,
          "--wait",
          "--timeout",
          "5m",
        ),
      ),
    );

    const podOf = async (release: string) => {
      const pods = JSON.parse(
        await k("-n", relayNamespace, "get", "pods", "-l", `app.kubernetes.io/instance=${release}`, "-o", "json"),
      ) as { items: PodJson[] };
      const pod = pods.items.find(
        (p) =>
          !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      if (!pod) throw new Error(`expected a Ready Pod of ${release}; found none`);
      return pod;
    };
    const podTarget = async (release: string): Promise<Target> => {
      const pod = await podOf(release);
      const host = `${pod.status.podIP}:8080`;
      return {
        name: release,
        host,
        url: async (docId) => `ws://${host}/d/${docId}/ws/${docId}?token=${await token(docId)}`,
        memory: async () =>
          parseMemory(await k("-n", relayNamespace, "exec", pod.metadata.name, "--", "sh", "-c", memoryScript)),
        cpu: async () =>
          cpuStat(await k("-n", relayNamespace, "exec", pod.metadata.name, "--", "cat", "/sys/fs/cgroup/cpu/cpu.stat")),
      };
    };
    const restart = async (release: string) => {
      await k("-n", relayNamespace, "rollout", "restart", `deployment/${release}-relay-server`);
      await k("-n", relayNamespace, "rollout", "status", `deployment/${release}-relay-server`, "--timeout=180s");
      await waitFor(`a Ready Pod of ${release}`, 60_000, () => podOf(release).catch(() => undefined));
      return podTarget(release);
    };

    // The bare server: the same binary on the host, no Kubernetes and no limits, with an
    // S3 store (the node's S3 on loopback, family's bucket under its own prefix).
    const [port] = await freePorts(1);
    writeFileSync(
      join(dir, "relay.toml"),
      [
        "[server]",
        'host = "127.0.0.1"',
        `port = ${port}`,
        `url = "http://127.0.0.1:${port}"`,
        "checkpoint_freq_seconds = 10",
        "[store]",
        'type = "s3"',
        `bucket = "${family.bucket}"`,
        'region = "us-east-1"',
        `endpoint = "${s3.hostUrl}"`,
        "path_style = true",
        'prefix = "bare/"',
      ].join("\n"),
    );
    bare = spawn("sh", ["-c", 'ulimit -n 16384 && exec "$0" serve', relayBinary(version)], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        NO_COLOR: "1",
        RUST_LOG: "info",
        RELAY_SERVER_AUTH: key,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: s3.region,
      },
      stdio: ["ignore", "ignore", "ignore"],
    });
    const barePid = bare.pid!;
    await waitFor("the bare server to answer /ready", 30_000, async () =>
      (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.ok ? true : undefined,
    );
    const bareTarget: Target = {
      name: "bare",
      host: `127.0.0.1:${port}`,
      url: async (docId) => `ws://127.0.0.1:${port}/d/${docId}/ws/${docId}?token=${await token(docId)}`,
      memory: async () => {
        const status = readFileSync(`/proc/${barePid}/status`, "utf8");
        const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
        return {
          bytes: rss,
          rss,
          fds: Number(execFileSync("sh", ["-c", `ls /proc/${barePid}/fd | wc -l`], { encoding: "utf8" }).trim()),
        };
      },
    };

    // 1 and 2. Edit latency, every target in turn for each row, and the ping floor.
    const targets = [
      bareTarget,
      await podTarget(family.release),
      await podTarget(familyNoCpuLimit),
      await podTarget(personal.release),
    ];
    const ping: CapacityResults["ping"] = {};
    for (const t of targets) {
      const p = await pingRoundTrips(await t.url("ping"), pings);
      ping[t.name] = { median: p.median, p95: p.p95, p99: p.p99 };
    }
    const latency: LatencyRow[] = [];
    const runId = Date.now().toString(36);
    for (const [row, [editors, documents]] of grid.entries()) {
      // The targets take turns, starting one further each row, so none always follows the same one.
      for (const t of [...targets.slice(row % targets.length), ...targets.slice(0, row % targets.length)]) {
        const started = performance.now();
        const before = await t.cpu?.();
        const r = await editLatency(t, `lat-${runId}-${editors}x${documents}-${t.name}`, {
          editors,
          documents,
          ...load,
        } satisfies LatencyLoad);
        const after = await t.cpu?.();
        const throttled =
          before && after
            ? { periods: after.periods - before.periods, throttled: after.throttled - before.throttled }
            : undefined;
        latency.push({ target: t.name, editors, documents, ...r, ...(throttled ? { throttled } : {}) });
        log(
          `capacity: ${t.name}, ${editors} editors on ${documents} documents: p50 ${r.median.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.lost} lost${throttled ? `, throttled ${throttled.throttled} of ${throttled.periods} periods` : ""} (${((performance.now() - started) / 1000).toFixed(0)} s)`,
        );
      }
    }
    bare.kill("SIGKILL");
    bare = undefined;

    // 3. Memory on a fresh family Pod: idle sockets, then small notes, then 1 MB notes, each note held by one client.
    log("capacity: memory per socket and per open note");
    let fam = await restart(family.release);
    await sleep(5_000);
    const idle = await fam.memory();
    // One client loads the note first: thousands of first connections at once would load it several times (up to 0.10.0).
    const first = connectClient(await fam.url("idle"), { applyRemote: true });
    await first.synced;
    await sleep(2_000);
    const oneNote = await fam.memory();
    const sockets = await openSockets(await fam.url("idle"), idleSockets);
    await sleep(3_000);
    const withSockets = await fam.memory();
    const small = await openNotes(fam, `small-${runId}`, smallNotes, smallNote);
    await sleep(3_000);
    const withSmall = await fam.memory();
    const big = await openNotes(fam, `big-${runId}`, bigNotes, bigNote);
    await sleep(5_000);
    const withBig = await fam.memory();
    closeCleanly(sockets);
    for (const c of [first, ...small, ...big]) c.close();
    const perConnection = (withSockets.bytes - oneNote.bytes) / idleSockets;
    const memory: CapacityResults["memory"] = {
      measuredOn: family.release,
      idleMiB: idle.bytes / MiB,
      perConnectionKiB: perConnection / 1024,
      perSmallNoteKiB: (withSmall.bytes - withSockets.bytes - smallNotes * perConnection) / smallNotes / 1024,
      perBigNoteMiB: (withBig.bytes - withSmall.bytes - bigNotes * perConnection) / bigNotes / MiB,
      smallNoteBytes: Buffer.byteLength(smallNote),
      bigNoteBytes: Buffer.byteLength(bigNote),
    };

    // 4. Abrupt disconnects on a fresh family Pod, in rounds of the same size: two rounds closed
    // cleanly (the anchor: the second reuses what the first gave back), then two ended without a
    // close frame. What the second round of each kind adds is the steady-state cost of one more.
    log("capacity: abrupt disconnects");
    fam = await restart(family.release);
    await sleep(5_000);
    const abruptIdle = await fam.memory();
    const round = async (kind: "clean" | "abrupt", n: number) => {
      const prefix = `${kind}${n}-${runId}`;
      const clients = await syncedClients(fam, prefix, abruptSockets, abruptDocuments);
      for (const c of clients) kind === "clean" ? c.close() : c.drop();
      await sleep(35_000); // three 10 s checkpoints: the server unloads a note two checkpoints after its last client left
      return { prefix, memory: await fam.memory() };
    };
    const rounds = [
      await round("clean", 1),
      await round("clean", 2),
      await round("abrupt", 1),
      await round("abrupt", 2),
    ] as const;
    const logText = await k("-n", relayNamespace, "logs", (await podOf(family.release)).metadata.name);
    const roundResult = (r: (typeof rounds)[number], prev: Memory) => ({
      memoryMiB: r.memory.bytes / MiB,
      fds: r.memory.fds,
      documentsLoaded: countLoaded(logText, r.prefix),
      addedKiBPerSocket: (r.memory.bytes - prev.bytes) / abruptSockets / 1024,
      addedFdsPerSocket: (r.memory.fds - prev.fds) / abruptSockets,
    });
    const abrupt: CapacityResults["abrupt"] = {
      release: family.release,
      socketsPerRound: abruptSockets,
      documents: abruptDocuments,
      idle: { memoryMiB: abruptIdle.bytes / MiB, fds: abruptIdle.fds },
      rounds: [
        roundResult(rounds[0], abruptIdle),
        roundResult(rounds[1], rounds[0].memory),
        roundResult(rounds[2], rounds[1].memory),
        roundResult(rounds[3], rounds[2].memory),
      ],
      perSocketKiB: (rounds[3].memory.bytes - rounds[2].memory.bytes) / abruptSockets / 1024,
      fdsPerSocket: (rounds[3].memory.fds - rounds[2].memory.fds) / abruptSockets,
    };

    // 3 (cont.). What happens at the memory limit: 1 MB notes on personal until its Pod is killed.
    log("capacity: relay-personal up to its memory limit");
    const pers = await restart(personal.release);
    await sleep(5_000);
    const persIdle = await pers.memory();
    const persLimit = quantity(instanceValues(personal).memoryLimit);
    const projected = Math.floor((persLimit - persIdle.bytes) / (memory.perBigNoteMiB * MiB + perConnection));
    const oom = await untilKilled(
      pers,
      k,
      await podOf(personal.release),
      `oom-${runId}`,
      Math.ceil(projected * 2) + 10,
    );
    for (const c of oom.clients) c.drop();

    const instanceCapacity = (release: string, idleBytes: number): InstanceCapacity => {
      const inst = instances.find((i) => i.release === release)!;
      const values = instanceValues(inst);
      const limit = quantity(values.memoryLimit);
      const free = limit - idleBytes;
      const leakedSocketsPerDay = pattern.devices[release]! * pattern.dropsPerDevicePerDay * pattern.socketsPerDrop;
      return {
        name: inst.name,
        release,
        values,
        nofileHere: nofileHere(values.nofile),
        idleMiB: idleBytes / MiB,
        connectionsAtMemoryLimit: free / perConnection,
        smallNotesAtMemoryLimit: free / (memory.perSmallNoteKiB * 1024 + perConnection),
        bigNotesAtMemoryLimit: free / (memory.perBigNoteMiB * MiB + perConnection),
        leakedSocketsPerDay,
        daysToMemoryLimit: free / (leakedSocketsPerDay * abrupt.perSocketKiB * 1024),
        // The instance's own nofile (production's), not the one capped here.
        daysToNofile: (values.nofile ?? 1024) / (leakedSocketsPerDay * Math.max(abrupt.fdsPerSocket, 1e-9)),
      };
    };
    const results: CapacityResults = {
      date: new Date().toISOString().slice(0, 10),
      server: version,
      machineLoad: {
        before: machineBefore.map((l) => Number(l.toFixed(2))),
        after: loadavg().map((l) => Number(l.toFixed(2))),
      },
      load,
      latency,
      ping,
      memory,
      oom: {
        release: personal.release,
        limit: instanceValues(personal).memoryLimit,
        projectedBigNotes: projected,
        bigNotesWhenKilled: oom.killedAt,
        reason: oom.reason,
      },
      abrupt,
      pattern,
      instances: [instanceCapacity(personal.release, persIdle.bytes), instanceCapacity(family.release, idle.bytes)],
    };
    // A shortened run (CAPACITY_EDITS) is for development: it prints, and writes nothing.
    if (process.env.CAPACITY_EDITS) log(`${sizingTable(results)}\n${JSON.stringify(results)}`);
    else writeResults(results);
    return { results, markdown: section(results) };
  } finally {
    bare?.kill("SIGKILL");
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A copy of a values file without resources.limits.cpu; returns its path. */
function withoutCpuLimit(valuesFile: string, path: string): string {
  const doc = parseDocument(readFileSync(join(repoRoot, valuesFile), "utf8"));
  if (!doc.hasIn(["resources", "limits", "cpu"]))
    throw new Error(`expected ${valuesFile} to set resources.limits.cpu; it does not`);
  doc.deleteIn(["resources", "limits", "cpu"]);
  writeFileSync(path, String(doc));
  return path;
}

/** docs/capacity.json and the chart README's sizing table, written only on change. */
function writeResults(results: CapacityResults): void {
  const file = join(repoRoot, capacityResultsFile);
  writeIfChanged(file, `${JSON.stringify(results, null, 2)}\n`);
  const readme = join(repoRoot, relayChartPath, "README.md");
  writeIfChanged(readme, spliceSizing(readFileSync(readme, "utf8"), sizingTable(results)));
}

function writeIfChanged(file: string, text: string): void {
  let old: string | undefined;
  try {
    old = readFileSync(file, "utf8");
  } catch {
    // New file.
  }
  if (old === text) return;
  writeFileSync(`${file}.tmp`, text);
  execFileSync("mv", [`${file}.tmp`, file]);
}

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  status: {
    podIP: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number; lastState?: { terminated?: { reason?: string } } }[];
  };
}

// What the Pod's memory limit counts (cgroup v1 as on this node: usage less inactive file
// cache, the kubelet's working set), the server's RSS and its open files.
const memoryScript = [
  "cat /sys/fs/cgroup/memory/memory.usage_in_bytes",
  "grep -E '^total_inactive_file ' /sys/fs/cgroup/memory/memory.stat | cut -d' ' -f2",
  "grep VmRSS /proc/1/status | tr -s ' ' | cut -d' ' -f2",
  "ls /proc/1/fd | wc -l",
].join("; ");

function parseMemory(out: string): Memory {
  const [usage, inactive, rssKiB, fds] = out.trim().split("\n").map(Number) as [number, number, number, number];
  return { bytes: usage - inactive, rss: rssKiB * 1024, fds };
}

/** nr_periods and nr_throttled of a cgroup v1 cpu.stat. */
function cpuStat(out: string): { periods: number; throttled: number } {
  const get = (key: string) => Number(new RegExp(`^${key} (\\d+)`, "m").exec(out)?.[1] ?? 0);
  return { periods: get("nr_periods"), throttled: get("nr_throttled") };
}

/** Documents loaded and not unloaded, from the server's log: "Loading doc" lines less "GCing doc" lines of each id. */
function countLoaded(logText: string, prefix: string): number {
  const loaded = new Set<string>();
  for (const line of logText.split("\n")) {
    const id = /doc_id="?([^"\s}]+)/.exec(line)?.[1];
    if (!id?.startsWith(prefix)) continue;
    if (line.includes("Loading doc")) loaded.add(id);
    if (line.includes("GCing doc")) loaded.delete(id);
  }
  return loaded.size;
}

/** `count` plain WebSockets to one document, 200 at a time, bounded in time. */
async function openSockets(url: string, count: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  const deadline = Date.now() + 120_000;
  for (let i = 0; i < count && Date.now() < deadline; i += 200) {
    await Promise.all(
      Array.from(
        { length: Math.min(200, count - i) },
        () =>
          new Promise<void>((resolve) => {
            const ws = new WebSocket(url, { handshakeTimeout: 10_000 });
            sockets.push(ws);
            ws.once("open", () => resolve());
            ws.once("error", () => resolve());
          }),
      ),
    );
  }
  const open = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  if (open < count) throw new Error(`expected ${count} WebSockets to open for the memory figure; ${open} did`);
  return sockets;
}

function closeCleanly(sockets: WebSocket[]): void {
  for (const s of sockets) s.close();
}

/** `count` notes `prefix-<n>`, each written with `text` by one client that stays connected. */
async function openNotes(target: Target, prefix: string, count: number, text: string): Promise<Client[]> {
  const clients: Client[] = [];
  const deadline = Date.now() + 180_000;
  for (let n = 0; n < count && Date.now() < deadline; n++) {
    const doc = new Y.Doc();
    doc.getText("body").insert(0, text);
    const c = connectClient(await target.url(`${prefix}-${n}`), { doc, applyRemote: true });
    clients.push(c);
    await c.synced;
  }
  if (clients.length < count)
    throw new Error(`expected ${count} notes open within 180 s for the memory figure; ${clients.length} were`);
  return clients;
}

/** `count` synced clients over `documents` documents (the first of each alone, so none is loaded twice). */
async function syncedClients(target: Target, prefix: string, count: number, documents: number): Promise<Client[]> {
  const clients: Client[] = [];
  for (let d = 0; d < documents; d++) {
    const first = connectClient(await target.url(`${prefix}-${d}`), { applyRemote: true });
    await first.synced;
    first.doc.getText("body").insert(0, smallNote);
    clients.push(first);
  }
  const deadline = Date.now() + 180_000;
  for (let i = documents; i < count && Date.now() < deadline; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, (_, j) =>
      target.url(`${prefix}-${(i + j) % documents}`).then((url) => connectClient(url, { applyRemote: false })),
    );
    const opened = await Promise.all(batch);
    await Promise.all(opened.map((c) => c.synced));
    clients.push(...opened);
  }
  if (clients.length < count) throw new Error(`expected ${count} clients synced within 180 s; ${clients.length} were`);
  return clients;
}

/** Opens 1 MB notes one after another until the Pod's container restarts (or `max` notes); returns how many were sent and why it stopped. */
async function untilKilled(
  target: Target,
  k: (...a: string[]) => Promise<string>,
  pod: PodJson,
  prefix: string,
  max: number,
): Promise<{ killedAt: number | null; reason: string; clients: Client[] }> {
  const clients: Client[] = [];
  const deadline = Date.now() + 240_000;
  const state = async () =>
    ((JSON.parse(await k("-n", relayNamespace, "get", "pod", pod.metadata.name, "-o", "json")) as PodJson).status
      .containerStatuses ?? [])[0];
  const killed = async () => {
    const s = await state();
    return (s?.restartCount ?? 0) > 0 ? (s?.lastState?.terminated?.reason ?? "restarted") : undefined;
  };
  while (clients.length < max && Date.now() < deadline) {
    const doc = new Y.Doc();
    doc.getText("body").insert(0, bigNote);
    const c = connectClient(await target.url(`${prefix}-${clients.length}`), { doc, applyRemote: true });
    clients.push(c);
    await c.synced.catch(() => undefined);
    await sleep(500); // the server merges the note after answering the sync
    const reason = await killed();
    if (reason) return { killedAt: clients.length, reason, clients };
  }
  const reason = await waitFor(
    "the container's state after the last note",
    30_000,
    async () => (await killed()) ?? ((await state()) ? "" : undefined),
  );
  return reason
    ? { killedAt: clients.length, reason, clients }
    : { killedAt: null, reason: `not killed after ${clients.length} notes`, clients };
}

export const sectionHeading = "## Capacity and edit latency";

/** Where docs/bench.md's capacity section starts, and where the next section starts (-1: it runs to the end); start -1 when it has none. */
function sectionBounds(bench: string): { start: number; next: number } {
  const start = bench.indexOf(sectionHeading);
  return { start, next: start < 0 ? -1 : bench.indexOf("\n## ", start + sectionHeading.length) };
}

/** The capacity section docs/bench.md has now (empty when it has none): what BENCH_SKIP=capacity keeps. */
export function benchSectionOf(bench: string): string {
  const { start, next } = sectionBounds(bench);
  return start < 0 ? "" : bench.slice(start, next < 0 ? undefined : next + 1);
}

/** docs/bench.md with its capacity section (from its heading to the next `## ` or the end) replaced by `markdown`, or appended. */
export function spliceBenchSection(bench: string, markdown: string): string {
  const { start, next } = sectionBounds(bench);
  if (start < 0) return `${bench.trimEnd()}\n\n${markdown}`;
  return `${bench.slice(0, start)}${markdown}${next < 0 ? "" : `\n${bench.slice(next + 1)}`}`;
}

const f = (n: number) => (n < 10 ? n.toFixed(1) : n.toFixed(0));
const labels: Record<string, string> = {
  bare: "bare server on the host",
  "relay-family": "relay-family (CPU limit 500m)",
  [familyNoCpuLimit]: "relay-family without a CPU limit",
  "relay-personal": "relay-personal (CPU limit 100m)",
};

/** The bench section: every figure beside its anchor from the same run. */
function section(r: CapacityResults): string {
  const bareRow = (e: number, d: number) =>
    r.latency.find((x) => x.target === "bare" && x.editors === e && x.documents === d)!;
  const latencyRows = r.latency
    .filter((x) => x.target !== "bare")
    .map((x) => {
      const b = bareRow(x.editors, x.documents);
      const ratio = x.p99 / b.p99;
      const targeted = x.target === "relay-family";
      const throttled =
        x.throttled && x.throttled.periods
          ? `, throttled ${x.throttled.throttled} of ${x.throttled.periods} periods`
          : "";
      return `| ${x.editors} × ${x.documents} | ${labels[x.target] ?? x.target} | ${f(x.median)} / ${f(x.p95)} / ${f(x.p99)} ms${x.lost ? `, **${x.lost} lost**` : ""} (${x.rate.toFixed(0)} edits/s${throttled}) | ${f(b.median)} / ${f(b.p95)} / ${f(b.p99)} ms (${b.rate.toFixed(0)} edits/s) | ${ratio.toFixed(2)}× | ${targeted ? "≤ 2×" : "reported"} | ${targeted ? (ratio <= 2 && x.lost === 0 ? "yes" : "**no**") : "–"} |`;
    });
  const pingRows = Object.entries(r.ping)
    .filter(([t]) => t !== "bare")
    .map(
      ([t, p]) =>
        `| ping | WebSocket ping to ${labels[t] ?? t} (the floor) | ${f(p.median)} / ${f(p.p95)} / ${f(p.p99)} ms | to the bare server on loopback: ${f(r.ping.bare!.median)} / ${f(r.ping.bare!.p95)} / ${f(r.ping.bare!.p99)} ms | ${(p.p99 / r.ping.bare!.p99).toFixed(2)}× | reported | – |`,
    );
  const m = r.memory;
  const a = r.abrupt;
  const memoryRows = [
    `| Pod memory, idle (fresh Pod, nothing open) | ${m.idleMiB.toFixed(1)} MiB | | |`,
    `| per idle WebSocket (${idleSockets.toLocaleString("en-US")} on one note) | ${m.perConnectionKiB.toFixed(1)} KiB | | |`,
    `| per open small note (${m.smallNoteBytes} bytes, ${smallNotes} notes, one client each, its socket subtracted) | ${m.perSmallNoteKiB.toFixed(1)} KiB | | |`,
    `| per open 1 MB note (${bigNotes} notes of ${m.bigNoteBytes.toLocaleString("en-US")} bytes, one client each, its socket subtracted) | ${m.perBigNoteMiB.toFixed(2)} MiB | | |`,
    `| relay-personal (limit ${r.oom.limit}): 1 MB notes opened until the Pod's memory limit | ${r.oom.bigNotesWhenKilled ?? "none"} notes, then ${r.oom.reason} | projected from the figures above: ${r.oom.projectedBigNotes} | ${r.oom.bigNotesWhenKilled ? (r.oom.bigNotesWhenKilled / Math.max(r.oom.projectedBigNotes, 1)).toFixed(2) + "×" : "–"} |`,
    ...a.rounds.map((x, n) => {
      const kind = n < 2 ? "closed with a close frame (the anchor)" : "ended without a close frame";
      return `| round ${n + 1}: ${a.socketsPerRound.toLocaleString("en-US")} synced clients on ${a.documents} notes, ${kind}, three checkpoints later | ${x.memoryMiB.toFixed(1)} MiB, ${x.fds} open files, ${x.documentsLoaded} of ${a.documents} notes still loaded | ${n === 0 ? `fresh Pod: ${a.idle.memoryMiB.toFixed(1)} MiB, ${a.idle.fds} open files` : `round ${n}`} | ${x.addedKiBPerSocket >= 0 ? "+" : ""}${x.addedKiBPerSocket.toFixed(1)} KiB and ${x.addedFdsPerSocket >= 0 ? "+" : ""}${x.addedFdsPerSocket.toFixed(2)} open files per socket |`;
    }),
    ...r.instances.map(
      (i) =>
        `| ${i.release} (memory limit ${i.values.memoryLimit}, nofile ${i.nofileHere} here): running time until a limit with ${r.pattern.devices[i.release]} devices each dropping ${r.pattern.dropsPerDevicePerDay}× a day with ${r.pattern.socketsPerDrop} sockets open | memory limit in ${i.daysToMemoryLimit.toFixed(0)} days, open files in ${i.daysToNofile.toFixed(0)} days | (${i.leakedSocketsPerDay} sockets leaked a day) | |`,
    ),
  ];
  return `${sectionHeading}

Server ${r.server} (the chart's default) on the real node, each instance at its own values; only S3 (the node's), the Service type (ClusterIP), the signing key and the open-files limit (${r.instances.map((i) => `${i.release} asks ${i.values.nofile}`).join(", ")}; this machine caps every process's hard limit at 20000, so the Pods run with ${r.instances[0]?.nofileHere} here) are local. Load average at the start ${r.machineLoad.before.join(", ")}, at the end ${r.machineLoad.after.join(", ")} (1, 5, 15 min; 2 cores shared with other work).

| editors × notes | where | p50 / p95 / p99 | anchor: the bare server, same load, same run | p99 ratio | target | met |
|---|---|---|---|---|---|---|
${[...pingRows, ...latencyRows].join("\n")}

| memory | figure | anchor (same run) | ratio |
|---|---|---|---|
${memoryRows.join("\n")}

- Edit latency: client A (an editor) applies an edit, client B (an observer of the same note) receives it; A's send to B's receipt, in one process on the host, over the node's bridge to the Pod's IP (loopback for the bare server). Each active editor types one edit every ${r.load.intervalMs} ms (one keystroke, as the Relay plugin's editor binding sends one update per transaction), editors round-robin over the notes, one observer per note; ${r.load.edits} edits timed per row after two warm-up edits per editor. Editors drop what the server relays to them (the server still sends every byte), so the load generator's time goes to timing. Each row uses fresh notes; every client leaves with a close frame. The four targets take turns row by row, so each row and its anchor ran within a minute of each other.
- The bare server is the same binary on the host (no Kubernetes, no limits, nofile 16384) with an S3 store (the node's S3 on loopback), checkpoint every 10 s as the instances.
- Throttled: the CFS periods (100 ms each) in which the Pod's CPU limit stopped the server, of those in which it ran, during the row (the container's cpu.stat).
- Memory is what the Pod's memory limit counts: the container cgroup's usage less its inactive file cache (the kubelet's working set), read in the Pod; the bare server's is its RSS. Per-item figures come from one fresh relay-family Pod with the items added one kind after the other; the projections in the sizing table (chart README) divide each instance's free memory (limit less its idle Pod) by them. A note needs at least one socket, so a note's figure is counted with one.
- Abrupt disconnects: the server keeps a socket that ended without a close frame, and its note loaded, until it stops (up to 0.12.0; \`crates/relay/src/server.rs:1235-1281\` of 0.10.0: the \`Some(msg) = stream.next()\` branch stops matching once the stream ends, so the loop waits for server shutdown only, holding the connection and with it the document; the writer task at 1209-1213 keeps the socket's other half open). The clients end their TCP connections without a close frame (\`ws.terminate()\`), as a sleeping laptop or a phone changing networks does. The anchor is the same number of sockets closed with a close frame on the same Pod just before.
`;
}
