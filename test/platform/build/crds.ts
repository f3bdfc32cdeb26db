// The real Flux and 1Password CRDs, read from their Go modules in the module
// cache (downloaded through the Go module proxy), so no third-party YAML is committed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseManifests } from "../../../scripts/lib/yaml.ts";
import { goModuleDir } from "./shell.ts";

/** Flux 2.7's controllers and the 1Password operator, pinned. */
const modules = {
  source: "github.com/fluxcd/source-controller@v1.7.3",
  kustomize: "github.com/fluxcd/kustomize-controller@v1.7.3",
  helm: "github.com/fluxcd/helm-controller@v1.4.3",
  onePassword: "github.com/1Password/onepassword-operator@v1.8.1",
} as const;

const crdFiles = {
  GitRepository: [modules.source, "source.toolkit.fluxcd.io_gitrepositories.yaml"],
  HelmRepository: [modules.source, "source.toolkit.fluxcd.io_helmrepositories.yaml"],
  HelmChart: [modules.source, "source.toolkit.fluxcd.io_helmcharts.yaml"],
  Kustomization: [modules.kustomize, "kustomize.toolkit.fluxcd.io_kustomizations.yaml"],
  HelmRelease: [modules.helm, "helm.toolkit.fluxcd.io_helmreleases.yaml"],
  OnePasswordItem: [modules.onePassword, "onepassword.com_onepassworditems.yaml"],
} as const;

export type CrdName = keyof typeof crdFiles;
export const fluxCrds: readonly CrdName[] = [
  "GitRepository",
  "HelmRepository",
  "HelmChart",
  "Kustomization",
  "HelmRelease",
];
export const allCrds: readonly CrdName[] = [...fluxCrds, "OnePasswordItem"];

export interface CrdObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
}

/** A module's folder in the Go module cache; a failed download names the module. */
async function moduleDir(module: string): Promise<string> {
  try {
    return await goModuleDir(module);
  } catch (error) {
    throw new Error(
      `expected \`go mod download ${module}\` to fetch the CRDs' module; it failed: ${(error as Error).message}`,
    );
  }
}

export async function readCrd(name: CrdName): Promise<CrdObject> {
  const [module, file] = crdFiles[name];
  const path = join(await moduleDir(module), "config/crd/bases", file);
  const crd = parseManifests(readFileSync(path, "utf8"), path).find((d) => d.kind === "CustomResourceDefinition") as
    CrdObject | undefined;
  if (!crd) throw new Error(`expected a CustomResourceDefinition in ${path}; found none`);
  return crd;
}

/** Module directories the CRDs are read from (downloads them if needed). */
export async function crdSources(): Promise<string[]> {
  return Promise.all(Object.values(modules).map(moduleDir));
}
