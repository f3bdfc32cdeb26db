// Runs operator commands as an operator would: a flow's shipped bundle through the
// runner (as its moon task does), moon itself, or any command, in a separate process.
import { type ChildProcess, execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/lib/paths.ts";
import type { LocalSystem } from "../platform/index.ts";

export interface FlowResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for "never appears anywhere" checks. */
  all: string;
}

/** Runs a flow the way its moon task does: its bundle through the runner. */
export function runFlow(flow: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<FlowResult> {
  return runCommand(process.execPath, [flowRunner, flow, ...args], env);
}

export const flowRunner = join(repoRoot, "scripts/build/flow.mjs");

/**
 * create-1password-secret from the local system's secret source, as an operator runs it
 * before the first bootstrap: the two Secrets Connect and the 1Password operator read.
 * Once it succeeds, waits until both run (the relays' S3 Secrets come from the operator).
 */
export async function writeOnePasswordSecrets(
  system: Pick<LocalSystem, "tenant" | "secretsFile" | "onePassword">,
): Promise<FlowResult> {
  const result = await runFlow("create-1password-secret", [
    "--tenant-kubeconfig",
    system.tenant.kubeconfigPath,
    "--secrets-from",
    "local",
    "--local-secrets",
    system.secretsFile,
  ]);
  if (result.code === 0) await system.onePassword.ready;
  return result;
}

/** A flow started in the background: its process (to signal it) and its result once it exits. */
export function startFlow(
  flow: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): { process: ChildProcess; result: Promise<FlowResult> } {
  let child!: ChildProcess;
  const result = new Promise<FlowResult>((resolve) => {
    child = execFile(
      process.execPath,
      [flowRunner, flow, ...args],
      { cwd: repoRoot, env: { ...process.env, CI: "true", ...env }, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, all: stdout + stderr });
      },
    );
  });
  return { process: child, result };
}

/** The pids of the running processes whose parent is `parent` and whose command line contains `name`. */
export function childProcesses(parent: number, name: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(name)) found.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

export function runCommand(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  cwd = repoRoot,
): Promise<FlowResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: { ...process.env, CI: "true", ...env }, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr, all: stdout + stderr });
      },
    );
  });
}

export const moonBin = join(repoRoot, "node_modules/.bin/moon");

/**
 * Runs `moon <args>` as an operator's shell does: without CI=true, so the operator
 * tasks (type run, runInCI false) run through `moon run` as typed, with no CI override.
 */
export function runMoon(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = repoRoot): Promise<FlowResult> {
  return runCommand(moonBin, args, { CI: undefined, ...env }, cwd);
}
