// What the node's actions share: its temp dir and the state teardown reads, its
// addresses and ports (chosen before anything starts), the guard that owns its mount
// namespace, and the processes started so far, by name.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../../../scripts/lib/paths.ts";
import type { ImageArchive } from "../../build/images.ts";
import { ensureKubeBinary } from "../../build/kube-binary.ts";
import { type ApiServer, freePorts } from "../api-server.ts";
import { type NodeState, processStartTime } from "./cleanup.ts";

export const exec = promisify(execFile);
export const nodeName = "local-node";
/** Host paths the kubelet, containerd and CNI use whatever their flags say: in the guard's namespace they are bind mounts into the temp dir. */
const fixedHostPaths = ["/var/lib/kubelet", "/var/lib/cni", "/var/log/pods", "/run/netns", "/run/containerd"];

export interface LocalS3 {
  /** For Pods: the bridge's gateway address. */
  podUrl: string;
  /** For the test process: loopback, forwarded to the same server. */
  hostUrl: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
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

export interface NodeContext {
  server: ApiServer;
  opts: NodeOptions;
  log: (line: string) => void;
  /** The kube program (kubelet, proxy, controller-manager, scheduler). */
  kube: string;
  dir: string;
  state: NodeState;
  subnet: { cidr: string; gateway: string };
  ports: {
    s3: number;
    hostS3: number;
    proxyHealthz: number;
    proxyMetrics: number;
    kubelet: number;
    kubeletHealthz: number;
  };
  s3: LocalS3;
  guard: ChildProcess;
  /** The guard's mount namespace, where containerd and the kubelet run. */
  guardNs: string;
  /** Every process started for the node, by component name. */
  processes: Map<string, ChildProcess>;
  /** Servers of ours to close at stop (the loopback forwarder to S3). */
  servers: Server[];
}

/**
 * Creates the node's temp dir, writes the state teardown reads, chooses its subnet
 * and ports and starts the guard. The guard exists before anything else, so that
 * whatever starts later is torn down with it.
 */
export async function newContext(server: ApiServer, opts: NodeOptions): Promise<NodeContext> {
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
  for (const sub of ["pids", "logs", "cni/net.d", "cni/ipam", "containerd", "kubelet/pki", "pod-logs"])
    mkdirSync(join(dir, sub), { recursive: true });
  const [s3, hostS3, proxyHealthz, proxyMetrics, kubelet, kubeletHealthz] = (await freePorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    server,
    opts,
    log: opts.log ?? (() => {}),
    kube,
    dir,
    state,
    subnet,
    ports: { s3, hostS3, proxyHealthz, proxyMetrics, kubelet, kubeletHealthz },
    s3: {
      podUrl: `http://${subnet.gateway}:${s3}`,
      hostUrl: `http://127.0.0.1:${hostS3}`,
      region: "us-east-1",
      // moto accepts any key; these are not secrets.
      accessKeyId: "local-node",
      secretAccessKey: "local-node-secret",
    },
    guard: startGuard(dir),
    guardNs: "",
    processes: new Map(),
    servers: [],
  };
}

/** Starts a component of the node under `name` (its log in logs/<name>.log), in the guard's mount namespace or the host's. */
export function startProcess(
  ctx: NodeContext,
  name: string,
  command: string,
  args: readonly string[],
  inNamespace: boolean,
): ChildProcess {
  const child = inNamespace
    ? startChild(ctx.dir, name, "nsenter", [`--mount=${ctx.guardNs}`, "--", command, ...args])
    : startChild(ctx.dir, name, command, args);
  ctx.processes.set(name, child);
  return child;
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
    'exec "$0" --import tsx test/platform/components/node/cleanup.ts "$1"',
  ].join("\n");
  const logFd = openSync(join(dir, "logs/guard.log"), "a");
  const guard = spawn(
    "unshare",
    ["--mount", "--propagation", "private", "--", "sh", "-c", script, process.execPath, dir],
    {
      cwd: repoRoot,
      stdio: ["pipe", logFd, logFd],
    },
  );
  closeSync(logFd);
  return guard;
}

export async function waitGuardReady(guard: ChildProcess, dir: string): Promise<string> {
  await waitFor("the node guard to set up its mount namespace", 10_000, guard, dir, async () =>
    existsSync(join(dir, "guard-ready")),
  );
  const ns = `/proc/${guard.pid}/ns/mnt`;
  if (readlinkSync(ns) === readlinkSync("/proc/self/ns/mnt"))
    throw new Error("expected the node guard to run in its own mount namespace; it shares ours");
  return ns;
}

export function startChild(dir: string, name: string, command: string, args: readonly string[]): ChildProcess {
  const logFd = openSync(join(dir, "logs", `${name}.log`), "a");
  const child = spawn(command, args, { stdio: ["ignore", logFd, logFd], cwd: dir });
  closeSync(logFd);
  if (child.pid === undefined) throw new Error(`expected ${command} to start for the node's ${name}; it did not`);
  // The guard kills exactly these processes (pid and start time, so a reused pid is spared).
  writeFileSync(join(dir, "pids", name), `${child.pid} ${processStartTime(child.pid)}\n`);
  child.once("exit", (code) => writeFileSync(join(dir, "logs", `${name}.exit`), String(code)));
  return child;
}

export async function waitFor(
  what: string,
  timeoutMs: number,
  child: ChildProcess | undefined,
  dir: string,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(
        `expected ${what}; its process exited with code ${child.exitCode} (logs in ${join(dir, "logs")})`,
      );
    }
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`expected ${what} within ${timeoutMs / 1000} s; it was not (logs in ${join(dir, "logs")})`);
}

/** A 10.x.y.0/24 that neither a route nor an address on this machine uses. */
async function freeSubnet(): Promise<{ cidr: string; gateway: string }> {
  const taken =
    (await exec("ip", ["-4", "route", "show", "table", "all"])).stdout +
    (await exec("ip", ["-4", "-o", "addr"])).stdout;
  for (let third = 0; third < 256; third++) {
    const prefix = `10.244.${third}.`;
    if (!taken.includes(prefix)) return { cidr: `${prefix}0/24`, gateway: `${prefix}1` };
  }
  throw new Error(
    "expected a free 10.244.x.0/24 for the node's Pods; all 256 are in use (leftover bridges? see `ip route`)",
  );
}

/**
 * Whether the Node reports Ready (with `since`, in a status the kubelet sent after that
 * moment, not one left from before it stopped); the API server's certificate is
 * self-signed (the kubeconfig skips verification too).
 */
export function nodeReady(url: string, token: string, since = 0): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => {
          try {
            const node = JSON.parse(body) as {
              status?: { conditions?: { type: string; status: string; lastHeartbeatTime?: string }[] };
            };
            const ready = node.status?.conditions?.find((c) => c.type === "Ready");
            resolve(
              res.statusCode === 200 &&
                ready?.status === "True" &&
                (since === 0 || Date.parse(ready.lastHeartbeatTime ?? "") >= since),
            );
          } catch {
            resolve(false);
          }
        });
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

export async function status(url: string, method = "GET"): Promise<number> {
  try {
    const res = await fetch(url, { method, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Loopback → the S3 server on the gateway, so tests use loopback as everywhere else. */
export function forward(port: number, host: string, targetPort: number): Promise<Server> {
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
