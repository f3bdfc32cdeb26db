// Builds the local Kubernetes program (test/platform/build/go/kube: apiserver with etcd,
// controller-manager, scheduler, kubelet, proxy in one multi-call binary) with Go
// from the module proxy, once: later calls reuse it while its sources and Go are unchanged.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { ensureGoBinary, goVersion } from "./shell.ts";

const moduleDir = join(repoRoot, "test/platform/build/go/kube");
const outDir = join(repoRoot, ".cache/kube");
export const kubeBinary = join(outDir, "kube");

/** The Kubernetes version the program embeds, as go.mod pins it. */
export function kubernetesVersion(): string {
  const match = /k8s\.io\/kubernetes (v\d+\.\d+\.\d+)/.exec(readFileSync(join(moduleDir, "go.mod"), "utf8"));
  if (!match?.[1]) throw new Error(`expected a k8s.io/kubernetes requirement in ${moduleDir}/go.mod; found none`);
  return match[1];
}

async function sourceStamp(): Promise<string> {
  const hash = createHash("sha256").update(await goVersion());
  const files = readdirSync(moduleDir)
    .filter((f) => f === "go.mod" || f === "go.sum" || f.endsWith(".go"))
    .sort();
  for (const file of files) hash.update(file).update(readFileSync(join(moduleDir, file)));
  return hash.digest("hex");
}

/** Returns the path of the `kube` binary built from the current sources, building it if needed. */
export async function ensureKubeBinary(log: (line: string) => void = () => {}): Promise<string> {
  const version = kubernetesVersion();
  const [major, minor] = version.slice(1).split(".");
  const pkg = "k8s.io/component-base/version";
  const ldflags = `-s -w -X ${pkg}.gitVersion=${version} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}`;
  const built = await ensureGoBinary({
    what: `the local Kubernetes ${version} program`,
    moduleDir,
    binary: kubeBinary,
    stamp: await sourceStamp(),
    args: ["-ldflags", ldflags, "."],
    log,
  });
  return built.binary;
}
