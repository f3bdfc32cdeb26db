// The two app folders Flux reconciles, and building one with the pinned kubectl
// kustomize into the objects bootstrap applies and verify reads.
import { parseAllDocuments } from "yaml";
import { OperatorError } from "./errors.ts";
import type { Manifest } from "./kube.ts";
import { management, tenant } from "./names.ts";
import { runTool } from "./tools.ts";

export const apps = {
  "docs-prod": { path: tenant.appPath, kustomization: tenant.kustomization, cluster: tenant.app, isTenant: true },
  "docs-infra-prod": { path: management.appPath, kustomization: management.kustomization, cluster: management.cluster, isTenant: false },
} as const;

export type AppName = keyof typeof apps;
export type App = (typeof apps)[AppName];

export function appByName(name: string): App {
  if (!(name in apps)) throw new OperatorError(`expected --app ${Object.keys(apps).join(" or ")}; got "${name}"`);
  return apps[name as AppName];
}

/** `kubectl kustomize <path>`, parsed. */
export async function buildApp(path: string): Promise<Manifest[]> {
  const out = await runTool("kubectl", ["kustomize", path]);
  return parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter(Boolean);
}

/** Points the GitRepository(s) at a development branch. */
export function withBranch(objects: Manifest[], branch: string | undefined): Manifest[] {
  if (!branch) return objects;
  return objects.map((o) =>
    o.kind === "GitRepository" ? { ...o, spec: { ...(o.spec as object), ref: { branch } } } : o,
  );
}
