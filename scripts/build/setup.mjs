// Installs what a fresh clone is missing before `npm test` or `npm run demo`:
// the npm packages (from the lockfile), the pinned helm/kubectl, the flow bundles. Plain
// JavaScript, because nothing else is installed when it runs.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const installed = join(root, "node_modules/.package-lock.json");
const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync(join(root, "package-lock.json")).mtimeMs;
if (stale) {
  console.log("setup: installing npm packages from package-lock.json");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
}
execFileSync(process.execPath, [join(root, "scripts/build/install-tools.mjs")], { cwd: root, stdio: "inherit" });
// The flows' bundles, from the sources as they are now (tests run what ships).
execFileSync(process.execPath, [join(root, "scripts/build/build.mjs")], { cwd: root, stdio: "inherit" });
