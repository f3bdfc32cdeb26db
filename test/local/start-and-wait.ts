// Starts one local API server, prints its kubeconfig path and waits to be killed:
// lets a test prove that killing the parent leaves no server and no state behind.
import { startControlPlanes } from "./control-plane.ts";

const cp = await startControlPlanes([{ name: "orphan", crds: [] }]);
process.stdout.write(`${cp.servers[0]!.kubeconfigPath}\n`);
setInterval(() => {}, 60_000);
