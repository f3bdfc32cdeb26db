// `npm run build` (also run by `npm install`, CI and the integration tests' setup):
// the flow bundles in dist/flows, from the sources as they are.
import { build, flows } from "./bundles.mjs";

await build();
// On stderr: through moon, a flow's stdout (e.g. --json) stays its own when root:build runs first.
console.error(`build: ${flows.length} flows bundled into dist/flows`);
