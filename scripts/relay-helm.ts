// `moon run relay-server:template|diff|upgrade -- --instance personal|family`:
// the chart deployed directly with the pinned helm, without Flux (a cluster
// without Flux, break-glass, the local demo), into the namespace, release name
// and storage namespace that the HelmRelease uses, so Flux can adopt it later.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { commonHelp, isEntryPoint, newListr, OperatorError, parseFlowArgs, runMain, say, step } from "./lib/cli.ts";
import { writeKubeconfig } from "./lib/clusters.ts";
import { unifiedDiff } from "./lib/files.ts";
import { KubeApiError, type KubeClient, type Manifest, withoutBookkeeping } from "./lib/kube.ts";
import { instanceByName, relayChartPath, relayNamespace, tenant } from "./lib/names.ts";
import { renderInstance, renderInstanceText } from "./lib/relay-services.ts";
import { secretSourceHelp, secretSourceOptionSpecs } from "./lib/onepassword.ts";
import { runTool } from "./lib/tools.ts";
import { lazySecretSource, tenantStep } from "./create-1password-secret.ts";
import { fieldManager } from "./lib/apply.ts";

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

async function withKubeconfigFile<T>(client: KubeClient, run: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "relay-helm-"));
  try {
    const path = join(dir, "tenant.kubeconfig");
    writeKubeconfig(client.kubeConfig, path);
    return await run(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Ctx {
  tenant?: KubeClient;
}

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
  const steps = [tenantStep<Ctx>(common, secrets)];
  if (command === "diff") {
    steps.push(step(`Compare ${instance.release} rendered from ${relayChartPath} with ${tenant.app}`, async (ctx, task) => {
      let changed = 0;
      for (const obj of await renderInstance(instance)) {
        const live = await ctx.tenant!.get(obj);
        const ref = `${obj.kind} ${obj.metadata.namespace}/${obj.metadata.name}`;
        if (!live) {
          changed++;
          say(task, `${ref}: would be created`);
          continue;
        }
        let after: Manifest;
        try {
          const { action, object } = await ctx.tenant!.apply(obj, { fieldManager, dryRun: true, live });
          if (action === "unchanged") continue;
          after = object;
        } catch (error) {
          // The server cannot merge the two (e.g. a list key that drifted): show them side by side.
          if (!(error instanceof KubeApiError)) throw error;
          after = obj;
        }
        changed++;
        say(task, `${ref}: would change\n${unifiedDiff(ref, diffable(live, after), diffable(after, live))}`);
      }
      task.title = `Compare ${instance.release} with ${tenant.app}: ${changed === 0 ? "no change" : `${changed} object${changed === 1 ? "" : "s"} would change`}`;
    }));
  } else {
    steps.push(step(`helm upgrade --install ${instance.release} into ${tenant.app} namespace ${relayNamespace}`, async (ctx, task) => {
      const args = ["upgrade", "--install", instance.release, relayChartPath, "-f", instance.valuesFile, "--namespace", relayNamespace, "--create-namespace"];
      if (!values["no-wait"]) args.push("--atomic", "--wait", "--timeout", values.timeout as string);
      if (common.dryRun) args.push("--dry-run=server");
      const out = await withKubeconfigFile(ctx.tenant!, (kubeconfig) => runTool("helm", [...args, "--kubeconfig", kubeconfig]));
      const status = /STATUS: (\S+)/.exec(out)?.[1] ?? "unknown";
      const revision = /REVISION: (\d+)/.exec(out)?.[1] ?? "?";
      task.title = `helm upgrade --install ${instance.release} into ${tenant.app}: revision ${revision}, ${status}${common.dryRun ? " (dry run)" : ""}`;
      if (values["no-wait"]) say(task, "--no-wait: Helm did not wait for the Pod to be ready");
    }));
  }
  await newListr<Ctx>(steps).run({});
}

if (isEntryPoint("relay-helm")) process.exitCode = await runMain(() => main(process.argv.slice(2)));
