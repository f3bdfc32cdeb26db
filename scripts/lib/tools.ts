// Resolves the pinned helm and kubectl unpacked by `npm install`; nothing here
// falls back to whatever happens to be on PATH.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { trackChild } from "./interrupt.ts";
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
  const running = $({ quiet: true, nothrow: true, cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, input: opts.input })`${toolPath(tool)} ${args}`;
  // An interrupt stops the tool and waits for it (helm --atomic rolls back before it exits).
  trackChild({ name: tool, stop: (signal) => void running.kill(signal).catch(() => {}), exited: Promise.resolve(running).catch(() => {}) });
  const result = await running;
  if (result.exitCode !== 0) {
    throw new Error(`${tool} ${args.join(" ")} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}
