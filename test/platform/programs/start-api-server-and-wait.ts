// Starts one local API server, prints its kubeconfig path and waits to be killed:
// lets a test prove that killing the parent leaves no server and no state behind.
import { startApiServers } from "../index.ts";

const cp = await startApiServers([{ name: "orphan", crds: [] }]);
process.stdout.write(`${cp.servers[0]!.kubeconfigPath}\n`);
setInterval(() => {}, 60_000);
