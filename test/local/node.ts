// A real single-node Kubernetes next to a LocalServer from control-plane.ts:
// controller-manager, scheduler, containerd, a CNI bridge, the kubelet and an
// S3-compatible server (moto) for the Pods, all state in one temp dir.
//
// Teardown survives SIGKILL of the test process: a guard process holds a private
// mount namespace (where containerd and the kubelet run, so their mounts and the
// Pods' network namespaces never reach the host) and, when its stdin closes, runs
// node-cleanup.ts, which kills everything and removes what lives outside that namespace.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { freePorts, type LocalServer } from "./control-plane.ts";
import { type ImageArchive, importImages } from "./images.ts";
import { ensureKubeBinary } from "./kube-binary.ts";
import { type NodeState, processStartTime } from "./node-cleanup.ts";

const exec = promisify(execFile);
const cniDir = "/usr/lib/cni";
const cniPlugins = ["bridge", "host-local", "portmap", "loopback"];
export const nodeName = "local-node";
/** Host paths the kubelet, containerd and CNI use whatever their flags say: in the guard's namespace they are bind mounts into the temp dir. */
const fixedHostPaths = ["/var/lib/kubelet", "/var/lib/cni", "/var/log/pods", "/run/netns", "/run/containerd"];

export interface NodeMode {
  node: boolean;
  /** One line: which mode and why. */
  reason: string;
}

