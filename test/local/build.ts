// `tsx test/local/build.ts`: build (or confirm) the local kube-apiserver and the
// Flux controllers, and download the modules the real CRDs come from, so tests
// start without waiting. `--flux` builds only the Flux controllers.
import { ensureApiServerBinary } from "./apiserver-binary.ts";
import { crdSources } from "./crds.ts";
import { ensureFluxBinary, fluxControllers } from "./flux-binaries.ts";

const fluxOnly = process.argv.includes("--flux");
if (!fluxOnly) {
  const binary = await ensureApiServerBinary((line) => console.log(line));
  console.log(`kube-apiserver: ${binary}`);
  for (const source of await crdSources()) console.log(`CRDs from ${source}`);
}
for (const c of fluxControllers) {
  const built = await ensureFluxBinary(c, (line) => console.log(line));
  console.log(`${c}: ${built.binary}${built.buildSeconds === undefined ? " (up to date)" : ` (built in ${built.buildSeconds} s)`}`);
}
