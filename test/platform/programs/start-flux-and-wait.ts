// Starts the Flux controllers against the kubeconfig given as argument, prints
// their pids and state dirs as JSON and waits to be killed: lets a test prove
// that killing the parent leaves no controller and no state behind.
import { startFlux } from "../index.ts";

const kubeconfigPath = process.argv[2];
if (!kubeconfigPath) throw new Error("usage: start-flux-and-wait.ts <kubeconfig>");
const run = await startFlux({ kubeconfigPath });
process.stdout.write(`${JSON.stringify({ pids: Object.values(run.pids()), dirs: run.stateDirs })}\n`);
setInterval(() => {}, 60_000);
