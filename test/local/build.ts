// `tsx test/local/build.ts`: build (or confirm) the local Kubernetes program, the
// Flux controllers and the 1Password operator, download the modules the real CRDs come from and, where a real
// node can run, build its images (pause, the Relay server from source, the helm test
// image), so tests start without waiting. `--flux` builds only the Flux controllers.
import { ensureKubeBinary } from "./kube-binary.ts";
import { crdSources } from "./crds.ts";
import { nodeImages } from "./cluster.ts";
import { ensureFluxBinary, fluxControllers } from "./flux-binaries.ts";
import { detectNodeMode } from "./node.ts";
import { ensureOperatorBinary } from "./onepassword/operator-binary.ts";

const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  const result = await step();
  console.log(`${what}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return result;
};

const fluxOnly = process.argv.includes("--flux");
if (!fluxOnly) {
  const binary = await timed("kube binary", () => ensureKubeBinary((line) => console.log(line)));
  console.log(`kube: ${binary}`);
  for (const source of await crdSources()) console.log(`CRDs from ${source}`);
}
for (const c of fluxControllers) {
  const built = await ensureFluxBinary(c, (line) => console.log(line));
  console.log(`${c}: ${built.binary}${built.buildSeconds === undefined ? " (up to date)" : ` (built in ${built.buildSeconds} s)`}`);
}
if (!fluxOnly) {
  const built = await ensureOperatorBinary((line) => console.log(line));
  console.log(`1Password operator ${built.version}: ${built.binary}${built.buildSeconds === undefined ? " (up to date)" : ` (built in ${built.buildSeconds} s)`}`);
}
const mode = detectNodeMode();
console.log(mode.reason);
if (mode.node && !fluxOnly) {
  const { images } = await timed("node images", () => nodeImages((line) => console.log(line)));
  for (const image of images) console.log(`image ${image.reference}: ${image.archive}`);
}
