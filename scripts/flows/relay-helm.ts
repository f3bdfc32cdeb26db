// `moon run relay-server:template|diff|upgrade -- --instance personal|family`:
// the chart deployed directly with the pinned helm, without Flux (a cluster
// without Flux, break-glass, the local demo), into the namespace, release name
// and storage namespace that the HelmRelease uses, so Flux can adopt it later.
import { clusterOptionSpecs, commonHelp, exitCodes, goDuration, newListr, parseDuration, parseFlowArgs, say, step, UsageError } from "../lib/cli.ts";
import { instanceByName, relayChartPath, relayNamespace, tenant } from "../lib/names.ts";
import { lazySecretSource, secretSourceHelp, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import { diffInstance, upgradeArgs, withKubeconfigFile, withPodWatch } from "../lib/relay-release.ts";
import { renderInstanceText } from "../lib/relay-services.ts";
import { type TenantCtx, tenantStep } from "../lib/steps.ts";
import { runTool } from "../lib/tools.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
  ...secretSourceOptionSpecs,
  instance: { type: "string" },
  values: { type: "string", multiple: true },
  timeout: { type: "string", default: "10m" },
  "no-wait": { type: "boolean", default: false },
} as const;

const help = `Usage: moon run relay-server:template -- --instance personal|family [--values FILE]...
       moon run relay-server:diff     -- --instance personal|family [--values FILE]... [cluster options]    (exit 1: would change)
       moon run relay-server:upgrade  -- --instance personal|family [--values FILE]... [--no-wait] [--timeout 10m] [cluster options]

template  renders the instance with its values file (apps/docs-prod/relay-<instance>/values.yaml)
diff      what upgrade would change in ${tenant.app}: the rendered objects against the live ones
          (server-side dry-run; Secret values are never shown)
upgrade   helm upgrade --install into namespace ${relayNamespace} (release and storage namespace as the
          HelmRelease has them); --atomic with --timeout by default; --no-wait where nothing runs Pods.
          When the release does not become ready, the error names what its Pods showed while helm
          waited (a waiting reason such as ErrImagePull, a crash loop's last log lines)

  --instance NAME                personal or family
  --values FILE                  a values file on top of the instance's own (repeatable, applied in order,
                                 as helm -f); for a break-glass override. Flux does not see it: the next
                                 reconcile of the HelmRelease puts the instance's values back
  --timeout DURATION             how long upgrade waits for the release to be ready (helm's --timeout;
                                 default 10m)
  --no-wait                      upgrade without --atomic/--wait
${secretSourceHelp}

${commonHelp}`;

/** Exit code 1 from diff when something would change (as `kubectl diff`). */
export async function main(argv: string[]): Promise<number> {
  const { common, values, positionals } = parseFlowArgs(argv, optionSpecs, help);
  const command = positionals[0];
  if (command !== "template" && command !== "diff" && command !== "upgrade") {
    throw new UsageError(`expected a command template, diff or upgrade; got "${command ?? ""}"; see --help`);
  }
  if (positionals.length > 1) throw new UsageError(`expected one command; got ${positionals.join(" ")}; see --help`);
  if (!values.instance) throw new UsageError("expected --instance personal or family; got none; pass --instance");
  const timeout = goDuration(parseDuration(values.timeout as string));
  const extraValues = (values.values as string[] | undefined) ?? [];
  let instance;
  try {
    instance = instanceByName(values.instance as string);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }

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

