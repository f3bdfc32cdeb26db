// `moon run docs-prod:bootstrap` / `moon run docs-infra-prod:bootstrap`: applies an
// app folder to its cluster by server-side apply and waits for its root
// Kustomization, so Flux takes over from there.
import { applyAll, summary } from "../lib/apply.ts";
import { appByName, buildApp, withBranch } from "../lib/apps.ts";
import { commonHelp, newListr, parseDuration, parseFlowArgs, say, step, type Step } from "../lib/cli.ts";
import { secretRefs } from "../lib/connect-secrets.ts";
import { OperatorError } from "../lib/errors.ts";
import { preflight, waitReady } from "../lib/flux.ts";
import type { KubeClient, Manifest } from "../lib/kube.ts";
import { tenant } from "../lib/names.ts";
import { lazySecretSource, secretSourceHelp, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import { managementStep, type ManagementCtx, type SecretCtx, secretSteps, tenantStep } from "../lib/steps.ts";

const optionSpecs = {
  ...secretSourceOptionSpecs,
  app: { type: "string", default: "docs-prod" },
  branch: { type: "string" },
  timeout: { type: "string", default: "5m" },
  "no-wait": { type: "boolean", default: false },
  "skip-secrets": { type: "boolean", default: false },
  "credentials-ref": { type: "string" },
  "token-ref": { type: "string" },
} as const;

const help = `Usage: moon run docs-prod:bootstrap -- [options]
       moon run docs-infra-prod:bootstrap -- [options]

Applies apps/<app> (built with the pinned kubectl kustomize) to its cluster by
server-side apply, namespaces first, and waits for the root Kustomization to be Ready.
docs-prod goes to ${tenant.app} and first writes the 1Password Connect Secrets
(create-1password-secret, in-process); docs-infra-prod goes to the management cluster.

  --app NAME                     docs-prod (default) or docs-infra-prod
  --branch NAME                  point the GitRepository at this branch for this apply
  --timeout DURATION             how long to wait for Ready (default 5m; e.g. 90s, 10m)
  --no-wait                      apply and return without waiting
  --skip-secrets                 leave out create-1password-secret (docs-prod)
  --credentials-ref, --token-ref as in create-1password-secret
${secretSourceHelp}

${commonHelp}`;

interface Ctx extends SecretCtx, ManagementCtx {
  objects?: Manifest[];
}

export async function main(argv: string[]): Promise<void> {
  const { common, values, help: wantsHelp } = parseFlowArgs(argv, optionSpecs);
  if (wantsHelp) return void console.log(help);
  const app = appByName(values.app as string);
  const timeoutMs = parseDuration(values.timeout as string);
  const secrets = lazySecretSource(values);
  const isTenant = app.isTenant;
  // docs-prod goes to the tenant (ctx.tenant, shared with the Connect Secrets steps), docs-infra-prod to ctx.management.
  const cluster = (ctx: Ctx): KubeClient => (isTenant ? ctx.tenant : ctx.management)!;

  const steps: Step<Ctx>[] = [
    isTenant ? tenantStep<Ctx>(common, secrets) : managementStep<Ctx>(common),
    step(`Build ${app.path} with kubectl kustomize`, async (ctx, task) => {
      ctx.objects = withBranch(await buildApp(app.path), values.branch as string | undefined);
      task.title = `Build ${app.path} with kubectl kustomize: ${ctx.objects.length} objects${values.branch ? `, GitRepository on branch ${values.branch}` : ""}`;
    }),
    step(`Check that ${app.cluster} is reachable and serves Flux's CRDs`, async (ctx, task) => {
      for (const line of await preflight(cluster(ctx), ctx.objects!)) say(task, line);
    }),
  ];
  if (isTenant && !values["skip-secrets"]) {
    steps.push(step("Write the 1Password Connect Secrets (create-1password-secret)", (_ctx, task) =>
      task.newListr<Ctx>(secretSteps<Ctx>(secretRefs(values), secrets, common.dryRun) as never, { exitOnError: true })));
  }
  steps.push(
    step(`Apply the objects to ${app.cluster}`, async (ctx, task) => {
      const results = await applyAll(cluster(ctx), ctx.objects!, { dryRun: common.dryRun }, (a) => say(task, `${a.ref} ${a.action}${a.note ? ` (${a.note})` : ""}`));
      task.title = `Apply ${results.length} objects to ${app.cluster}: ${summary(results, common.dryRun)}`;
    }),
    step(`Wait for Kustomization ${app.kustomization} to be Ready`, (ctx, task) => {
      const ref = ctx.objects!.find((o) => o.kind === "Kustomization" && o.metadata.name === app.kustomization);
      if (!ref) throw new OperatorError(`expected Kustomization ${app.kustomization} in ${app.path}; it is not there; restore ${app.path}/kustomization-root.yaml`);
      return waitReady(cluster(ctx), ref, timeoutMs, (line) => say(task, line));
    }, { skip: () => (common.dryRun ? "dry run" : values["no-wait"] ? "--no-wait" : false) }),
  );
  await newListr<Ctx>(steps).run({});
}

