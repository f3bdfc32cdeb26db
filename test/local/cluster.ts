// The local tenant cluster as a whole: one API server and one real node running
// the chart's images, with the instances' buckets in the node's S3 server.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { type ControlPlanes, type LocalServer, type ServerOptions, startControlPlanes } from "./control-plane.ts";
import { chartImages, ensurePauseImage, ensureRelayBinary, ensureRelayImage, ensureTestImage, type ImageArchive } from "./images.ts";
import { type LocalNode, startNode } from "./node.ts";

export const instances = ["relay-personal", "relay-family"] as const;
export const valuesFile = (instance: string) => join(repoRoot, "apps/docs-prod", instance, "values.yaml");

/** The bucket an instance's values file names. */
export function instanceBucket(instance: string): string {
  const values = parse(readFileSync(valuesFile(instance), "utf8")) as { storage?: { s3?: { bucket?: string } } };
  const bucket = values.storage?.s3?.bucket;
  if (!bucket) throw new Error(`expected storage.s3.bucket in ${valuesFile(instance)}; it is missing`);
  return bucket;
}

/** Builds (or reuses) the pause image and the images the chart renders for the instances. */
export async function nodeImages(log: (line: string) => void = () => {}): Promise<{ images: ImageArchive[]; pauseImage: string }> {
  const pause = await ensurePauseImage(log);
  const relay = await ensureRelayBinary(log);
  const images = new Map<string, ImageArchive>([[pause.reference, pause]]);
  for (const instance of instances) {
    const { server, test } = await chartImages(valuesFile(instance));
    if (!images.has(server)) images.set(server, await ensureRelayImage(server, relay, log));
    if (!images.has(test)) images.set(test, await ensureTestImage(test, log));
  }
  return { images: [...images.values()], pauseImage: pause.reference };
}

export interface LocalCluster {
  controlPlanes: ControlPlanes;
  server: LocalServer;
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

export async function startCluster(log: (line: string) => void = () => {}, options: Omit<ServerOptions, "node"> = { name: "tenant", crds: [] }): Promise<LocalCluster> {
  const { images, pauseImage } = await nodeImages(log);
  const controlPlanes = await startControlPlanes([{ ...options, node: true }]);
  const server = controlPlanes.servers[0]!;
  let node: LocalNode;
  try {
    node = await startNode(server, { images, pauseImage, buckets: instances.map(instanceBucket), log });
  } catch (error) {
    await controlPlanes.stop();
    throw error;
  }
  return {
    controlPlanes,
    server,
    node,
    memoryBytes: () => processMemory(join(server.kubeconfigPath, "..")) + node.memoryBytes(),
    stop: async () => {
      try {
        await node.stop();
      } finally {
        await controlPlanes.stop();
      }
    },
  };
}
