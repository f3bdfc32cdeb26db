// `tsx test/platform/programs/build.ts`: build (or confirm) the local Kubernetes program,
// the Flux controllers and the 1Password operator, download the modules the real CRDs
// come from and, where a real node can run, build its images (pause, the Relay server
// from source, the helm test image), so tests start without waiting. `--flux` builds
// only the Flux controllers; `--go-tools` only helm 4 and kubeconform (build/go-tools.ts).
import {
  crdSources,
  detectNodeMode,
  ensureFluxBinary,
  ensureGoTool,
  ensureKubeBinary,
  ensureOperatorBinary,
  fluxControllers,
  type GoToolName,
  goTools,
  nodeImages,
} from "../index.ts";

const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
  const started = Date.now();
  const result = await step();
  console.log(`${what}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return result;
};

const fluxOnly = process.argv.includes("--flux");
if (!fluxOnly) {
  for (const name of Object.keys(goTools) as GoToolName[]) {
    const built = await ensureGoTool(name, (line) => console.log(line));
    console.log(
      `${name}: ${built.binary}${built.buildSeconds === undefined ? " (up to date)" : ` (built in ${built.buildSeconds} s)`}`,
    );
  }
  if (process.argv.includes("--go-tools")) process.exit(0);
}
if (!fluxOnly) {
  const binary = await timed("kube binary", () => ensureKubeBinary((line) => console.log(line)));
  console.log(`kube: ${binary}`);
  for (const source of await crdSources()) console.log(`CRDs from ${source}`);
}
for (const c of fluxControllers) {
  const built = await ensureFluxBinary(c, (line) => console.log(line));
  console.log(
    `${c}: ${built.binary}${built.buildSeconds === undefined ? " (up to date)" : ` (built in ${built.buildSeconds} s)`}`,
  );
}
if (!fluxOnly) {
  const built = await ensureOperatorBinary((line) => console.log(line));
  console.log(
    `1Password operator ${built.version}: ${built.binary}${built.buildSeconds === undefined ? " (up to date)" : ` (built in ${built.buildSeconds} s)`}`,
  );
}
const mode = detectNodeMode();
console.log(mode.reason);
if (mode.node && !fluxOnly) {
  const { images } = await timed("node images", () => nodeImages((line) => console.log(line)));
  for (const image of images) console.log(`image ${image.reference}: ${image.archive}`);
}
