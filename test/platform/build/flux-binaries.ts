// Builds Flux's three controllers (source, kustomize, helm) from the Go module
// proxy, one Go module of ours each (test/platform/build/go/flux/<controller>), into
// .cache/flux/<controller>; later calls reuse a binary while its go.mod, go.sum
// and Go's version are unchanged.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../../scripts/lib/paths.ts";

const run = promisify(execFile);

export const fluxControllers = ["source-controller", "kustomize-controller", "helm-controller"] as const;
export type FluxController = (typeof fluxControllers)[number];

const moduleDir = (c: FluxController) => join(repoRoot, "test/platform/build/go/flux", c);
const outDir = (c: FluxController) => join(repoRoot, ".cache/flux", c);
export const fluxBinary = (c: FluxController) => join(outDir(c), c);

/** The controller version our module pins, e.g. v1.7.3. */
export function fluxControllerVersion(c: FluxController): string {
  const goMod = readFileSync(join(moduleDir(c), "go.mod"), "utf8");
  const match = new RegExp(`^require github\\.com/fluxcd/${c} (v\\S+)$`, "m").exec(goMod);
  if (!match?.[1]) throw new Error(`expected a \`require github.com/fluxcd/${c}\` line in ${moduleDir(c)}/go.mod; found none`);
  return match[1];
}

async function goVersion(): Promise<string> {
  try {
    return (await run("go", ["version"])).stdout.trim();
  } catch {
    throw new Error("expected Go (1.25 or newer) on PATH to build the Flux controllers; it was not found; install Go, then run again");
  }
}

function stamp(c: FluxController, go: string): string {
  const hash = createHash("sha256").update(go);
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(moduleDir(c), file)));
  return hash.digest("hex");
}

export interface BuiltController {
  controller: FluxController;
  binary: string;
  /** Seconds the build took; undefined when the binary was already up to date. */
  buildSeconds?: number;
}

/** Returns a binary built from the current module files, building it if needed. */
export async function ensureFluxBinary(c: FluxController, log: (line: string) => void = () => {}): Promise<BuiltController> {
  const want = stamp(c, await goVersion());
  const binary = fluxBinary(c);
  const stampFile = join(outDir(c), "stamp");
  if (existsSync(binary) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === want) return { controller: c, binary };
  mkdirSync(outDir(c), { recursive: true });
  const version = fluxControllerVersion(c);
  const tmp = `${binary}.tmp-${process.pid}`;
  log(`building Flux ${c} ${version} with Go (a first build takes minutes)`);
  const started = Date.now();
  try {
    await run("go", ["build", "-ldflags", "-s -w", "-o", tmp, `github.com/fluxcd/${c}`], { cwd: moduleDir(c), maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    rmSync(tmp, { force: true });
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`expected \`go build github.com/fluxcd/${c}\` in test/platform/build/go/flux/${c} to succeed; it failed:\n${stderr.trim()}`);
  }
  renameSync(tmp, binary);
  writeFileSync(stampFile, want);
  const buildSeconds = Math.round((Date.now() - started) / 1000);
  log(`built ${c} in ${buildSeconds} s`);
  return { controller: c, binary, buildSeconds };
}

/** Builds the three controllers one after another (each build uses every core). */
export async function ensureFluxBinaries(log: (line: string) => void = () => {}): Promise<Record<FluxController, string>> {
  const out = {} as Record<FluxController, string>;
  for (const c of fluxControllers) out[c] = (await ensureFluxBinary(c, log)).binary;
  return out;
}
