// Runs operator flows as an operator would (a separate process, the shipped bundle)
// and plays the parts of the controllers the local API servers lack.
import { type ChildProcess, execFile, execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeClient } from "../../scripts/lib/kube.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { tenant } from "../../scripts/lib/names.ts";
import type { LocalServer } from "./control-plane.ts";

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

/** A flow started in the background: its process (to signal it) and its result once it exits. */
export function startFlow(flow: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): { process: ChildProcess; result: Promise<FlowResult> } {
  let child!: ChildProcess;
  const result = new Promise<FlowResult>((resolve) => {
    child = execFile(process.execPath, [flowRunner, flow, ...args], { cwd: repoRoot, env: { ...process.env, CI: "true", ...env }, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, all: stdout + stderr });
    });
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

export function runCommand(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = repoRoot): Promise<FlowResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: { ...process.env, CI: "true", ...env }, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, all: stdout + stderr });
    });
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

export function client(server: LocalServer): KubeClient {
  return new KubeClient(server.kubeConfig, server.name);
}

/** Seeds the management cluster as Cozystack does: tenant-root and the tenant's admin kubeconfig Secret. */
export async function seedCozystack(mgmt: LocalServer, tenantServer: LocalServer, data?: Record<string, string>): Promise<void> {
  const c = client(mgmt);
  const { namespace, name } = tenant.kubeconfigSecret;
  const kubeconfig = Buffer.from(tenantServer.kubeConfig.exportConfig()).toString("base64");
  await c.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }, { fieldManager: "cozystack" });
  await c.apply(
    { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, data: data ?? { "super-admin.conf": kubeconfig, "admin.conf": kubeconfig } },
    { fieldManager: "cozystack" },
  );
}

/**
 * Plays Flux's kustomize-controller: marks a Kustomization Ready (or not) through its
 * status, for the object's current generation unless `observedGeneration` says otherwise.
 */
export async function setFluxReady(server: LocalServer, kind: string, apiVersion: string, namespace: string, name: string, ready: boolean, message: string, observedGeneration?: number): Promise<void> {
  const c = client(server);
  const ref = { apiVersion, kind, metadata: { name, namespace } };
  const live = (await c.get(ref)) as { metadata: { generation?: number } } | undefined;
  await c.patchStatus(ref, {
    observedGeneration: observedGeneration ?? live?.metadata.generation ?? 1,
    conditions: [{ type: "Ready", status: ready ? "True" : "False", reason: ready ? "ReconciliationSucceeded" : "ReconciliationFailed", message, lastTransitionTime: new Date().toISOString() }],
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A local secrets file for --secrets-from local. */
export function localSecretsFile(dir: string, values: Record<string, string>): string {
  const path = join(dir, "secrets.json");
  writeFileSync(path, JSON.stringify(values), { mode: 0o600 });
  return path;
}

/** A git repository in `dir` holding a copy of the pre-migration third_party/vendir, committed; returns that folder. */
export function preMigrationVendir(dir: string): string {
  const repo = join(dir, "repo");
  const vendir = join(repo, "third_party/vendir");
  cpSync(join(repoRoot, "test/fixtures/vendir/pre-migration"), vendir, { recursive: true });
  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=local", "-c", "user.email=local@localhost", ...args], { cwd: repo, stdio: "ignore" });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-qm", "pre-migration");
  return vendir;
}
