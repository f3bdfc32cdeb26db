// `scripts/build/node scripts/build/flow.mjs <flow> [args]`: what the moon tasks run.
// Loads the flow's bundle and calls its exported main. It never builds: a missing or
// stale bundle is an error that names the command that builds it (the moon tasks
// depend on root:build, which does). A Node.js older than the flows support is refused.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { flows, outDir, root, sourcesMtime } from "./bundles.mjs";
import { checkNode } from "./toolchain.mjs";

const name = process.argv[2];
if (name === "-h" || name === "--help") {
  console.log(`Usage: scripts/build/node scripts/build/flow.mjs <flow> [options]   (what the moon tasks run)

Flows: ${flows.join(", ")}
<flow> --help shows a flow's options. Exit codes: 0 done, 1 something would change or a check failed, 2 a wrong command line, 3 any other failure.

Examples:
  scripts/build/node scripts/build/flow.mjs sync-ingress --check --json
  scripts/build/node scripts/build/flow.mjs verify --only tenant
  scripts/build/node scripts/build/flow.mjs relay-helm diff --instance personal`);
  process.exit(0);
}
if (name === "--version") {
  // The CLI layer's bundle names the commit it was built from; without bundles there is none to name.
  const cli = join(outDir, "cli.mjs");
  if (existsSync(cli)) console.log((await import(cli)).versionLine());
  else
    console.log(
      `setup-docs-relay ${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version} (no bundles built yet: npm run build, node ${process.version})`,
    );
  process.exit(0);
}
try {
  checkNode();
} catch (error) {
  console.error(`✖ ${error.message}`);
  process.exit(3);
}
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
  console.error(
    `✖ expected a built bundle of the flow ${name}; ${what}; build the bundles with \`npm run build\` (npm install does it too)`,
  );
  process.exit(2);
}
const [{ main }, { runMain }] = await Promise.all([import(bundle), import(cli)]);
process.exitCode = await runMain(() => main(process.argv.slice(3)));
