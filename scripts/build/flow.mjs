// `node scripts/build/flow.mjs <flow> [args]`: what the moon tasks run. Loads the
// flow's bundle and calls its exported main. It never builds: a missing or stale
// bundle is an error that names the command that builds it.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { flows, outDir, sourcesMtime } from "./bundles.mjs";

const name = process.argv[2];
if (!flows.includes(name)) {
  console.error(`✖ expected a flow name (${flows.join(", ")}); got "${name ?? ""}"`);
  process.exit(2);
}
const bundle = join(outDir, `${name}.mjs`);
const cli = join(outDir, "cli.mjs");
const missing = [bundle, cli].find((f) => !existsSync(f));
const stale = !missing && Math.min(statSync(bundle).mtimeMs, statSync(cli).mtimeMs) < sourcesMtime();
if (missing || stale) {
  const what = missing ? `${missing} is missing` : `${bundle} is older than scripts/flows or scripts/lib`;
  console.error(`✖ expected a built bundle of the flow ${name}; ${what}; build the bundles with \`npm run build\` (npm install does it too)`);
  process.exit(2);
}
const [{ main }, { runMain }] = await Promise.all([import(bundle), import(cli)]);
process.exitCode = await runMain(() => main(process.argv.slice(3)));