/** Node mode needs Linux, root, and containerd, runc, the CNI plugins and moto installed; otherwise API-only. */
export function detectNodeMode(): NodeMode {
  if (process.platform !== "linux") return { node: false, reason: `API-only mode: a real node needs Linux; this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { node: false, reason: "API-only mode: a real node needs root (containerd, cgroups, network)" };
  const missing = ["containerd", "runc", "ctr", "unshare", "nsenter", "ip", "python3"].filter((tool) => !onPath(tool));
  missing.push(...cniPlugins.filter((p) => !existsSync(join(cniDir, p))).map((p) => join(cniDir, p)));
  if (missing.length > 0) {
    return { node: false, reason: `API-only mode: a real node needs ${missing.join(", ")} (apt-get install containerd runc containernetworking-plugins, see .ci/run)` };
  }
  try {
    execFileSync("python3", ["-c", "import moto.server"], { stdio: "ignore" });
  } catch {
    return { node: false, reason: "API-only mode: a real node needs moto's S3 server for its Pods (pip install 'moto[server]', see .ci/run)" };
  }
  return { node: true, reason: "node mode: Linux, root, containerd, runc, CNI plugins and moto present" };
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => dir && existsSync(join(dir, tool)));
}

export interface LocalS3 {
  /** For Pods: the bridge's gateway address. */
  podUrl: string;
  /** For the test process: loopback, forwarded to the same server. */
  hostUrl: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface LocalNode {
  name: string;
  dir: string;
  /** The guard process's pid: killing it by SIGKILL is not a clean stop, closing its stdin is. */
  guardPid: number;
  podSubnet: string;
  gateway: string;
  s3: LocalS3;
  /** Imports image archives into the node's containerd. */
  importImages(images: readonly ImageArchive[]): Promise<void>;
  /** Resident memory (bytes) of every process of the node: components, shims and Pods. */
  memoryBytes(): number;
  stop(): Promise<void>;
}

export interface NodeOptions {
  /** Images the node's Pods need, imported before the node registers. */
  images: readonly ImageArchive[];
  /** The sandbox ("pause") image among them. */
  pauseImage: string;
  /** Buckets to create in the local S3 server. */
  buckets: readonly string[];
  log?: (line: string) => void;
}

/** Starts a node for `server` (started with `node: true`) and waits until it is Ready. */
export async function startNode(server: LocalServer, opts: NodeOptions): Promise<LocalNode> {
  const log = opts.log ?? (() => {});
  const kube = await ensureKubeBinary();
  const id = randomBytes(3).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), `kube-node-${id}-`));
  const subnet = await freeSubnet();
  const state: NodeState = {
    dir,
    bridge: `kn-${id}`,
    cgroup: `kubepods-local-${id}`,
    containerdAddress: join(dir, "containerd/containerd.sock"),
    fixedHostPaths,
    createdHostPaths: fixedHostPaths.filter((p) => !existsSync(p)),
    kube,
  };
  writeFileSync(join(dir, "node.json"), JSON.stringify(state, null, 2));
  for (const sub of ["pids", "logs", "cni/net.d", "cni/ipam", "containerd", "kubelet/pki", "pod-logs"]) mkdirSync(join(dir, sub), { recursive: true });

  const guard = startGuard(dir);
  const children: ChildProcess[] = [guard];
  let forwarder: Server | undefined;
  const stop = async () => {
    forwarder?.close();
    const exited = new Promise((resolve) => (guard.exitCode !== null ? resolve(null) : guard.once("exit", resolve)));
    guard.stdin?.end();
    const timer = setTimeout(() => guard.kill("SIGKILL"), 60_000);
    await exited;
    clearTimeout(timer);
    if (existsSync(`${dir}.problems`)) {
      const problems = readFileSync(`${dir}.problems`, "utf8").split("\n").join("; ");
      rmSync(`${dir}.problems`, { force: true });
      throw new Error(`expected the node's teardown to leave nothing; it left: ${problems}`);
    }
  };
  try {
    const guardNs = await waitGuardReady(guard, dir);
    const startIn = (name: string, command: string, args: readonly string[], inNamespace: boolean) => {
      const child = startChild(dir, name, inNamespace ? "nsenter" : command, inNamespace ? [`--mount=${guardNs}`, "--", command, ...args] : args);
      children.push(child);
      return child;
    };

    await exec("ip", ["link", "add", "name", state.bridge, "type", "bridge"]);
    await exec("ip", ["addr", "add", `${subnet.gateway}/24`, "dev", state.bridge]);
    await exec("ip", ["link", "set", state.bridge, "up"]);

    const s3Port = (await freePorts(1))[0]!;
    startIn("moto", "python3", ["-m", "moto.server", "-H", subnet.gateway, "-p", String(s3Port)], false);
    const adminKubeconfig = server.kubeconfigPath;
    const common = [
      `--kubeconfig=${adminKubeconfig}`,
      `--authentication-kubeconfig=${adminKubeconfig}`,
      `--authorization-kubeconfig=${adminKubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
    ];
    startIn("controller-manager", kube, [
      "controller-manager",
      ...common,
      "--controllers=*",
      `--service-account-private-key-file=${server.serviceAccountKeyPath}`,
      `--root-ca-file=${server.servingCertPath}`,
      "--use-service-account-credentials=true",
    ], false);
    startIn("scheduler", kube, ["scheduler", ...common], false);
    // kube-proxy (iptables mode) routes ClusterIPs, so Pods reach a Service by its address.
    // It masquerades all Service traffic: the reply of a Pod on the same bridge then goes
    // back through the host, where conntrack undoes the DNAT. It leaves the conntrack
    // sysctls alone (not writable in this user namespace). Teardown runs `proxy --cleanup`.
    const [proxyHealthz, proxyMetrics] = await freePorts(2);
    startIn("proxy", kube, [
      "proxy",
      `--kubeconfig=${adminKubeconfig}`,
      "--proxy-mode=iptables",
      `--hostname-override=${nodeName}`,
      `--cluster-cidr=${subnet.cidr}`,
      "--masquerade-all",
      "--conntrack-max-per-core=0",
      "--conntrack-tcp-timeout-established=0",
      "--conntrack-tcp-timeout-close-wait=0",
      `--healthz-bind-address=127.0.0.1:${proxyHealthz}`,
      `--metrics-bind-address=127.0.0.1:${proxyMetrics}`,
    ], false);

    writeFileSync(join(dir, "containerd/base-spec.json"), await baseRuntimeSpec());
    writeFileSync(join(dir, "containerd/config.toml"), containerdConfig(dir, state.containerdAddress, opts.pauseImage));
    writeFileSync(join(dir, "cni/net.d/10-local.conflist"), JSON.stringify(cniConfig(state.bridge, subnet.cidr, join(dir, "cni/ipam")), null, 2));
    const containerd = startIn("containerd", "containerd", ["--config", join(dir, "containerd/config.toml")], true);
    await waitFor("containerd to answer on its socket", 30_000, containerd, dir, async () => {
      try {
        await exec("ctr", ["--address", state.containerdAddress, "version"]);
        return true;
      } catch {
        return false;
      }
    });
    const importStarted = Date.now();
    await importImages(state.containerdAddress, opts.images);
    log(`imported ${opts.images.length} images in ${((Date.now() - importStarted) / 1000).toFixed(1)} s`);

    for (const controller of readdirSync("/sys/fs/cgroup")) {
      // The kubelet refuses a cgroup root that does not exist in every hierarchy.
      mkdirSync(join("/sys/fs/cgroup", controller, state.cgroup), { recursive: true });
    }
    const [kubeletPort, healthzPort] = await freePorts(2);
    writeFileSync(join(dir, "kubelet/config.yaml"), stringify(kubeletConfig(dir, state, subnet.gateway, kubeletPort!, healthzPort!)));
    const kubelet = startIn("kubelet", kube, [
      "kubelet",
      `--config=${join(dir, "kubelet/config.yaml")}`,
      `--kubeconfig=${adminKubeconfig}`,
      `--root-dir=${join(dir, "kubelet")}`,
      `--cert-dir=${join(dir, "kubelet/pki")}`,
      `--hostname-override=${nodeName}`,
      // No DNS resolves the node's name: the API server dials this address (InternalIP).
      // The kubelet refuses a loopback node IP ("nodeIP can't be loopback address"): the bridge's gateway it is.
      `--node-ip=${subnet.gateway}`,
    ], true);

    const hostS3Port = (await freePorts(1))[0]!;
    forwarder = await forward(hostS3Port, subnet.gateway, s3Port);
    const s3: LocalS3 = {
      podUrl: `http://${subnet.gateway}:${s3Port}`,
      hostUrl: `http://127.0.0.1:${hostS3Port}`,
      region: "us-east-1",
      // moto accepts any key; these are not secrets.
      accessKeyId: "local-node",
      secretAccessKey: "local-node-secret",
    };
    await waitFor("moto's S3 server to answer", 60_000, undefined, dir, async () => (await status(`${s3.hostUrl}/`)) === 200);
    for (const bucket of opts.buckets) {
      const code = await status(`${s3.hostUrl}/${bucket}`, "PUT");
      if (code !== 200) throw new Error(`expected the local S3 server to create bucket ${bucket}; it answered ${code}`);
    }

    const nodeUrl = `${server.url}/api/v1/nodes/${nodeName}`;
    const token = server.kubeConfig.getCurrentUser()?.token ?? "";
    await waitFor(`node ${nodeName} to be Ready`, 180_000, kubelet, dir, async () => nodeReady(nodeUrl, token));

    return {
      name: nodeName,
      dir,
      guardPid: guard.pid!,
      podSubnet: subnet.cidr,
      gateway: subnet.gateway,
      s3,
      importImages: (images) => importImages(state.containerdAddress, images),
      memoryBytes: () => nodeMemory(dir, state),
      stop,
    };
  } catch (error) {
    // Teardown removes the temp dir: keep the components' logs for the one reading the error.
    const kept = `${dir}-logs`;
    cpSync(join(dir, "logs"), kept, { recursive: true });
    await stop().catch(() => {});
    throw new Error(`${(error as Error).message} (logs kept in ${kept})`);
  }
}

