// What fault tests do to a running node: stop a component and start it again with
// the command its action used, stop the whole node as a machine that loses power
// (its state dir kept) and start it again, and cut the Pods off from S3.
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type NodeComponent, nodeComponents, startComponent } from "./actions.ts";
import { exec, type NodeContext, nodeName, nodeReady, waitFor } from "./context.ts";
import { cgroupProcesses } from "./processes.ts";

/** Stops one component: `signal` first (SIGTERM as a service manager stops it, SIGKILL as a crash), SIGKILL after 10 s. */
export async function stopComponent(
  ctx: NodeContext,
  component: NodeComponent,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  const child = ctx.processes.get(component);
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function restartComponent(
  ctx: NodeContext,
  component: NodeComponent,
  signal: NodeJS.Signals = "SIGTERM",
): Promise<void> {
  await stopComponent(ctx, component, signal);
  await startComponent(ctx, component);
}

/**
 * The node loses power: the kubelet, every Pod process, containerd and its shims,
 * kube-proxy, the controller-manager and the scheduler are killed at once (SIGKILL).
 * Their state on disk stays, as on a machine's disk. S3 keeps running: it plays a
 * service outside the node (and moto keeps its objects only in memory).
 */
export async function powerOff(ctx: NodeContext): Promise<void> {
  const components = nodeComponents.filter((c) => c !== "moto");
  const exits = components.map((c) => exitOf(ctx.processes.get(c)));
  for (const c of components) ctx.processes.get(c)?.kill("SIGKILL");
  // The Pods' processes and containerd's shims are not our children: by cgroup and by command line.
  for (let round = 0; round < 50; round++) {
    const pids = [...cgroupProcesses(ctx.state.cgroup), ...shims(ctx)];
    if (pids.length === 0) break;
    for (const pid of pids) kill(pid);
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(exits);
}

/** Starts every component again, in the actions' order, and waits until the node is Ready. */
export async function powerOn(ctx: NodeContext): Promise<void> {
  // The Node's status still reads Ready from before the stop (the node controller waits out a grace period): only a heartbeat sent since counts; heartbeats are stamped to the second.
  const since = Math.floor(Date.now() / 1000) * 1000;
  for (const c of nodeComponents.filter((c) => c !== "moto")) await startComponent(ctx, c);
  const token = ctx.server.kubeConfig.getCurrentUser()?.token ?? "";
  await waitFor(`node ${nodeName} to be Ready again`, 180_000, ctx.processes.get("kubelet"), ctx.dir, async () =>
    nodeReady(`${ctx.server.url}/api/v1/nodes/${nodeName}`, token, since),
  );
}

/**
 * The Pods' connections to S3 are refused (a TCP reset, as from a host whose S3
 * service is down) until unblockS3. An iptables rule on the node's bridge, which
 * teardown removes with the bridge's other rules (cleanup.ts). The test process
 * still reaches S3 over loopback.
 */
export async function blockS3(ctx: NodeContext): Promise<void> {
  if (await s3Blocked(ctx)) return;
  await exec("iptables", ["-I", "INPUT", ...s3Rule(ctx)]);
}

export async function unblockS3(ctx: NodeContext): Promise<void> {
  while (await s3Blocked(ctx)) await exec("iptables", ["-D", "INPUT", ...s3Rule(ctx)]);
}

function s3Rule(ctx: NodeContext): string[] {
  return [
    "-i",
    ctx.state.bridge,
    "-p",
    "tcp",
    "--dport",
    String(ctx.ports.s3),
    "-j",
    "REJECT",
    "--reject-with",
    "tcp-reset",
  ];
}

async function s3Blocked(ctx: NodeContext): Promise<boolean> {
  return exec("iptables", ["-C", "INPUT", ...s3Rule(ctx)]).then(
    () => true,
    () => false,
  );
}

/** The host pid of a running container's first process (`containerd://<id>` as a Pod's status names it), from containerd. */
export async function containerPid(ctx: NodeContext, containerId: string): Promise<number> {
  const id = containerId.replace(/^containerd:\/\//, "");
  const tasks = (await exec("ctr", ["--address", ctx.state.containerdAddress, "-n", "k8s.io", "tasks", "ls"])).stdout;
  const pid = tasks
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find(([task]) => task === id)?.[1];
  if (!pid || pid === "0")
    throw new Error(
      `expected containerd to run a task for container ${id}; it lists none (tasks: ${tasks.trim().split("\n").length - 1})`,
    );
  return Number(pid);
}

function exitOf(child: ChildProcess | undefined): Promise<unknown> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", resolve));
}

/** containerd's shims of this node: their command line names its socket in the temp dir. */
function shims(ctx: NodeContext): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes("containerd-shim") && cmdline.includes(ctx.dir)) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids.filter((p) => existsSync(join("/proc", String(p))));
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
