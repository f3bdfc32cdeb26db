// Resolves the pinned helm and kubectl unpacked by `npm install`; nothing here
// falls back to whatever happens to be on PATH. The calls go through
// node:child_process rather than zx: importing zx costs 130-175 ms, which is
// most of a flow's start-up on the paths that shell out (sync-ingress --check,
// bootstrap); zx stays the library for scripts where that does not count.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { trackChild } from "./interrupt.ts";
import { repoRoot } from "./paths.ts";

export type Tool = "helm" | "kubectl";

export function toolPath(tool: Tool): string {
  const path = join(repoRoot, ".tools/bin", tool);
  if (!existsSync(path)) {
    throw new Error(`expected the pinned ${tool} at ${path}; it is missing; run \`npm install\` (or \`node scripts/build/install-tools.mjs\`) to unpack it`);
  }
  return path;
}

/** Runs a pinned tool and returns its stdout; a failure carries the tool's stderr. */
export function runTool(tool: Tool, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  const path = toolPath(tool);
  return new Promise((resolve, reject) => {
    const child = execFile(
      path,
      args,
      { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const code = typeof error.code === "number" ? error.code : (error.code ?? error.signal ?? "?");
        reject(new Error(`${tool} ${args.join(" ")} failed (exit ${code}): ${(stderr || error.message).trim()}`));
      },
    );
    child.stdin?.on("error", () => {}); // the tool may exit before reading all its input
    child.stdin?.end(opts.input ?? "");
    // An interrupt stops the tool and waits for it (helm --atomic rolls back before it exits).
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    trackChild({ name: tool, stop: (signal) => void child.kill(signal), exited });
  });
}
