// `tsx test/local/build.ts`: build (or confirm) the local Kubernetes program, download
// the modules the real CRDs come from and, where a real node can run, build its images
// (pause, the Relay server from source, the helm test image), so tests start without waiting.
import { ensureKubeBinary } from "./kube-binary.ts";
import { crdSources } from "./crds.ts";
import { nodeImages } from "./cluster.ts";
import { detectNodeMode } from "./node.ts";

const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  const result = await step();
  console.log(`${what}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return result;
};

const binary = await timed("kube binary", () => ensureKubeBinary((line) => console.log(line)));
console.log(`kube: ${binary}`);
for (const source of await crdSources()) console.log(`CRDs from ${source}`);
const mode = detectNodeMode();
console.log(mode.reason);
if (mode.node) {
  const { images } = await timed("node images", () => nodeImages((line) => console.log(line)));
  for (const image of images) console.log(`image ${image.reference}: ${image.archive}`);
}
