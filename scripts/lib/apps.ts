// Building an app folder (names.ts lists the two Flux reconciles) with the pinned
// kubectl kustomize into the objects bootstrap applies and verify reads.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseDocument, stringify } from "yaml";
import { describeFsError, OperatorError } from "./errors.ts";
import { privateTempDir } from "./files.ts";
import type { Manifest } from "./kube.ts";
import { repoRoot } from "./paths.ts";
import { runTool } from "./tools.ts";
import { parseManifests, throwYamlError } from "./yaml.ts";

/** A kustomize patch, as a Flux Kustomization's spec.patches holds it. */
export interface Patch {
  patch: string;
  target?: Record<string, string>;
}

/** Reads a YAML list of patches (Flux's spec.patches format); an operator mistake is one line. */
export function readPatches(path: string): Patch[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new OperatorError(
      `expected a YAML list of kustomize patches in ${path} (--patches); ${describeFsError(error)}; pass an existing, readable file`,
    );
  }
  const doc = parseDocument(text);
  throwYamlError(text, path, doc.errors);
  const list: unknown = doc.toJS();
  if (!Array.isArray(list) || list.some((p) => typeof (p as Patch | null)?.patch !== "string")) {
    throw new OperatorError(
      `expected a YAML list of patches in ${path}, each with a "patch" string (and an optional "target"), as in a Flux Kustomization's spec.patches; found something else; fix the file`,
    );
  }
  return list as Patch[];
}

/** The patch that points the app's GitRepository at another URL or branch (none when neither is given). */
export function sourcePatches(objects: readonly Manifest[], source: { url?: string; branch?: string }): Patch[] {
  const repo = objects.find((o) => o.kind === "GitRepository");
  if (!repo || (!source.url && !source.branch)) return [];
  const ops = [
    ...(source.url ? [{ op: "replace", path: "/spec/url", value: source.url }] : []),
    ...(source.branch ? [{ op: "replace", path: "/spec/ref", value: { branch: source.branch } }] : []),
  ];
  return [{ target: { kind: "GitRepository", name: repo.metadata.name }, patch: stringify(ops) }];
}

/** `kubectl kustomize <path>`, parsed; with patches, as Flux builds it when its Kustomization carries them. */
export async function buildApp(path: string, patches: readonly Patch[] = []): Promise<Manifest[]> {
  if (patches.length === 0)
    return parseManifests(await runTool("kubectl", ["kustomize", path]), `kubectl kustomize ${path}`);
  const dir = privateTempDir("app-patches-", "build the app with the patches");
  try {
    // kustomize takes a relative resource only; the app stays where it is.
    writeFileSync(
      join(dir, "kustomization.yaml"),
      stringify({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: [relative(dir, resolve(repoRoot, path))],
        patches,
      }),
    );
    return parseManifests(
      await runTool("kubectl", ["kustomize", "--load-restrictor", "LoadRestrictionsNone", dir]),
      `kubectl kustomize ${path} with its patches`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The root Kustomization with the patches added, so Flux keeps applying what bootstrap applied. */
export function withPatchesKept(objects: Manifest[], kustomization: string, patches: readonly Patch[]): Manifest[] {
  if (patches.length === 0) return objects;
  return objects.map((o) => {
    if (o.kind !== "Kustomization" || o.metadata.name !== kustomization) return o;
    const spec = (o.spec ?? {}) as { patches?: Patch[] };
    return { ...o, spec: { ...spec, patches: [...(spec.patches ?? []), ...patches] } };
  });
}
