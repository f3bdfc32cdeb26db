// What bootstrap asks of Flux's side of a cluster: its CRDs and namespace before
// the apply, and the root Kustomization's Ready condition after it.
import { OperatorError } from "./errors.ts";
import { KubeApiError, type KubeClient, type Live, type Manifest, readyCondition } from "./kube.ts";

const fluxKinds = [
  ["source.toolkit.fluxcd.io/v1", "GitRepository"],
  ["kustomize.toolkit.fluxcd.io/v1", "Kustomization"],
  ["helm.toolkit.fluxcd.io/v2", "HelmRelease"],
] as const;

/** Checks that the cluster answers, serves Flux's CRDs, and has (or gets) Flux's namespace; returns what to print. */
export async function preflight(client: KubeClient, objects: Manifest[]): Promise<string[]> {
  const lines: string[] = [];
  const version = await client.request<{ gitVersion: string }>("GET", "/version");
  lines.push(`${client.label} answers (Kubernetes ${version.gitVersion})`);
  const missing: string[] = [];
  for (const [apiVersion, kind] of fluxKinds) {
    try {
      await client.path(apiVersion, kind);
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.code !== 404) throw error;
      missing.push(`${kind} (${apiVersion})`);
    }
  }
  if (missing.length > 0) {
    throw new OperatorError(`expected Flux's CRDs in ${client.label}; missing ${missing.join(", ")}; install Flux there first (Cozystack's FluxCD addon for a tenant)`);
  }
  const fluxNamespace = objects.find((o) => o.kind === "Kustomization")?.metadata.namespace;
  if (fluxNamespace) {
    const present = await client.get({ apiVersion: "v1", kind: "Namespace", metadata: { name: fluxNamespace } });
    const created = objects.some((o) => o.kind === "Namespace" && o.metadata.name === fluxNamespace);
    if (!present && !created) {
      throw new OperatorError(`expected namespace ${fluxNamespace} in ${client.label}, where Flux runs; it does not exist; install Flux there first`);
    }
    lines.push(`Flux namespace ${fluxNamespace} ${present ? "present" : "absent: this apply creates it"}`);
  }
  return lines;
}

/** Waits until a Flux object is Ready=True; `progress` gets each status seen. */
export async function waitReady(client: KubeClient, ref: Manifest, timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no status yet";
  for (;;) {
    const ready = readyCondition((await client.get(ref)) as Live | undefined);
    if (ready?.status === "True") return progress(`Ready: ${ready.message ?? ""}`);
    if (ready) last = `${ready.reason ?? ready.status}: ${ready.message ?? ""}`;
    progress(`waiting: ${last}`);
    if (Date.now() >= deadline) {
      throw new OperatorError(`expected ${ref.kind} ${ref.metadata.namespace}/${ref.metadata.name} to be Ready within ${Math.round(timeoutMs / 1000)} s; Flux's last status: ${last}; check \`flux get kustomizations -A\` or raise --timeout`);
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(100, deadline - Date.now()))));
  }
}
