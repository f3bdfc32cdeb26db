// `scripts/build/node scripts/build/tool.mjs <helm|kubectl> [args]`: runs the helm or
// kubectl the flows would run on this platform (toolchain.mjs: pinned on linux-x64,
// else PATH, checked against the minimum versions), with the terminal as its own and
// its exit code. What the moon tasks that call helm use (the charts' lint).
import { spawnSync } from "node:child_process";
import { resolveTool } from "./toolchain.mjs";

const [tool, ...args] = process.argv.slice(2);
if (tool !== "helm" && tool !== "kubectl") {
  console.error(`✖ expected helm or kubectl as the first argument; got "${tool ?? ""}"`);
  process.exit(2);
}
let path;
try {
  path = resolveTool(tool).path;
} catch (error) {
  console.error(`✖ ${error.message}`);
  process.exit(3);
}
const result = spawnSync(path, args, { stdio: "inherit" });
process.exit(result.status ?? 3);
