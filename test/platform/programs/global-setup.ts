// Builds the local kube binary, fetches the CRD modules and builds the flow
// bundles once, before any integration file starts servers.
import { build } from "../../../scripts/build/bundles.mjs";
import { crdSources, ensureKubeBinary } from "../index.ts";

export default async function setup(): Promise<void> {
  await ensureKubeBinary((line) => console.log(`[harness] ${line}`));
  await crdSources();
  // The tests run the flows' bundles, as moon does: build them from the sources as they are.
  await build();
}
