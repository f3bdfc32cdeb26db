// `npm run build` (also run by `npm install`, CI and the integration tests' setup):
// the flow bundles in dist/flows, from the sources as they are.
import { build, flows } from "./bundles.mjs";

await build();
console.log(`build: ${flows.length} flows bundled into dist/flows`);
