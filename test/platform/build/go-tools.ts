// Builds the Go programs the checks and tests run beside the pinned tools: helm 4
// (test/platform/build/go/helm4) and kubeconform (test/platform/build/go/kubeconform), each from a Go module
// of ours that requires it through the Go module proxy, into .cache/go-tools/<dir>/.
// A binary is reused while its module's go.mod and go.sum and Go's version are unchanged.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { ensureGoBinary, goVersion } from "./shell.ts";

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
  const { pkg, versionFlags } = goTools[name];
  const version = goToolVersion(name);
  const ldflags = ["-s", "-w", ...versionFlags(version)].join(" ");
  return ensureGoBinary({
    what: `${pkg} ${version}`,
    moduleDir: moduleDir(name),
    binary: goToolBinary(name),
    stamp: stamp(name, await goVersion()),
    args: ["-trimpath", "-ldflags", ldflags, pkg],
    env: { CGO_ENABLED: "0" },
    log,
  });
}
