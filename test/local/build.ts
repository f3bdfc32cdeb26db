// `tsx test/local/build.ts`: build (or confirm) the local kube-apiserver
// and download the modules the real CRDs come from, so tests start without waiting.
import { ensureApiServerBinary } from "./apiserver-binary.ts";
import { crdSources } from "./crds.ts";

const binary = await ensureApiServerBinary((line) => console.log(line));
console.log(`kube-apiserver: ${binary}`);
for (const source of await crdSources()) console.log(`CRDs from ${source}`);
