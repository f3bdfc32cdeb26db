// Applies a set of manifests by server-side apply: namespaces first, then the
// rest in parallel, reporting created / configured / unchanged per object in the
// manifests' order (so the output reads the same on every run).
import { type ApplyAction, type KubeClient, type Manifest, KubeApiError, KubeUnreachableError } from "./kube.ts";
import { OperatorError } from "./errors.ts";
import { recordApplied } from "./interrupt.ts";

export const fieldManager = "setup-docs-flows";

export interface Applied {
  ref: string;
  action: ApplyAction;
  /** Set in a dry run when the object's namespace would be created by this apply. */
  note?: string;
}

export function refOf(obj: Manifest): string {
  const ns = obj.metadata.namespace;
  return `${obj.kind} ${ns ? `${ns}/` : ""}${obj.metadata.name}`;
}

export async function applyAll(
  client: KubeClient,
  objects: readonly Manifest[],
  opts: { dryRun: boolean },
  report: (a: Applied) => void,
): Promise<Applied[]> {
  const namespaces = objects.filter((o) => o.kind === "Namespace").map(withNamespaceLabel);
  const rest = objects.filter((o) => o.kind !== "Namespace");
  const results: Applied[] = [];
  const newNamespaces = new Set<string>();
  const one = async (obj: Manifest): Promise<Applied> => {
    const ns = obj.metadata.namespace;
    let applied: Applied;
    if (opts.dryRun && ns && newNamespaces.has(ns)) {
      // A dry run cannot place an object in a namespace that does not exist yet.
      applied = { ref: refOf(obj), action: "created", note: `namespace ${ns} is new, so not checked by the server` };
    } else {
      applied = { ref: refOf(obj), action: (await client.apply(obj, { fieldManager, dryRun: opts.dryRun })).action };
      if (!opts.dryRun && applied.action !== "unchanged") recordApplied(`${applied.ref} ${applied.action}`);
    }
    if (obj.kind === "Namespace" && applied.action === "created") newNamespaces.add(obj.metadata.name);
    return applied;
  };
  for (const phase of [namespaces, rest]) {
    // Every apply of a phase settles before a failure is reported, so the error can say exactly what changed.
    const settled = await Promise.allSettled(phase.map(one));
    const failed = settled.findIndex((s) => s.status === "rejected");
    settled.forEach((s) => s.status === "fulfilled" && results.push(s.value));
    if (failed >= 0)
      throw applyFailure(
        client,
        phase[failed]!,
        (settled[failed] as PromiseRejectedResult).reason,
        results,
        opts.dryRun,
      );
    for (const applied of results.slice(-settled.length)) report(applied);
  }
  return results;
}

/** The first failed apply of a phase, with what the apply did change before it stopped. */
function applyFailure(
  client: KubeClient,
  obj: Manifest,
  error: unknown,
  done: readonly Applied[],
  dryRun: boolean,
): unknown {
  const changed = done.filter((a) => a.action !== "unchanged").map((a) => `${a.ref} ${a.action}`);
  const what = dryRun
    ? "nothing was changed (dry run)"
    : changed.length > 0
      ? `applied before the failure: ${changed.join(", ")}`
      : "nothing was changed";
  // The API server went away mid-apply (and stayed away while the request was retried): say what was applied, a re-run does the rest.
  if (error instanceof KubeUnreachableError)
    return new OperatorError(`${error.message}; ${what}; run again once it answers`);
  if (!(error instanceof KubeApiError)) return error;
  const answer = error.explained
    ? error.message
    : `expected ${client.label} to accept ${refOf(obj)}; it answered ${error.code}: ${error.message}`;
  return new OperatorError(`${answer}; ${what}; fix the cause and run again`);
}

/**
 * The API server puts this label on every Namespace; owning it in the apply keeps a
 * second apply a true no-op (without it the first re-apply rewrites managedFields).
 */
function withNamespaceLabel(ns: Manifest): Manifest {
  const metadata = ns.metadata;
  return {
    ...ns,
    metadata: { ...metadata, labels: { ...metadata.labels, "kubernetes.io/metadata.name": metadata.name } },
  };
}

export function summary(results: readonly Applied[], dryRun: boolean): string {
  const count = (a: ApplyAction) => results.filter((r) => r.action === a).length;
  return `${count("created")} created, ${count("configured")} configured, ${count("unchanged")} unchanged${dryRun ? " (dry run)" : ""}`;
}
