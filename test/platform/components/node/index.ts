// A real single-node Kubernetes next to an ApiServer (../api-server.ts):
// controller-manager, scheduler, kube-proxy, containerd, a CNI bridge, the kubelet
// and an S3-compatible server (moto) for the Pods, all state in one temp dir. The
// node is created by the named actions of actions.ts, one after the other.
//
// Teardown survives SIGKILL of the test process: a guard process holds a private
// mount namespace (where containerd and the kubelet run, so their mounts and the
// Pods' network namespaces never reach the host) and, when its stdin closes, runs
// cleanup.ts, which kills everything and removes what lives outside that namespace.
import { cpSync, existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type ImageArchive, importImages } from "../../build/images.ts";
import type { ApiServer } from "../api-server.ts";
import { nodeActions, type NodeComponent, startComponent } from "./actions.ts";
import { type LocalS3, newContext, type NodeContext, nodeName, type NodeOptions } from "./context.ts";
import { blockS3, containerPid, powerOff, powerOn, restartComponent, stopComponent, unblockS3 } from "./faults.ts";
import { nodeMemory } from "./processes.ts";

export { type NodeComponent, nodeComponents } from "./actions.ts";
export { type LocalS3, nodeName, type NodeOptions } from "./context.ts";
export { detectNodeMode, type NodeMode } from "./mode.ts";
export { cgroupProcesses, nodeProcesses } from "./processes.ts";
export type { NodeState } from "./cleanup.ts";

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
  /** Fault tests (faults.ts): one component stopped (SIGTERM by default, SIGKILL for a crash) and started again with its own command. */
  stopComponent(component: NodeComponent, signal?: NodeJS.Signals): Promise<void>;
  startComponent(component: NodeComponent): Promise<void>;
  restartComponent(component: NodeComponent, signal?: NodeJS.Signals): Promise<void>;
  /** The node loses power (every component and Pod killed, its disk kept; S3 stays up) and boots again until Ready. */
  powerOff(): Promise<void>;
  powerOn(): Promise<void>;
  /** The Pods' connections to S3 are refused until unblockS3 (the test process still reaches it). */
  blockS3(): Promise<void>;
  unblockS3(): Promise<void>;
  /** The host pid of a container's first process (a Pod status's `containerd://<id>`), to signal it as a crash would. */
  containerPid(containerId: string): Promise<number>;
  /** Tears the node down to nothing. */
  stop(): Promise<void>;
}

/** Starts a node for `server` (started with `node: true`) and waits until it is Ready. */
export async function startNode(server: ApiServer, opts: NodeOptions): Promise<LocalNode> {
  const ctx = await newContext(server, opts);
  const stop = () => stopNode(ctx);
  try {
    for (const action of nodeActions) {
      try {
        await action.run(ctx);
      } catch (error) {
        throw new Error(`node action "${action.name}": ${(error as Error).message}`);
      }
    }
  } catch (error) {
    // Teardown removes the temp dir: keep the components' logs for the one reading the error.
    const kept = `${ctx.dir}-logs`;
    cpSync(join(ctx.dir, "logs"), kept, { recursive: true });
    await stop().catch(() => {});
    throw new Error(`${(error as Error).message} (logs kept in ${kept})`);
  }
  return {
    name: nodeName,
    dir: ctx.dir,
    guardPid: ctx.guard.pid!,
    podSubnet: ctx.subnet.cidr,
    gateway: ctx.subnet.gateway,
    s3: ctx.s3,
    importImages: (images) => importImages(ctx.state.containerdAddress, images),
    memoryBytes: () => nodeMemory(ctx.dir, ctx.state),
    stopComponent: (component, signal) => stopComponent(ctx, component, signal),
    startComponent: (component) => startComponent(ctx, component),
    restartComponent: (component, signal) => restartComponent(ctx, component, signal),
    powerOff: () => powerOff(ctx),
    powerOn: () => powerOn(ctx),
    blockS3: () => blockS3(ctx),
    unblockS3: () => unblockS3(ctx),
    containerPid: (containerId) => containerPid(ctx, containerId),
    stop,
  };
}

/** Closes the guard's stdin, so it tears the node down, and reports what teardown could not remove. */
async function stopNode(ctx: NodeContext): Promise<void> {
  const { guard, dir } = ctx;
  for (const server of ctx.servers) server.close();
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
}
