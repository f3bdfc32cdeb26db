// Starts the local cluster with a node, prints the node's temp dir and waits to be
// killed: lets a test prove that SIGKILL of the parent leaves nothing of the node behind.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startNodeCluster } from "../index.ts";

const cluster = await startNodeCluster();
process.stdout.write(`${readFileSync(join(cluster.node.dir, "node.json"), "utf8").replace(/\n/g, " ")}\n`);
setInterval(() => {}, 60_000);
