// One relay instance deployed with helm directly (without Flux): what an upgrade
// would change in the live cluster, the helm commands that make it, and the state
// of the release helm keeps (a revision left pending by an interrupted helm).
import { join } from "node:path";
import { stringify } from "yaml";
import { fieldManager, refOf } from "./apply.ts";
import { writeKubeconfig } from "./clusters.ts";
import { unifiedDiff } from "./files.ts";
import { oneLine, OperatorError } from "./errors.ts";
import { KubeApiError, type KubeClient, type Manifest, withoutBookkeeping } from "./kube.ts";
import { relayChartPath, relayNamespace, type RelayInstance, tenant } from "./names.ts";
import { podTrouble, type PodTrouble } from "./pods.ts";
import { withPrivateDir } from "./private-dir.ts";
import { renderInstance, valuesArgs } from "./relay-services.ts";

/** An object as YAML for a diff, without server bookkeeping and with Secret values masked. */
export function diffable(obj: Manifest | undefined, other?: Manifest): string {
  if (!obj) return "";
  const clean = withoutBookkeeping(obj);
  if (obj.kind === "Secret") {
    const mine = (obj.data ?? {}) as Record<string, string>;
    const theirs = (other?.data ?? {}) as Record<string, string>;
    clean.data = Object.fromEntries(
      Object.keys(mine).map((k) => [k, mine[k] === theirs[k] ? "<redacted>" : "<redacted, differs>"]),
    );
  }
  return stringify(clean);
}

/**
 * Runs `run` with the client's kubeconfig in a file helm can read (mode 0600, in a
 * private folder): it holds the tenant admin token, so it is removed when `run` ends,
 * on an interrupt, and by a watchdog when the flow is killed (private-dir.ts).
 */
export function withKubeconfigFile<T>(client: KubeClient, run: (path: string) => Promise<T>): Promise<T> {
  return withPrivateDir(
    { prefix: "relay-helm-", what: "the temporary kubeconfig", purpose: "write the kubeconfig helm reads" },
    (dir) => {
      const path = join(dir, "tenant.kubeconfig");
      writeKubeconfig(client.kubeConfig, path);
      return run(path);
    },
  );
}

/** One revision of a release, as helm's storage (a Secret per revision, labelled owner=helm) records it. */
export interface Revision {
  revision: number;
  /** deployed, superseded, failed, pending-install, pending-upgrade, pending-rollback, uninstalling … */
  status: string;
}

/** The revisions helm keeps of a release in the storage namespace (the HelmRelease's), newest first. */
export async function releaseHistory(client: KubeClient, release: string): Promise<Revision[]> {
  const secrets = await client.list("v1", "Secret", relayNamespace, `owner=helm,name=${release}`);
  return secrets
    .map((s) => ({ revision: Number(s.metadata?.labels?.version), status: s.metadata?.labels?.status ?? "unknown" }))
    .filter((r) => Number.isInteger(r.revision))
    .sort((a, b) => b.revision - a.revision);
}

/** What `--recover` does for a release whose newest revision a helm left pending (pure). */
export type Recovery =
  | { kind: "none" }
  /** Back to the last revision that was deployed: helm rollback. */
  | { kind: "rollback"; pending: Revision; to: number }
  /** A first install left pending has nothing to go back to: helm uninstall removes what it created. */
  | { kind: "uninstall"; pending: Revision };

export function recoveryFor(history: readonly Revision[]): Recovery {
  const latest = history[0];
  if (!latest?.status.startsWith("pending-")) return { kind: "none" };
  const good = history.find((r) => r.status === "deployed") ?? history.find((r) => r.status === "superseded");
  return good ? { kind: "rollback", pending: latest, to: good.revision } : { kind: "uninstall", pending: latest };
}

/** What --recover would do, in words. */
export function describeRecovery(release: string, recovery: Exclude<Recovery, { kind: "none" }>): string {
  return recovery.kind === "rollback"
    ? `rolls ${release} back to revision ${recovery.to}, its last deployed one (helm rollback)`
    : `uninstalls ${release}, whose first install never finished (helm uninstall; its Service comes back with a new UID, so run sync-ingress after the upgrade)`;
}

/** The error for a release found pending at the start of an upgrade: its state and the next step. */
export function pendingRelease(release: string, recovery: Exclude<Recovery, { kind: "none" }>): OperatorError {
  const { revision, status } = recovery.pending;
  return new OperatorError(
    `expected release ${release} in ${tenant.app} to have no helm operation under way; its revision ${revision} is ${status}: a helm that worked on it was interrupted, or one is running now; ` +
      `once no relay-server:upgrade or helm runs against it, run the same command with --recover, which ${describeRecovery(release, recovery)} and then upgrades (runbook: "A release left pending")`,
  );
}

