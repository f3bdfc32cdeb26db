// `node scripts/flow.mjs <flow> [args]`: what the moon tasks run. Starts the flow's
// bundle, rebuilding it first when a source file is newer (a pull or an edit).
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { build, flows, outDir, sourcesMtime } from "./build.mjs";

const name = process.argv[2];
if (!flows.includes(name)) {
  console.error(`✖ expected a flow name (${flows.join(", ")}); got "${name ?? ""}"`);
  process.exit(2);
}
const bundle = join(outDir, `${name}.mjs`);
if (!existsSync(bundle) || statSync(bundle).mtimeMs < sourcesMtime()) await build();
// The bundle decides whether it is the entry point by process.argv[1].
process.argv.splice(1, 2, bundle);
await import(bundle);
