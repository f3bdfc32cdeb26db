// `moon run relay-server:template|diff|upgrade -- --instance personal|family`:
// the chart deployed directly with the pinned helm, without Flux (a cluster
// without Flux, break-glass, the local demo), into the namespace, release name
// and storage namespace that the HelmRelease uses, so Flux can adopt it later.
import { commonHelp, newListr, parseFlowArgs, say, step } from "../lib/cli.ts";
import { OperatorError } from "../lib/errors.ts";
import { instanceByName, relayChartPath, relayNamespace, tenant } from "../lib/names.ts";
import { lazySecretSource, secretSourceHelp, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import { diffInstance, upgradeArgs, withKubeconfigFile } from "../lib/relay-release.ts";
import { renderInstanceText } from "../lib/relay-services.ts";
import { type TenantCtx, tenantStep } from "../lib/steps.ts";
import { runTool } from "../lib/tools.ts";

const optionSpecs = {
  ...secretSourceOptionSpecs,
  instance: { type: "string" },
  timeout: { type: "string", default: "10m" },
  "no-wait": { type: "boolean", default: false },
} as const;

const help = `Usage: moon run relay-server:template -- --instance personal|family
       moon run relay-server:diff     -- --instance personal|family [cluster options]
       moon run relay-server:upgrade  -- --instance personal|family [--no-wait] [--timeout 10m] [cluster options]

template  renders the instance with its values file (apps/docs-prod/relay-<instance>/values.yaml)
diff      what upgrade would change in ${tenant.app}: the rendered objects against the live ones
          (server-side dry-run; Secret values are never shown)
upgrade   helm upgrade --install into namespace ${relayNamespace} (release and storage namespace as the
          HelmRelease has them); --atomic with --timeout by default; --no-wait where nothing runs Pods

  --instance NAME                personal or family
  --timeout DURATION             helm's --timeout for upgrade (default 10m)
  --no-wait                      upgrade without --atomic/--wait
${secretSourceHelp}

${commonHelp}`;

export async function main(argv: string[]): Promise<void> {
  const { common, values, positionals, help: wantsHelp } = parseFlowArgs(argv, optionSpecs);
  if (wantsHelp) return void console.log(help);
  const command = positionals[0];
  if (command !== "template" && command !== "diff" && command !== "upgrade") {
    throw new OperatorError(`expected a command template, diff or upgrade; got "${command ?? ""}"; see --help`);
  }
  if (!values.instance) throw new OperatorError("expected --instance personal or family; got none; pass --instance");
  const instance = instanceByName(values.instance as string);

  if (command === "template") {
    return void process.stdout.write(await renderInstanceText(instance));
  }

  const secrets = lazySecretSource(values);
  const steps = [tenantStep<TenantCtx>(common, secrets)];
  if (command === "diff") {
    steps.push(step(`Compare ${instance.release} rendered from ${relayChartPath} with ${tenant.app}`, async (ctx, task) => {
      const changes = await diffInstance(ctx.tenant!, instance);
      for (const c of changes) say(task, c.diff === undefined ? `${c.ref}: would be created` : `${c.ref}: would change\n${c.diff}`);
      const changed = changes.length;
      task.title = `Compare ${instance.release} with ${tenant.app}: ${changed === 0 ? "no change" : `${changed} object${changed === 1 ? "" : "s"} would change`}`;
    }));
  } else {
    steps.push(step(`helm upgrade --install ${instance.release} into ${tenant.app} namespace ${relayNamespace}`, async (ctx, task) => {
      const args = upgradeArgs(instance, { wait: !values["no-wait"], timeout: values.timeout as string, dryRun: common.dryRun });
      const out = await withKubeconfigFile(ctx.tenant!, (kubeconfig) => runTool("helm", [...args, "--kubeconfig", kubeconfig]));
      const status = /STATUS: (\S+)/.exec(out)?.[1] ?? "unknown";
      const revision = /REVISION: (\d+)/.exec(out)?.[1] ?? "?";
      task.title = `helm upgrade --install ${instance.release} into ${tenant.app}: revision ${revision}, ${status}${common.dryRun ? " (dry run)" : ""}`;
      if (values["no-wait"]) say(task, "--no-wait: Helm did not wait for the Pod to be ready");
    }));
  }
  await newListr<TenantCtx>(steps).run({});
}

