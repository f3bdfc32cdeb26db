// Tears a local node (index.ts) down to nothing. The node's guard runs this file
// inside its private mount namespace once its stdin closes, after a clean stop or
// after the test process was killed: `node --import tsx node-cleanup.ts <dir>`.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** What the cleanup needs to know about a node; context.ts writes it to `<dir>/node.json`. */
export interface NodeState {
  dir: string;
  bridge: string;
  /** The kubelet's cgroup root, directly under each hierarchy. */
  cgroup: string;
  containerdAddress: string;
  /** Host paths bind-mounted into the temp dir inside the guard's namespace. */
  fixedHostPaths: string[];
  /** Those of them that did not exist before the node started (removed again if empty). */
  createdHostPaths: string[];
  /** The kube program (its `proxy --cleanup` removes kube-proxy's iptables chains). */
  kube?: string;
}

/** The start time of a process (field 22 of /proc/<pid>/stat), to tell a reused pid apart. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function kill(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(safeRead(`/proc/${pid}/stat`));
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function waitGone(pids: number[], ms: number): void {
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) sleep(50);
}

function recordedPid(state: NodeState, name: string): number | undefined {
  const [pid, start] = safeRead(join(state.dir, "pids", name))
    .trim()
    .split(" ");
  if (!pid || !alive(Number(pid)) || processStartTime(Number(pid)) !== start) return undefined;
  return Number(pid);
}

function cgroupPids(path: string, out: number[], depth = 0): void {
  if (depth > 12 || !existsSync(path)) return;
  for (const line of safeRead(join(path, "cgroup.procs")).split("\n")) if (line) out.push(Number(line));
  try {
    for (const e of readdirSync(path, { withFileTypes: true }))
      if (e.isDirectory()) cgroupPids(join(path, e.name), out, depth + 1);
  } catch {
    // Removed meanwhile.
  }
}

function removeCgroupTree(path: string, depth = 0): void {
  if (depth > 12 || !existsSync(path)) return;
  try {
    for (const e of readdirSync(path, { withFileTypes: true }))
      if (e.isDirectory()) removeCgroupTree(join(path, e.name), depth + 1);
    rmdirSync(path);
  } catch {
    // Still busy: the caller retries.
  }
}

function run(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: "ignore", timeout: 10_000 });
  } catch {
    // Best effort: what it should have removed is checked below.
  }
}

/**
 * The kubelet writes a few host-wide iptables chains (a canary it watches, a localnet
 * firewall). They are the same for every kubelet: remove them unless another one runs.
 */
function removeKubeletIptables(): void {
  const otherKubelet = readdirSync("/proc").some(
    (e) => /^\d+$/.test(e) && /(^|\/)kube(let)?\0kubelet\0|(^|\/)kubelet\0/.test(safeRead(`/proc/${e}/cmdline`)),
  );
  if (otherKubelet) return;
  for (const iptables of ["iptables", "ip6tables"]) {
    run(iptables, ["-t", "filter", "-D", "INPUT", "-j", "KUBE-FIREWALL"]);
    run(iptables, ["-t", "filter", "-D", "OUTPUT", "-j", "KUBE-FIREWALL"]);
    for (const [table, chain] of [
      ["filter", "KUBE-FIREWALL"],
      ["filter", "KUBE-KUBELET-CANARY"],
      ["nat", "KUBE-KUBELET-CANARY"],
      ["mangle", "KUBE-KUBELET-CANARY"],
      ["mangle", "KUBE-IPTABLES-HINT"],
    ] as const) {
      run(iptables, ["-t", table, "-F", chain]);
      run(iptables, ["-t", table, "-X", chain]);
    }
  }
}

/** Rules of our own on the bridge (a fault test's S3 outage, node/faults.ts): they name the bridge, unique to this node. */
function bridgeRules(state: NodeState): string[] {
  try {
    const rules = execFileSync("iptables", ["-S", "INPUT"], { encoding: "utf8", timeout: 10_000 });
    return rules.split("\n").filter((r) => r.startsWith("-A INPUT ") && r.includes(` -i ${state.bridge} `));
  } catch {
    return [];
  }
}

function removeBridgeRules(state: NodeState): void {
  for (const rule of bridgeRules(state)) run("iptables", ["-D", ...rule.slice(3).split(" ")]);
}

