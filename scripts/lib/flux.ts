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
    throw new OperatorError(
      `expected ${client.label} to serve every kind the app contains; missing ${missing.join(", ")}; install Flux there first (Cozystack's FluxCD addon for a tenant), or the CRD of the kind named`,
    );
  }
  const fluxNamespace = objects.find((o) => o.kind === "Kustomization")?.metadata.namespace;
  if (fluxNamespace) {
    const present = await client.get({ apiVersion: "v1", kind: "Namespace", metadata: { name: fluxNamespace } });
    const created = objects.some((o) => o.kind === "Namespace" && o.metadata.name === fluxNamespace);
    if (!present && !created) {
      throw new OperatorError(
        `expected namespace ${fluxNamespace} in ${client.label}, where Flux runs; it does not exist; install Flux there first`,
      );
    }
    lines.push(`Flux namespace ${fluxNamespace} ${present ? "present" : "absent: this apply creates it"}`);
  }
  return lines;
}

/**
 * Asks Flux to reconcile an object now, as `flux reconcile` does, instead of at its
 * next interval; with `force` (a HelmRelease), to run its install or upgrade again
 * even when nothing changed, as `flux reconcile helmrelease --force` does.
 */
export async function requestReconcile(client: KubeClient, ref: Manifest, at: string, force = false): Promise<void> {
  const path = await client.path(ref.apiVersion, ref.kind, ref.metadata.namespace, ref.metadata.name);
  const annotations = {
    "reconcile.fluxcd.io/requestedAt": at,
    ...(force ? { "reconcile.fluxcd.io/forceAt": at } : {}),
  };
  await client.request("PATCH", path, { metadata: { annotations } }, "application/merge-patch+json");
}

/** The pause between two polls of a wait: 2 s, or what is left before `deadline` (at least 0.1 s). */
const pollPause = (deadline: number) =>
  new Promise((r) => setTimeout(r, Math.min(2000, Math.max(100, deadline - Date.now()))));

/**
 * Waits until kustomize-controller has applied `generation` of the Kustomization `root`: it has
 * started the health checks of that generation (its Healthy condition), or ended its attempt
 * (Ready True or False). Until then a HelmRelease value the fix removes is still kustomize-controller's
 * (server-side apply keeps a field another manager co-owns), and a forced reconcile would run it again.
 */
export async function waitApplied(
  client: KubeClient,
  root: Manifest,
  generation: number,
  deadline: number,
  progress: (line: string) => void,
): Promise<void> {
  progress(`waiting for kustomize-controller to apply generation ${generation} of Kustomization ${root.metadata.name}`);
  for (;;) {
    const live = (await client.get(root)) as Live | undefined;
    const applied = live?.status?.conditions?.find(
      (c) =>
        (c.observedGeneration ?? 0) >= generation &&
        (c.type === "Healthy" || (c.type === "Ready" && c.status !== "Unknown")),
    );
    if (applied) return progress(`kustomize-controller applied generation ${generation}: ${applied.message ?? ""}`);
    if (Date.now() >= deadline) {
      const ready = readyCondition(live);
      throw new OperatorError(
        `expected kustomize-controller to apply generation ${generation} of Kustomization ${root.metadata.namespace}/${root.metadata.name} before helm-controller is asked to run the releases again; its last status: ${ready ? `${ready.reason ?? ready.status}: ${ready.message ?? ""}` : "none"}; check \`flux get kustomizations -A\` or raise --timeout`,
      );
    }
    await pollPause(deadline);
  }
}

/**
 * The releases in the order a force must reach them: each after the releases it dependsOn
 * (in the same namespace, among `releases`). helm-controller v1.4.3 drops a force whose first
 * reconcile waits on a dependency: that reconcile records the reconcile request as handled, and
 * the next sees the force as old (fluxcd/pkg apis/meta HandleAnnotationRequest). Forcing a release
 * makes it not Ready while it runs, so its dependents are forced only once it is handled and Ready.
 */
export function forceWaves(releases: readonly Manifest[]): Manifest[][] {
  const key = (ns: string | undefined, name: string) => `${ns ?? ""}/${name}`;
  const byKey = new Map(releases.map((r) => [key(r.metadata.namespace, r.metadata.name), r]));
  const dependsOn = (r: Manifest) =>
    ((r.spec as { dependsOn?: { name: string; namespace?: string }[] } | undefined)?.dependsOn ?? [])
      .map((d) => key(d.namespace ?? r.metadata.namespace, d.name))
      .filter((k) => byKey.has(k));
  const waves: Manifest[][] = [];
  const placed = new Set<string>();
  while (placed.size < byKey.size) {
    const wave = [...byKey].filter(([k, r]) => !placed.has(k) && dependsOn(r).every((d) => placed.has(d)));
    // A cycle (which Flux refuses too): the rest together.
    const next = wave.length > 0 ? wave : [...byKey].filter(([k]) => !placed.has(k));
    for (const [k] of next) placed.add(k);
    waves.push(next.map(([, r]) => r));
  }
  return waves;
}

