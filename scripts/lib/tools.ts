// Runs helm and kubectl: the pinned ones on linux-x64, the operator's own from
// PATH elsewhere, checked against the oldest version the flows are tested with
// (scripts/build/toolchain.mjs decides; TOOLS_HELM / TOOLS_KUBECTL name another
// binary on purpose, as the tests do for helm 4). The calls go through
// node:child_process rather than zx: importing zx costs 130-175 ms, which is
// most of a flow's start-up on the paths that shell out (sync-ingress --check,
// bootstrap).
import { execFile } from "node:child_process";
import { resolveTool } from "../build/toolchain.mjs";
import { OperatorError } from "./errors.ts";
import { trackChild } from "./interrupt.ts";
import { repoRoot } from "./paths.ts";

export type Tool = "helm" | "kubectl";

/** The binary a flow runs for `tool`; one line naming what is missing or too old, and how to get it, when there is none to run. */
export function toolPath(tool: Tool): string {
  try {
    return resolveTool(tool).path;
  } catch (error) {
    throw new OperatorError((error as Error).message);
  }
}

/** Runs helm or kubectl and returns its stdout; a failure carries the tool's stderr. */
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
