// Builds the local kube-apiserver and fetches the CRD modules once, before any
// integration file starts servers in parallel.
import { ensureKubeBinary } from "./kube-binary.ts";
import { crdSources } from "./crds.ts";

export default async function setup(): Promise<void> {
  await ensureKubeBinary((line) => console.log(`[harness] ${line}`));
  await crdSources();
}