/** Waits until helm-controller has handled the forced reconcile `at` of each release (status.lastHandledForceAt) and it is Ready. */
export async function waitForceHandled(
  client: KubeClient,
  releases: readonly Manifest[],
  at: string,
  deadline: number,
  progress: (line: string) => void,
): Promise<void> {
  for (const hr of releases) {
    for (;;) {
      const live = (await client.get(hr)) as Live | undefined;
      const ready = readyCondition(live);
      if (live?.status?.lastHandledForceAt === at && ready?.status === "True") {
        progress(`HelmRelease ${hr.metadata.name}: forced reconcile handled, Ready: ${ready.message ?? ""}`);
        break;
      }
      if (Date.now() >= deadline) {
        throw new OperatorError(
          `expected helm-controller to handle the forced reconcile of HelmRelease ${hr.metadata.namespace}/${hr.metadata.name} and make it Ready; its last status: ${ready ? `${ready.reason ?? ready.status}: ${ready.message ?? ""}` : "none"}; check \`flux get helmreleases -A\` or raise --timeout`,
        );
      }
      await pollPause(deadline);
    }
  }
}

/**
 * The revision the Kustomization's source has ready for it, e.g. main@sha1:…
 * (undefined while it has none), and why the source is not current: the last fetch
 * failed (the Git server down: the Kustomization stays Ready on the old revision),
 * or it has not yet handled the reconcile asked of it (as `flux reconcile` checks).
 */
async function sourceState(client: KubeClient, kustomization: Live): Promise<{ revision?: string; problem?: string }> {
  const ref = (kustomization.spec as { sourceRef?: { kind: string; name: string; namespace?: string } } | undefined)
    ?.sourceRef;
  if (ref?.kind !== "GitRepository") return {};
  const source = (await client.get({
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: ref.kind,
    metadata: { name: ref.name, namespace: ref.namespace ?? kustomization.metadata.namespace },
  })) as Live | undefined;
  const revision = (source?.status?.artifact as { revision?: string } | undefined)?.revision;
  const name = `GitRepository ${source?.metadata.namespace}/${ref.name}`;
  const cond = readyCondition(source);
  // Nothing to tell before source-controller has written a status (or where none runs).
  if (!cond) return { revision };
  const requested = source?.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];
  if (requested && source?.status?.lastHandledReconcileAt !== requested)
    return { revision, problem: `${name} has not fetched since the reconcile was asked` };
  if (cond?.status === "False")
    return { revision, problem: `${name} ${cond.reason ?? "not Ready"}: ${cond.message ?? ""}` };
  return { revision };
}

/**
 * Whether a Flux object is Ready for the truth: Ready=True for its current spec
 * (status.observedGeneration equal to metadata.generation) and, for a Kustomization,
 * for the revision its GitRepository has now: a Ready left from an earlier spec or
 * revision does not count. `status` says where it stands in words.
 */
async function readiness(client: KubeClient, ref: Manifest): Promise<{ ready: boolean; status: string }> {
  const live = (await client.get(ref)) as Live | undefined;
  const ready = readyCondition(live);
  const generation = (live?.metadata as { generation?: number } | undefined)?.generation;
  const observed = live?.status?.observedGeneration;
  const current = observed !== undefined && observed === generation;
  const source = live && ref.kind === "Kustomization" ? await sourceState(client, live) : {};
  const wanted = source.revision;
  const applied = live?.status?.lastAppliedRevision as string | undefined;
  if (ready?.status === "True" && current && (!wanted || applied === wanted) && !source.problem)
    return { ready: true, status: `Ready: ${ready.message ?? ""}` };
  if (source.problem)
    return {
      ready: false,
      status: `${ready?.status === "True" ? `Ready for revision ${applied ?? "none"}, but ` : ""}${source.problem}`,
    };
  if (ready && !current)
    return {
      ready: false,
      status: `${ready.reason ?? ready.status} for generation ${observed ?? "none"}, but the spec is at generation ${generation}: Flux has not reconciled the change yet`,
    };
  if (ready?.status === "True")
    return {
      ready: false,
      status: `Ready for revision ${applied ?? "none"}, but the source has ${wanted}: Flux has not applied it yet`,
    };
  if (ready) return { ready: false, status: `${ready.reason ?? ready.status}: ${ready.message ?? ""}` };
  return { ready: false, status: live ? "no status yet" : "not found" };
}

/** Waits until `readiness` says Ready, by `deadline` (`timeoutMs` from now unless given: the wait the operator asked for); `progress` gets each status change. */
export async function waitReady(
  client: KubeClient,
  ref: Manifest,
  timeoutMs: number,
  progress: (line: string) => void,
  related: readonly Manifest[] = [],
  deadline = Date.now() + timeoutMs,
): Promise<void> {
  let last = "no status yet";
  let said = "";
  for (;;) {
    const now = await readiness(client, ref);
    if (now.ready) return progress(now.status);
    if (now.status !== "no status yet" && now.status !== "not found") last = now.status;
    // A line when the status changes, not at every poll.
    if (last !== said) progress(`waiting: ${(said = last)}`);
    if (Date.now() >= deadline) {
      const why = await notReady(client, related);
      throw new OperatorError(
        `expected ${ref.kind} ${ref.metadata.namespace}/${ref.metadata.name} to be Ready within ${Math.round(timeoutMs / 1000)} s; Flux's last status: ${last}${why}; check \`flux get kustomizations -A\` or raise --timeout`,
      );
    }
    await pollPause(deadline);
  }
}

/** What holds a Kustomization back: Flux's own message for each related object that is not Ready. */
async function notReady(client: KubeClient, related: readonly Manifest[]): Promise<string> {
  const lines: string[] = [];
  for (const obj of related) {
    const cond = readyCondition((await client.get(obj)) as Live | undefined);
    if (cond?.status !== "True")
      lines.push(
        `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name} ${cond ? `${cond.reason ?? "not Ready"}: ${cond.message ?? ""}` : "has no status yet"}`,
      );
  }
  return lines.length ? `; not Ready: ${lines.join("; ")}` : "";
}
