// The local tenant cluster as a whole: one API server and one real node running
// the chart's images, with the instances' buckets in the node's S3 server.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ApiServers, type ApiServer, type ServerOptions, startApiServers } from "./api-server.ts";
import { nodeImages } from "../build/images.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { type LocalNode, startNode } from "./node/index.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

export interface NodeCluster {
  apiServers: ApiServers;
  server: ApiServer;
  node: LocalNode;
  /** Resident memory now, in bytes: the API server's processes and the node's (its components and Pods). */
  memoryBytes(): number;
  stop(): Promise<void>;
}

/** Resident memory of the processes whose command line names `dir` (the API server's state dir), from /proc. */
function processMemory(dir: string): number {
  let bytes = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(dir)) continue;
      bytes += Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1] ?? 0) * 1024;
    } catch {
      // Exited.
    }
  }
  return bytes;
}

export async function startNodeCluster(
  log: (line: string) => void = () => {},
  options: Omit<ServerOptions, "node"> = { name: "tenant", crds: [] },
): Promise<NodeCluster> {
  const { images, pauseImage } = await nodeImages(log);
  const apiServers = await startApiServers([{ ...options, node: true }]);
  const server = apiServers.servers[0]!;
  let node: LocalNode;
  try {
    node = await startNode(server, { images, pauseImage, buckets: instances.map((i) => i.bucket), log });
  } catch (error) {
    await apiServers.stop();
    throw error;
  }
  return {
    apiServers,
    server,
    node,
    memoryBytes: () => processMemory(join(server.kubeconfigPath, "..")) + node.memoryBytes(),
    stop: async () => {
      try {
        await node.stop();
      } finally {
        await apiServers.stop();
      }
    },
  };
}
