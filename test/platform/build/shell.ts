// Shelling out, which is most of what the builders do (go, cargo, tar, umoci,
// mmdebstrap, ctr): zx runs each command, quiet, with one error shape that names
// the command and the last lines it printed. Start-up does not matter here, so zx's
// import cost does not either (the flows call their tools through node:child_process).
// Also the one way a Go program of ours is built and kept up to date.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { $, ProcessOutput } from "zx";

/** Runs `command args…` and returns its stdout; a failure names the command, its exit code and its last stderr lines. */
export async function sh(
  command: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  try {
    return (await $({ cwd: opts.cwd, env: { ...process.env, ...opts.env }, quiet: true })`${command} ${args}`).stdout;
  } catch (error) {
    if (!(error instanceof ProcessOutput)) throw error;
    if (error.exitCode === 127)
      throw new Error(`expected \`${command}\` on PATH; it is missing (see .ci/run for what installs it)`);
    const tail = (error.stderr || error.stdout).trim().split("\n").slice(-20).join("\n");
    throw new Error(`expected \`${command} ${args.join(" ")}\` to succeed; it exited ${error.exitCode}:\n${tail}`);
  }
}

/** `go version`, part of every Go build's cache key; one line saying how to get Go when it is missing. */
export async function goVersion(): Promise<string> {
  try {
    return (await sh("go", ["version"])).trim();
  } catch {
    throw new Error(
      "expected Go (1.25 or newer) on PATH to build the local platform's programs; it was not found; install Go, then run again",
    );
  }
}

const moduleDirs = new Map<string, Promise<string>>();

/** Where the Go module cache holds `module@version` (downloading it once per process), outside any module of ours. */
export function goModuleDir(module: string): Promise<string> {
  let dir = moduleDirs.get(module);
  if (!dir) {
    dir = sh("go", ["mod", "download", "-json", module], { cwd: tmpdir() }).then(
      (out) => (JSON.parse(out) as { Dir: string }).Dir,
    );
    dir.catch(() => moduleDirs.delete(module));
    moduleDirs.set(module, dir);
  }
  return dir;
}

export interface GoBinary {
  /** What is built, for the log line, e.g. "Flux source-controller v1.7.3". */
  what: string;
  /** Our Go module that requires it. */
  moduleDir: string;
  binary: string;
  /** A hash of what the binary is built from (Go's version, the module's files); equal means up to date. */
  stamp: string;
  /** `go build` arguments, without -o. */
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** Builds a Go program into `binary` unless the stamp beside it matches; the new binary replaces the old one at once. */
export async function ensureGoBinary(o: GoBinary): Promise<{ binary: string; buildSeconds?: number }> {
  const stampFile = join(dirname(o.binary), "stamp");
  if (existsSync(o.binary) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === o.stamp)
    return { binary: o.binary };
  mkdirSync(dirname(o.binary), { recursive: true });
  const tmp = `${o.binary}.tmp-${process.pid}`;
  o.log?.(`building ${o.what} with Go (a first build takes minutes)`);
  const started = Date.now();
  try {
    await sh("go", ["build", "-o", tmp, ...o.args], { cwd: o.moduleDir, env: o.env });
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  renameSync(tmp, o.binary);
  writeFileSync(stampFile, o.stamp);
  const buildSeconds = Math.round((Date.now() - started) / 1000);
  o.log?.(`built ${o.what} in ${buildSeconds} s`);
  return { binary: o.binary, buildSeconds };
}
