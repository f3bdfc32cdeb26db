// Builds the local Kubernetes program (test/platform/build/go/kube: apiserver with etcd,
// controller-manager, scheduler, kubelet, proxy in one multi-call binary) with Go
// from the module proxy, once: later calls reuse it while its sources and Go are unchanged.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../../scripts/lib/paths.ts";

const run = promisify(execFile);
const moduleDir = join(repoRoot, "test/platform/build/go/kube");
const outDir = join(repoRoot, ".cache/kube");
export const kubeBinary = join(outDir, "kube");

/** The Kubernetes version the program embeds, as go.mod pins it. */
export function kubernetesVersion(): string {
  const match = /k8s\.io\/kubernetes (v\d+\.\d+\.\d+)/.exec(readFileSync(join(moduleDir, "go.mod"), "utf8"));
  if (!match?.[1]) throw new Error(`expected a k8s.io/kubernetes requirement in ${moduleDir}/go.mod; found none`);
  return match[1];
}

async function goVersion(): Promise<string> {
  try {
    return (await run("go", ["version"])).stdout.trim();
  } catch {
    throw new Error("expected Go (1.24 or newer) on PATH to build the local Kubernetes program; it was not found; install Go, then run again");
  }
}

async function sourceStamp(): Promise<string> {
  const hash = createHash("sha256").update(await goVersion());
  const files = readdirSync(moduleDir).filter((f) => f === "go.mod" || f === "go.sum" || f.endsWith(".go")).sort();
  for (const file of files) hash.update(file).update(readFileSync(join(moduleDir, file)));
  return hash.digest("hex");
}

/** Returns the path of the `kube` binary built from the current sources, building it if needed. */
export async function ensureKubeBinary(log: (line: string) => void = () => {}): Promise<string> {
  const stamp = await sourceStamp();
  const stampFile = join(outDir, "stamp");
  if (existsSync(kubeBinary) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) {
    return kubeBinary;
  }
  mkdirSync(outDir, { recursive: true });
  const version = kubernetesVersion();
  const [major, minor] = version.slice(1).split(".");
  const pkg = "k8s.io/component-base/version";
  const ldflags = `-s -w -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}`;
  const tmp = `${kubeBinary}.tmp-${process.pid}`;
  log(`building the local Kubernetes ${version} program with Go (a first build takes several minutes)`);
  const started = Date.now();
  try {
    await run("go", ["build", "-o", tmp, "-ldflags", ldflags, "."], { cwd: moduleDir, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    rmSync(tmp, { force: true });
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`expected \`go build\` of test/platform/build/go/kube to succeed; it failed:\n${stderr.trim()}`);
  }
  renameSync(tmp, kubeBinary);
  writeFileSync(stampFile, stamp);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return kubeBinary;
}