/**
 * The guard: `unshare` gives it a private mount namespace; it bind-mounts the
 * fixed host paths into the temp dir, reports ready, waits for stdin to close
 * (our exit, even by SIGKILL) and then runs the cleanup inside that namespace.
 */
function startGuard(dir: string): ChildProcess {
  const script = [
    "set -e",
    `for p in ${fixedHostPaths.join(" ")}; do mkdir -p "$1/host$p" "$p"; mount --bind "$1/host$p" "$p"; done`,
    'echo ready > "$1/guard-ready"',
    "cat > /dev/null || true",
    'exec "$0" --import tsx test/local/node-cleanup.ts "$1"',
  ].join("\n");
  const logFd = openSync(join(dir, "logs/guard.log"), "a");
  const guard = spawn("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", script, process.execPath, dir], {
    cwd: repoRoot,
    stdio: ["pipe", logFd, logFd],
  });
  closeSync(logFd);
  return guard;
}

async function waitGuardReady(guard: ChildProcess, dir: string): Promise<string> {
  await waitFor("the node guard to set up its mount namespace", 10_000, guard, dir, async () => existsSync(join(dir, "guard-ready")));
  const ns = `/proc/${guard.pid}/ns/mnt`;
  if (readlinkSync(ns) === readlinkSync("/proc/self/ns/mnt")) throw new Error("expected the node guard to run in its own mount namespace; it shares ours");
  return ns;
}

