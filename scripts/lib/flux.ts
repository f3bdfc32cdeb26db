// What bootstrap asks of Flux's side of a cluster: its CRDs and namespace before
// the apply, and the root Kustomization's Ready condition after it.
import { OperatorError } from "./errors.ts";
import { KubeApiError, type KubeClient, type Live, type Manifest, readyCondition } from "./kube.ts";

/**
 * Checks that the cluster answers, serves every kind the built objects contain (Flux's
 * CRDs among them), and has (or gets) Flux's namespace; returns what to print.
 */
export async function preflight(client: KubeClient, objects: Manifest[]): Promise<string[]> {
  const lines: string[] = [];
  const version = await client.request<{ gitVersion: string }>("GET", "/version");
  lines.push(`${client.label} answers (Kubernetes ${version.gitVersion})`);
  const kinds = new Map(objects.map((o) => [`${o.kind} (${o.apiVersion})`, o]));
  const missing: string[] = [];
  for (const [kind, obj] of [...kinds].sort(([a], [b]) => a.localeCompare(b))) {
    try {
      await client.path(obj.apiVersion, obj.kind);
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.code !== 404) throw error;
      missing.push(kind);
    }
  }
  if (missing.length > 0) {
    throw new OperatorError(`expected ${client.label} to serve every kind the app contains; missing ${missing.join(", ")}; install Flux there first (Cozystack's FluxCD addon for a tenant), or the CRD of the kind named`);
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

/**
 * Waits until a Flux object is Ready=True for its current spec (status.observedGeneration
 * equal to metadata.generation: a Ready left from an earlier spec does not count);
 * `progress` gets each status seen.
 */
export async function waitReady(client: KubeClient, ref: Manifest, timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no status yet";
  for (;;) {
    const live = (await client.get(ref)) as Live | undefined;
    const ready = readyCondition(live);
    const generation = (live?.metadata as { generation?: number } | undefined)?.generation;
    const observed = live?.status?.observedGeneration;
    const current = observed !== undefined && observed === generation;
    if (ready?.status === "True" && current) return progress(`Ready: ${ready.message ?? ""}`);
    if (ready && !current) last = `${ready.reason ?? ready.status} for generation ${observed ?? "none"}, but the spec is at generation ${generation}: Flux has not reconciled the change yet`;
    else if (ready) last = `${ready.reason ?? ready.status}: ${ready.message ?? ""}`;
    progress(`waiting: ${last}`);
    if (Date.now() >= deadline) {
      throw new OperatorError(`expected ${ref.kind} ${ref.metadata.namespace}/${ref.metadata.name} to be Ready within ${Math.round(timeoutMs / 1000)} s; Flux's last status: ${last}; check \`flux get kustomizations -A\` or raise --timeout`);
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(100, deadline - Date.now()))));
  }
}
