// One relay instance deployed with helm directly (without Flux): what an upgrade
// would change in the live cluster, and the helm command that makes it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { fieldManager, refOf } from "./apply.ts";
import { writeKubeconfig } from "./clusters.ts";
import { unifiedDiff } from "./files.ts";
import { oneLine, OperatorError } from "./errors.ts";
import { onCleanup } from "./interrupt.ts";
import { KubeApiError, type KubeClient, type Manifest, withoutBookkeeping } from "./kube.ts";
import { relayChartPath, relayNamespace, type RelayInstance } from "./names.ts";
import { podTrouble, type PodTrouble } from "./pods.ts";
import { renderInstance, valuesArgs } from "./relay-services.ts";

/** An object as YAML for a diff, without server bookkeeping and with Secret values masked. */
export function diffable(obj: Manifest | undefined, other?: Manifest): string {
  if (!obj) return "";
  const clean = withoutBookkeeping(obj);
  if (obj.kind === "Secret") {
    const mine = (obj.data ?? {}) as Record<string, string>;
    const theirs = (other?.data ?? {}) as Record<string, string>;
    clean.data = Object.fromEntries(Object.keys(mine).map((k) => [k, mine[k] === theirs[k] ? "<redacted>" : "<redacted, differs>"]));
  }
  return stringify(clean);
}

export async function withKubeconfigFile<T>(client: KubeClient, run: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "relay-helm-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const unregister = onCleanup(`the temporary kubeconfig ${dir}`, remove);
  try {
    const path = join(dir, "tenant.kubeconfig");
    writeKubeconfig(client.kubeConfig, path);
    return await run(path);
  } finally {
    remove();
    unregister();
  }
}

/** One object that an upgrade would create or change: its reference and a unified diff. */
export interface ObjectChange {
  ref: string;
  diff?: string;
}

/** The rendered objects of an instance against the live ones (server-side dry-run); unchanged objects are left out. */
export async function diffInstance(client: KubeClient, instance: RelayInstance, extraValues: readonly string[] = []): Promise<ObjectChange[]> {
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
export function upgradeArgs(instance: RelayInstance, opts: { wait: boolean; timeout: string; dryRun: boolean; extraValues?: readonly string[] }): string[] {
  const args = ["upgrade", "--install", instance.release, relayChartPath, ...valuesArgs(instance, opts.extraValues), "--namespace", relayNamespace, "--create-namespace"];
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
    const next = seen.crashLoop ? "a failing bucket listing at start means S3 credentials, endpoint or path style" : "fix the values, or create what the message names, and run again";
    throw new OperatorError(`${oneLine((error as Error).message)}; while helm waited, Pod ${seen.waiting}${logs}; ${next}`);
  } finally {
    clearInterval(timer);
  }
}
