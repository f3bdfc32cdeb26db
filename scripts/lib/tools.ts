// Runs helm and kubectl: the pinned ones on linux-x64, the operator's own from
// PATH elsewhere, checked against the oldest version the flows are tested with
// (scripts/build/toolchain.mjs decides; TOOLS_HELM / TOOLS_KUBECTL name another
// binary on purpose, as the tests do for helm 4). The calls go through
// node:child_process rather than zx: importing zx costs 130-175 ms, which is
// most of a flow's start-up on the paths that shell out (sync-ingress --check,
// bootstrap).
import { spawn } from "node:child_process";
import { resolveTool } from "../build/toolchain.mjs";
import { OperatorError } from "./errors.ts";
import { type Child, trackChild } from "./interrupt.ts";
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

export interface ToolOptions extends Pick<Child, "onInterrupt" | "settled"> {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/**
 * Runs helm or kubectl and returns its stdout; a failure carries the tool's stderr.
 * The tool runs in a process group of its own: a Ctrl-C or a closed terminal reaches
 * the flow alone, which decides how the tool stops (helm --atomic must be let undo
 * an upgrade, not be cut short by the same signal).
 */
export function runTool(tool: Tool, args: readonly string[], opts: ToolOptions = {}): Promise<string> {
  const path = toolPath(tool);
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on("error", () => {}); // the tool may exit before reading all its input
    child.stdin.end(opts.input ?? "");
    const failed = (why: string) =>
      new Error(`${tool} ${args.join(" ")} failed (${why}): ${Buffer.concat(stderr).toString("utf8").trim()}`);
    child.once("error", (error) => reject(failed(error.message)));
    child.once("close", (code, signal) =>
      code === 0 ? resolve(Buffer.concat(stdout).toString("utf8")) : reject(failed(`exit ${code ?? signal ?? "?"}`)),
    );
    // An interrupt stops the tool and waits for it (helm --atomic rolls back before it exits).
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    trackChild({
      name: tool,
      stop: (signal) => void child.kill(signal),
      exited,
      onInterrupt: opts.onInterrupt,
      settled: opts.settled,
    });
  });
}
