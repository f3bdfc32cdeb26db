// relay-helm's steps, loaded once its command line is parsed and checked (scripts/flows/relay-helm.ts).
import { exitCodes, newListr, say, step } from "../../lib/cli.ts";
import { relayChartPath, relayNamespace, tenant } from "../../lib/names.ts";
import { lazySecretSource } from "../../lib/onepassword.ts";
import { diffInstance, upgradeArgs, withKubeconfigFile, withPodWatch } from "../../lib/relay-release.ts";
import { renderInstanceText } from "../../lib/relay-services.ts";
import { type TenantCtx, tenantStep } from "../../lib/steps.ts";
import { runTool } from "../../lib/tools.ts";
import type { Args } from "../relay-helm.ts";

/** Exit code 1 from diff when something would change (as `kubectl diff`). */
export async function run({ common, values, command, instance, timeout, extraValues }: Args): Promise<number> {
  if (command === "template") {
    process.stdout.write(await renderInstanceText(instance, extraValues));
    return exitCodes.ok;
  }

  const secrets = lazySecretSource(values);
  const steps = [tenantStep<TenantCtx>(common, secrets)];
  let changed = 0;
  if (command === "diff") {
    steps.push(step(`Compare ${instance.release} rendered from ${relayChartPath} with ${tenant.app}`, async (ctx, task) => {
      const changes = await diffInstance(ctx.tenant!, instance, extraValues);
      for (const c of changes) say(task, c.diff === undefined ? `${c.ref}: would be created` : `${c.ref}: would change\n${c.diff}`);
      changed = changes.length;
      task.title = `Compare ${instance.release} with ${tenant.app}: ${changed === 0 ? "no change" : `${changed} object${changed === 1 ? "" : "s"} would change`}`;
    }));
  } else {
    steps.push(step(`helm upgrade --install ${instance.release} into ${tenant.app} namespace ${relayNamespace}`, async (ctx, task) => {
      const wait = !values["no-wait"];
      const args = upgradeArgs(instance, { wait, timeout, dryRun: common.dryRun, extraValues });
      const helm = () => withKubeconfigFile(ctx.tenant!, (kubeconfig) => runTool("helm", [...args, "--kubeconfig", kubeconfig]));
      const out = wait && !common.dryRun ? await withPodWatch(ctx.tenant!, instance, helm) : await helm();
      const status = /STATUS: (\S+)/.exec(out)?.[1] ?? "unknown";
      const revision = /REVISION: (\d+)/.exec(out)?.[1] ?? "?";
      task.title = `helm upgrade --install ${instance.release} into ${tenant.app}: revision ${revision}, ${status}${common.dryRun ? " (dry run)" : ""}`;
      if (values["no-wait"]) say(task, "--no-wait: Helm did not wait for the Pod to be ready");
    }));
  }
  await newListr<TenantCtx>(steps).run({});
  return changed > 0 ? exitCodes.changes : exitCodes.ok;
}

