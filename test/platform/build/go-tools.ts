// Builds the Go programs the checks and tests run beside the pinned tools: helm 4
// (test/platform/build/go/helm4) and kubeconform (test/platform/build/go/kubeconform), each from a Go module
// of ours that requires it through the Go module proxy, into .cache/go-tools/<dir>/.
// A binary is reused while its module's go.mod and go.sum and Go's version are unchanged.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../../scripts/lib/paths.ts";

const run = promisify(execFile);

interface GoTool {
  /** The folder of our module under test/platform/build/go, and the binary's name. */
  dir: string;
  /** The module that provides the program, as go.mod requires it. */
  module: string;
  /** The main package, built with `go build`. */
  pkg: string;
  /** -X flags that set the version the program reports, as its own release build sets them. */
  versionFlags: (version: string) => string[];
}

export const goTools = {
  helm4: {
    dir: "helm4",
    module: "helm.sh/helm/v4",
    pkg: "helm.sh/helm/v4/cmd/helm",
    // helm's Makefile: version, empty metadata for a tagged release.
    versionFlags: (v) => [
      `-X helm.sh/helm/v4/internal/version.version=${v}`,
      "-X helm.sh/helm/v4/internal/version.metadata=",
      "-X helm.sh/helm/v4/internal/version.gitTreeState=clean",
    ],
  },
  kubeconform: {
    dir: "kubeconform",
    module: "github.com/yannh/kubeconform",
    pkg: "github.com/yannh/kubeconform/cmd/kubeconform",
    // kubeconform's release build (goreleaser) sets main.version.
    versionFlags: (v) => [`-X main.version=${v}`],
  },
} satisfies Record<string, GoTool>;

export type GoToolName = keyof typeof goTools;

const moduleDir = (name: GoToolName) => join(repoRoot, "test/platform/build/go", goTools[name].dir);
const outDir = (name: GoToolName) => join(repoRoot, ".cache/go-tools", goTools[name].dir);
export const goToolBinary = (name: GoToolName) => join(outDir(name), name);

/** The version our module requires, e.g. v4.3.2. */
export function goToolVersion(name: GoToolName): string {
  const goMod = readFileSync(join(moduleDir(name), "go.mod"), "utf8");
  const escaped = goTools[name].module.replace(/[.\\/]/g, "\\$&");
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped} (v\\S+)`, "m").exec(goMod);
  if (!match?.[1])
    throw new Error(
      `expected test/platform/build/go/${goTools[name].dir}/go.mod to require ${goTools[name].module}; found no such line`,
    );
  return match[1];
}

async function goVersion(): Promise<string> {
  try {
    return (await run("go", ["version"])).stdout.trim();
  } catch {
    throw new Error(
      "expected Go (1.26 or newer) on PATH to build helm 4 and kubeconform; it was not found; install Go, then run again",
    );
  }
}

function stamp(name: GoToolName, go: string): string {
  const hash = createHash("sha256").update(go);
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(moduleDir(name), file)));
  return hash.digest("hex");
}

/** The binary built from the current module files, building it first if needed. */
export async function ensureGoTool(
  name: GoToolName,
  log: (line: string) => void = () => {},
): Promise<{ binary: string; buildSeconds?: number }> {
  const want = stamp(name, await goVersion());
  const binary = goToolBinary(name);
  const stampFile = join(outDir(name), "stamp");
  if (existsSync(binary) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === want) return { binary };
  mkdirSync(outDir(name), { recursive: true });
  const { pkg, versionFlags } = goTools[name];
  const version = goToolVersion(name);
  const tmp = `${binary}.tmp-${process.pid}`;
  log(`building ${pkg} ${version} with Go`);
  const started = Date.now();
  try {
    const ldflags = ["-s", "-w", ...versionFlags(version)].join(" ");
    await run("go", ["build", "-trimpath", "-ldflags", ldflags, "-o", tmp, pkg], {
      cwd: moduleDir(name),
      env: { ...process.env, CGO_ENABLED: "0" },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    rmSync(tmp, { force: true });
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(
      `expected \`go build ${pkg}\` in test/platform/build/go/${goTools[name].dir} to succeed; it failed:\n${stderr.trim()}`,
    );
  }
  renameSync(tmp, binary);
  writeFileSync(stampFile, want);
  const buildSeconds = Math.round((Date.now() - started) / 1000);
  log(`built ${name} in ${buildSeconds} s`);
  return { binary, buildSeconds };
}
