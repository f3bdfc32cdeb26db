// Starts the local cluster with a node, prints the node's temp dir and waits to be
// killed: lets a test prove that SIGKILL of the parent leaves nothing of the node behind.
// With --block-s3 the node's S3 is refused to its Pods first (a fault test's outage rule).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNodeCluster } from "../index.ts";

const cluster = await startNodeCluster();
if (process.argv.includes("--block-s3")) await cluster.node.blockS3();
process.stdout.write(`${readFileSync(join(cluster.node.dir, "node.json"), "utf8").replace(/\n/g, " ")}\n`);
setInterval(() => {}, 60_000);