/** The newest revision of a release in words, for the line an interrupt prints. */
export async function releaseState(client: KubeClient, release: string): Promise<string> {
  const [latest] = await releaseHistory(client, release);
  return latest ? `${release} is at revision ${latest.revision}, ${latest.status}` : `${release} has no revision`;
}

/** `helm rollback` to a revision, waiting as the upgrade would. */
export function rollbackArgs(
  instance: RelayInstance,
  revision: number,
  opts: { wait: boolean; timeout: string },
): string[] {
  return [
    "rollback",
    instance.release,
    String(revision),
    "--namespace",
    relayNamespace,
    ...(opts.wait ? ["--wait", "--timeout", opts.timeout] : []),
  ];
}

/** `helm uninstall`, waiting for the objects to go when the upgrade would wait. */
export function uninstallArgs(instance: RelayInstance, opts: { wait: boolean; timeout: string }): string[] {
  return [
    "uninstall",
    instance.release,
    "--namespace",
    relayNamespace,
    ...(opts.wait ? ["--wait", "--timeout", opts.timeout] : []),
  ];
}

/** One object that an upgrade would create or change: its reference and a unified diff. */
export interface ObjectChange {
  ref: string;
  diff?: string;
}

/** The rendered objects of an instance against the live ones (server-side dry-run); unchanged objects are left out. */
export async function diffInstance(
  client: KubeClient,
  instance: RelayInstance,
  extraValues: readonly string[] = [],
): Promise<ObjectChange[]> {
  const changes: ObjectChange[] = [];
  for (const obj of await renderInstance(instance, extraValues)) {
    const live = await client.get(obj);
    const ref = refOf(obj);
    if (!live) {
      changes.push({ ref });
      continue;
    }
    let after: Manifest;
    try {
      const { action, object } = await client.apply(obj, { fieldManager, dryRun: true, live });
      if (action === "unchanged") continue;
      after = object;
    } catch (error) {
      // The server cannot merge the two (e.g. a list key that drifted): show them side by side.
      if (!(error instanceof KubeApiError)) throw error;
      after = obj;
    }
    changes.push({ ref, diff: unifiedDiff(ref, diffable(live, after), diffable(after, live)) });
  }
  return changes;
}

/** `helm upgrade --install` of one instance into the namespace, release and storage namespace its HelmRelease uses. */
export function upgradeArgs(
  instance: RelayInstance,
  opts: { wait: boolean; timeout: string; dryRun: boolean; extraValues?: readonly string[] },
): string[] {
  const args = [
    "upgrade",
    "--install",
    instance.release,
    relayChartPath,
    ...valuesArgs(instance, opts.extraValues),
    "--namespace",
    relayNamespace,
    "--create-namespace",
  ];
  if (opts.wait) args.push("--atomic", "--wait", "--timeout", opts.timeout);
  if (opts.dryRun) args.push("--dry-run=server");
  return args;
}

/**
 * Runs `helm` (upgrade --wait) while watching the instance's Pods: helm's own failure
 * names no cause ("context deadline exceeded"), and --atomic removes the failing Pods
 * before it returns, so what they showed last (a waiting reason, a crash loop's log
 * lines) is kept while it runs and added to its error.
 */
export async function withPodWatch<T>(client: KubeClient, instance: RelayInstance, helm: () => Promise<T>): Promise<T> {
  // Helm's standard instance label, part of the chart's selector labels.
  const labels = { "app.kubernetes.io/instance": instance.release };
  let seen: PodTrouble | undefined;
  let polling: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    polling = polling.then(async () => {
      const now = await podTrouble(client, relayNamespace, labels).catch(() => undefined);
      if (now?.waiting) seen = now;
    });
  }, 2000);
  try {
    return await helm();
  } catch (error) {
    await polling;
    if (!seen) throw error;
    const logs = seen.logLines.length ? `; last lines of its log: ${seen.logLines.join(" | ")}` : "";
    const next = seen.crashLoop
      ? "a failing bucket listing at start means S3 credentials, endpoint or path style"
      : "fix the values, or create what the message names, and run again";
    throw new OperatorError(
      `${oneLine((error as Error).message)}; while helm waited, Pod ${seen.waiting}${logs}; ${next}`,
    );
  } finally {
    clearInterval(timer);
  }
}