/** kube-proxy's host-wide chains (KUBE-SERVICES, KUBE-SVC-…): removed unless another kube-proxy runs. */
function removeProxyIptables(state: NodeState): void {
  if (!state.kube) return;
  const otherProxy = readdirSync("/proc").some(
    (e) =>
      /^\d+$/.test(e) &&
      /(^|\/)kube\0proxy\0/.test(safeRead(`/proc/${e}/cmdline`)) &&
      !safeRead(`/proc/${e}/cmdline`).includes("--cleanup"),
  );
  if (otherProxy) return;
  run(state.kube, ["proxy", "--cleanup", "--proxy-mode=iptables"]);
}

export function cleanup(state: NodeState): string[] {
  const problems: string[] = [];
  // The kubelet first, so it restarts nothing; then everything else we started.
  const kubelet = recordedPid(state, "kubelet");
  if (kubelet) {
    kill(kubelet);
    waitGone([kubelet], 5000);
  }
  const names = existsSync(join(state.dir, "pids")) ? readdirSync(join(state.dir, "pids")) : [];
  const others = names
    .filter((n) => n !== "containerd")
    .map((n) => recordedPid(state, n))
    .filter((p): p is number => p !== undefined);
  others.forEach((p) => kill(p));

  // The Pods' processes: everything in our cgroup tree, in every hierarchy.
  const hierarchies = existsSync("/sys/fs/cgroup")
    ? readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h, state.cgroup))
    : [];
  for (let round = 0; round < 50; round++) {
    const pids: number[] = [];
    hierarchies.forEach((h) => cgroupPids(h, pids));
    if (pids.length === 0) break;
    pids.forEach((p) => kill(p));
    sleep(100);
  }

  // Let containerd tell each shim to go (a shim removes its own socket), then stop containerd.
  const containerd = recordedPid(state, "containerd");
  if (containerd) {
    const ctr = ["--address", state.containerdAddress, "-n", "k8s.io"];
    let tasks: string[] = [];
    try {
      tasks = execFileSync("ctr", [...ctr, "tasks", "ls", "-q"], { encoding: "utf8", timeout: 10_000 })
        .split("\n")
        .filter(Boolean);
    } catch {
      // containerd is not answering: the shims are killed below.
    }
    for (const task of tasks) run("ctr", [...ctr, "tasks", "delete", "--force", task]);
    kill(containerd, "SIGTERM");
    waitGone([containerd], 5000);
    kill(containerd);
  }
  // Anything still naming our temp dir (shims name containerd's socket in it), except us.
  const mine = new Set([process.pid, process.ppid]);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || mine.has(Number(entry))) continue;
    if (
      safeRead(`/proc/${entry}/cmdline`).includes(state.dir) &&
      !safeRead(`/proc/${entry}/cmdline`).includes("node/cleanup.ts")
    )
      kill(Number(entry));
  }
  waitGone(others, 5000);

  for (let round = 0; round < 50 && hierarchies.some(existsSync); round++) {
    hierarchies.forEach((h) => removeCgroupTree(h));
    if (hierarchies.some(existsSync)) sleep(100);
  }
  problems.push(...hierarchies.filter(existsSync).map((h) => `cgroup ${h} is still there`));

  // Mounts live in this (private) namespace only, but the files under them do not:
  // unmount before removing the temp dir, deepest first.
  const roots = [state.dir, ...state.fixedHostPaths];
  const mounts = safeRead("/proc/self/mountinfo")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .map((p) => p.replace(/\\040/g, " "))
    .filter((p) => roots.some((r) => p === r || p.startsWith(`${r}/`)))
    .sort((a, b) => b.length - a.length);
  for (const mount of mounts) run("umount", ["--lazy", mount]);

  removeKubeletIptables();
  removeProxyIptables(state);
  removeBridgeRules(state);
  problems.push(...bridgeRules(state).map((r) => `iptables rule ${r} is still there`));
  run("ip", ["link", "delete", state.bridge]);
  if (existsSync(`/sys/class/net/${state.bridge}`)) problems.push(`bridge ${state.bridge} is still there`);

  rmSync(state.dir, { recursive: true, force: true, maxRetries: 5 });
  if (existsSync(state.dir)) problems.push(`${state.dir} is still there`);
  for (const path of [...state.createdHostPaths].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(path);
    } catch {
      // Not empty: someone else uses it now; leave it.
    }
  }
  return problems;
}

if (process.argv[1]?.endsWith("node/cleanup.ts") && process.argv[2]) {
  const dir = process.argv[2];
  const state = JSON.parse(readFileSync(join(dir, "node.json"), "utf8")) as NodeState;
  const problems = cleanup(state);
  // The temp dir (with the guard's log) is gone: leave the problems next to it for the harness to report.
  if (problems.length > 0) writeFileSync(`${dir}.problems`, problems.join("\n"));
  process.exit(problems.length > 0 ? 1 : 0);
}