function startChild(dir: string, name: string, command: string, args: readonly string[]): ChildProcess {
  const logFd = openSync(join(dir, "logs", `${name}.log`), "a");
  const child = spawn(command, args, { stdio: ["ignore", logFd, logFd], cwd: dir });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error(`expected ${command} to start for the node's ${name}; it did not`);
  // The guard kills exactly these processes (pid and start time, so a reused pid is spared).
  writeFileSync(join(dir, "pids", name), `${child.pid} ${processStartTime(child.pid)}\n`);
  child.once("exit", (code) => writeFileSync(join(dir, "logs", `${name}.exit`), String(code)));
  return child;
}

async function waitFor(what: string, timeoutMs: number, child: ChildProcess | undefined, dir: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`expected ${what}; its process exited with code ${child.exitCode} (logs in ${join(dir, "logs")})`);
    }
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`expected ${what} within ${timeoutMs / 1000} s; it was not (logs in ${join(dir, "logs")})`);
}

/** A 10.x.y.0/24 that neither a route nor an address on this machine uses. */
async function freeSubnet(): Promise<{ cidr: string; gateway: string }> {
  const taken = (await exec("ip", ["-4", "route", "show", "table", "all"])).stdout + (await exec("ip", ["-4", "-o", "addr"])).stdout;
  for (let third = 0; third < 256; third++) {
    const prefix = `10.244.${third}.`;
    if (!taken.includes(prefix)) return { cidr: `${prefix}0/24`, gateway: `${prefix}1` };
  }
  throw new Error("expected a free 10.244.x.0/24 for the node's Pods; all 256 are in use (leftover bridges? see `ip route`)");
}

/**
 * containerd's default OCI spec with the open-files limit production runtimes give a
 * container: soft 1024 (systemd's default, inherited since containerd 2.0 sets no
 * LimitNOFILE), hard the machine's. Without it containers inherit the soft limit of the
 * Go processes between (containerd, shim, runc raise theirs to the hard limit).
 */
async function baseRuntimeSpec(): Promise<string> {
  const spec = JSON.parse((await exec("ctr", ["oci", "spec"])).stdout) as { process: { rlimits?: { type: string; hard: number; soft: number }[] } };
  const hard = Number((await exec("sh", ["-c", "ulimit -Hn"])).stdout.trim()) || 1024;
  spec.process.rlimits = [{ type: "RLIMIT_NOFILE", hard, soft: 1024 }];
  return JSON.stringify(spec, null, 2);
}

