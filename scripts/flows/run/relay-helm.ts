// relay-helm's steps, loaded once its command line is parsed and checked (scripts/flows/relay-helm.ts).
import { type CommonOptions, exitCodes, newSteps, type Steps } from "../../lib/cli.ts";
import type { KubeClient } from "../../lib/kube.ts";
import { type RelayInstance, relayChartPath, relayNamespace, tenant } from "../../lib/names.ts";
import { lazySecretSource, type SecretSourceOptions } from "../../lib/onepassword.ts";
import {
  describeRecovery,
  diffInstance,
  pendingRelease,
  recoveryFor,
  releaseHistory,
  releaseState,
  rollbackArgs,
  uninstallArgs,
  upgradeArgs,
  withKubeconfigFile,
  withPodWatch,
} from "../../lib/relay-release.ts";
import { renderInstanceText } from "../../lib/relay-services.ts";
import { readTenant } from "../../lib/steps.ts";
import { runTool, type ToolOptions } from "../../lib/tools.ts";

/** What relay-helm does, as its command line asked (helm's pkg/action Upgrade, filled in by the command). */
export interface RelayHelmOptions {
  command: "template" | "diff" | "upgrade";
  instance: RelayInstance;
  /** Values files on top of the instance's own, in order (helm -f). */
  extraValues: string[];
  cluster: CommonOptions;
  secrets: SecretSourceOptions;
  /** upgrade: helm --atomic --wait with this timeout (Go's format for helm, as typed, in ms); undefined for --no-wait. */
  wait?: { timeout: string; shown: string; ms: number };
  /** upgrade: undo a helm operation left pending before upgrading. */
  recover: boolean;
}

/** Exit code 1 from diff when something would change (as `kubectl diff`). */
export async function run(opts: RelayHelmOptions): Promise<number> {
  const { instance, extraValues, cluster } = opts;
  if (opts.command === "template") {
    process.stdout.write(await renderInstanceText(instance, extraValues));
    return exitCodes.ok;
  }
  const steps = newSteps();
  const tenantClient = await readTenant(steps, cluster, lazySecretSource(opts.secrets));
  if (opts.command === "diff") {
    const changed = await steps.run(
      `Compare ${instance.release} rendered from ${relayChartPath} with ${tenant.app}`,
      async (task) => {
        const changes = await diffInstance(tenantClient, instance, extraValues);
        for (const c of changes)
          task.say(c.diff === undefined ? `${c.ref}: would be created` : `${c.ref}: would change\n${c.diff}`);
        task.title = `Compare ${instance.release} with ${tenant.app}: ${changes.length === 0 ? "no change" : `${changes.length} object${changes.length === 1 ? "" : "s"} would change`}`;
        return changes.length;
      },
    );
    return changed > 0 ? exitCodes.changes : exitCodes.ok;
  }
  await recoverPending(opts, steps, tenantClient);
  await steps.run(
    `helm upgrade --install ${instance.release} into ${tenant.app} namespace ${relayNamespace}`,
    async (task) => {
      const wait = opts.wait;
      const args = upgradeArgs(instance, {
        wait: !!wait,
        timeout: wait?.timeout ?? "",
        dryRun: cluster.dryRun,
        extraValues,
      });
      // Stopped by Ctrl-C, helm --atomic undoes the upgrade (a rollback that waits up to --timeout): told at once, and let finish.
      const interrupt: ToolOptions =
        wait && !cluster.dryRun
          ? {
              onInterrupt: {
                notice: `helm stops the upgrade of ${instance.release} and undoes it (--atomic: back to its last deployed revision, or uninstalled if this was its first install); this can take up to ${wait.shown} (--timeout); waiting for it to finish. A second Ctrl-C kills helm at once, which can leave the release pending`,
                signal: true,
                graceMs: wait.ms + 60_000,
                killed: `helm was killed before it finished: ${instance.release} may be left pending-upgrade or pending-rollback; the next relay-server:upgrade names its state, and --recover undoes it`,
              },
              settled: () => releaseState(tenantClient, instance.release),
            }
          : {};
      const helm = () =>
        withKubeconfigFile(tenantClient, (kubeconfig) =>
          runTool("helm", [...args, "--kubeconfig", kubeconfig], interrupt),
        );
      const out = wait && !cluster.dryRun ? await withPodWatch(tenantClient, instance, helm) : await helm();
      const status = /STATUS: (\S+)/.exec(out)?.[1] ?? "unknown";
      const revision = /REVISION: (\d+)/.exec(out)?.[1] ?? "?";
      task.title = `helm upgrade --install ${instance.release} into ${tenant.app}: revision ${revision}, ${status}${cluster.dryRun ? " (dry run)" : ""}`;
      if (!wait) task.say("--no-wait: Helm did not wait for the Pod to be ready");
    },
  );
  return exitCodes.ok;
}

/**
 * A release whose newest revision an interrupted helm left pending refuses every
 * further helm operation ("another operation is in progress"): found at the start, it
 * is named with the next step, and with --recover undone (rolled back to its last
 * deployed revision, or a first install uninstalled) before the upgrade.
 */
async function recoverPending(opts: RelayHelmOptions, steps: Steps, tenantClient: KubeClient): Promise<void> {
  const { instance, cluster, wait } = opts;
  const release = instance.release;
  const recovery = await steps.run(`Check that no helm operation on ${release} is pending`, async (task) => {
    const history = await releaseHistory(tenantClient, release);
    const found = recoveryFor(history);
    task.say(history[0] ? `revision ${history[0].revision}: ${history[0].status}` : `${release} is not installed yet`);
    if (found.kind !== "none" && !opts.recover) throw pendingRelease(release, found);
    return found;
  });
  if (recovery.kind === "none") return;
  const helmArgs =
    recovery.kind === "rollback"
      ? rollbackArgs(instance, recovery.to, { wait: !!wait, timeout: wait?.timeout ?? "" })
      : uninstallArgs(instance, { wait: !!wait, timeout: wait?.timeout ?? "" });
  const title = `--recover: ${recovery.kind === "rollback" ? `roll ${release} back to revision ${recovery.to}` : `uninstall ${release}`} (revision ${recovery.pending.revision} is ${recovery.pending.status})`;
  if (cluster.dryRun) return steps.skip(title, `dry run: would run helm ${helmArgs.join(" ")}`);
  await steps.run(title, async (task) => {
    // A rollback or uninstall cut short leaves the release pending again: it is let finish.
    const interrupt: ToolOptions = {
      onInterrupt: {
        notice: `helm ${recovery.kind === "rollback" ? "rollback" : "uninstall"} of ${release} is let finish (cut short, it leaves the release pending again); this can take up to ${wait?.shown ?? "a minute"}. A second Ctrl-C kills it`,
        signal: false,
        graceMs: (wait?.ms ?? 0) + 60_000,
        killed: `helm was killed before it finished: ${release} may be left pending; run the same command with --recover again`,
      },
      settled: () => releaseState(tenantClient, release),
    };
    await withKubeconfigFile(tenantClient, (kubeconfig) =>
      runTool("helm", [...helmArgs, "--kubeconfig", kubeconfig], interrupt),
    );
    task.say(`${describeRecovery(release, recovery)}: ${await releaseState(tenantClient, release)}`);
  });
}
