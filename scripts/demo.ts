// `npm run demo`: the system on a local default. Starts the management cluster
// and the tenant cluster as real local kube-apiservers and shows how to reach them.
import { parseArgs } from "node:util";
import { startControlPlanes } from "../test/harness/control-plane.ts";
import { ensureApiServerBinary } from "../test/harness/apiserver-binary.ts";
import { management, tenant } from "./lib/names.ts";

const { values } = parseArgs({ options: { keep: { type: "boolean", default: false } } });

await ensureApiServerBinary((line) => console.log(`demo: ${line}`));
console.log(`demo: starting ${management.cluster} and ${tenant.app} as local kube-apiservers with the Flux and 1Password CRDs`);
const cp = await startControlPlanes([{ name: management.cluster }, { name: tenant.app }]);
for (const server of cp.servers) {
  console.log(`demo: ${server.name} answers at ${server.url}`);
  console.log(`      kubectl --kubeconfig ${server.kubeconfigPath} get crds`);
}
if (values.keep) {
  console.log("demo: --keep: the servers run until you press Ctrl-C");
  const stop = () => void cp.stop().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
} else {
  await cp.stop();
  console.log("demo: stopped both servers; nothing is left running");
}