function containerdConfig(dir: string, address: string, pauseImage: string): string {
  return `version = 2
root = "${join(dir, "containerd/root")}"
state = "${join(dir, "containerd/state")}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${address}"

[ttrpc]
  address = "${address}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, "containerd/opt")}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # This machine runs in a user namespace: a negative oom_score_adj (the kubelet
  # asks -998 for sandboxes) is refused and every sandbox would fail to start.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniDir}"
    conf_dir = "${join(dir, "cni/net.d")}"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      # Containers start at the soft open-files limit 1024 that production runtimes give them.
      base_runtime_spec = "${join(dir, "containerd/base-spec.json")}"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
`;
}

function cniConfig(bridge: string, cidr: string, ipamDir: string): object {
  return {
    cniVersion: "1.0.0",
    name: bridge,
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        // Pods only talk to the host (S3 on the gateway): no masquerading, no iptables rules to clean up.
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: "host-local", dataDir: ipamDir, ranges: [[{ subnet: cidr }]], routes: [{ dst: "0.0.0.0/0" }] },
      },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "loopback" },
    ],
  };
}

function kubeletConfig(dir: string, state: NodeState, nodeIp: string, port: number, healthzPort: number): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // No systemd as PID 1 here, and a cgroup v1 hierarchy.
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    // Our own cgroup root, so teardown removes this node's Pods' cgroups and no one else's.
    cgroupRoot: `/${state.cgroup}`,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${state.containerdAddress}`,
    enforceNodeAllocatable: [],
    localStorageCapacityIsolation: false,
    // The node IP: on the host's own bridge, never on an outside interface.
    address: nodeIp,
    port,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort,
    podLogsDir: join(dir, "pod-logs"),
    // Host-local only: the API server (logs, port-forward) is the one client meant.
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: "AlwaysAllow" },
    clusterDomain: "cluster.local",
    // The test machine's disk is shared and busy: never evict or collect images for disk pressure.
    evictionHard: { "memory.available": "100Mi" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
  };
}

/** Whether the Node reports Ready; the API server's certificate is self-signed (the kubeconfig skips verification too). */
function nodeReady(url: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => {
        try {
          const node = JSON.parse(body) as { status?: { conditions?: { type: string; status: string }[] } };
          resolve(res.statusCode === 200 && (node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false));
        } catch {
          resolve(false);
        }
      });
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function status(url: string, method = "GET"): Promise<number> {
  try {
    const res = await fetch(url, { method, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Loopback → the S3 server on the gateway, so tests use loopback as everywhere else. */
function forward(port: number, host: string, targetPort: number): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = createConnection(targetPort, host);
    socket.pipe(upstream).pipe(socket);
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** The pids of the node's components (from their pid files), containerd's shims and the Pods' processes. */
export function nodeProcesses(state: NodeState): number[] {
  const pids = new Set<number>();
  const pidDir = join(state.dir, "pids");
  if (existsSync(pidDir)) {
    for (const name of readdirSync(pidDir)) {
      const [pid] = readFileSync(join(pidDir, name), "utf8").split(" ");
      if (existsSync(`/proc/${pid}`)) pids.add(Number(pid));
    }
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(state.dir)) pids.add(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  for (const pid of cgroupProcesses(state.cgroup)) pids.add(pid);
  return [...pids];
}

/** Every pid in this node's cgroup subtree, in any hierarchy. */
export function cgroupProcesses(cgroup: string): number[] {
  const pids = new Set<number>();
  const walk = (path: string, depth: number) => {
    if (depth > 10 || !existsSync(path)) return;
    try {
      for (const line of readFileSync(join(path, "cgroup.procs"), "utf8").split("\n")) if (line) pids.add(Number(line));
      for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) walk(join(path, entry.name), depth + 1);
    } catch {
      // Removed while we walked.
    }
  };
  for (const hierarchy of readdirSync("/sys/fs/cgroup")) walk(join("/sys/fs/cgroup", hierarchy, cgroup), 0);
  return [...pids];
}

function nodeMemory(dir: string, state: NodeState): number {
  let total = 0;
  for (const pid of nodeProcesses({ ...state, dir })) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // Exited.
    }
  }
  return total;
}
