// `moon run docs-prod:bootstrap` / `moon run docs-infra-prod:bootstrap`: applies an
// app folder to its cluster by server-side apply and waits for its root
// Kustomization, so Flux takes over from there.
import { type Applied, applyAll, summary } from "../lib/apply.ts";
import { appByName, buildApp, readPatches, sourcePatches, withPatchesKept } from "../lib/apps.ts";
import { clusterOptionSpecs, commonHelp, newListr, parseDuration, parseFlowArgs, say, step, type Step, UsageError } from "../lib/cli.ts";
import { secretRefs } from "../lib/connect-secrets.ts";
import { OperatorError } from "../lib/errors.ts";
import { preflight, requestReconcile, waitReady } from "../lib/flux.ts";
import type { KubeClient, Manifest } from "../lib/kube.ts";
import { tenant } from "../lib/names.ts";
import { lazySecretSource, secretSourceHelp, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import { managementStep, type ManagementCtx, type SecretCtx, secretSteps, tenantStep } from "../lib/steps.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
  ...secretSourceOptionSpecs,
  app: { type: "string", default: "docs-prod" },
  branch: { type: "string" },
  "git-url": { type: "string" },
  patches: { type: "string" },
  timeout: { type: "string", default: "5m" },
  "no-wait": { type: "boolean", default: false },
  "skip-secrets": { type: "boolean", default: false },
  "credentials-ref": { type: "string" },
  "token-ref": { type: "string" },
  json: { type: "boolean", default: false },
} as const;

const help = `Usage: moon run docs-prod:bootstrap -- [options]
       moon run docs-infra-prod:bootstrap -- [options]

Applies apps/<app> (built with the pinned kubectl kustomize) to its cluster by
server-side apply, namespaces first, and waits for the root Kustomization to be Ready.
docs-prod goes to ${tenant.app} and first writes the 1Password Connect Secrets
(create-1password-secret, in-process); docs-infra-prod goes to the management cluster.

  --app NAME                     docs-prod (default) or docs-infra-prod
  --branch NAME                  point the GitRepository at this branch (a development branch)
  --git-url URL                  point the GitRepository at this repository URL (e.g. a local
                                 git server); both are kept as patches in the root Kustomization,
                                 so Flux does not put the URL or branch of the file back
  --patches FILE                 a YAML list of kustomize patches (a Flux Kustomization's
                                 spec.patches) applied here and kept in the root Kustomization:
                                 what a cluster other than production needs (the local demo)
  --timeout DURATION             how long to wait for the root Kustomization to be Ready (default 5m;
                                 e.g. 90s, 1m30s)
  --no-wait                      apply and return without waiting
  --skip-secrets                 leave out create-1password-secret (docs-prod)
  --json                         print one JSON object (ok, app, cluster, each object's action, ready)
                                 and nothing else on stdout
  --credentials-ref, --token-ref as in create-1password-secret
${secretSourceHelp}

${commonHelp}`;

interface Ctx extends SecretCtx, ManagementCtx {
  objects?: Manifest[];
}

export async function main(argv: string[]): Promise<void> {
  const { common, values } = parseFlowArgs(argv, optionSpecs, help);
  let app;
  try {
    app = appByName(values.app as string);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const timeoutMs = parseDuration(values.timeout as string);
  const json = values.json;
  let applied: Applied[] = [];
  let ready: "ready" | "not waited" = "not waited";
  const secrets = lazySecretSource(values);
  const isTenant = app.isTenant;
  // docs-prod goes to the tenant (ctx.tenant, shared with the Connect Secrets steps), docs-infra-prod to ctx.management.
  const cluster = (ctx: Ctx): KubeClient => (isTenant ? ctx.tenant : ctx.management)!;

  const steps: Step<Ctx>[] = [
    isTenant ? tenantStep<Ctx>(common, secrets) : managementStep<Ctx>(common),
    step(`Build ${app.path} with kubectl kustomize`, async (ctx, task) => {
      const plain = await buildApp(app.path);
      const source = { url: values["git-url"] as string | undefined, branch: values.branch as string | undefined };
      const patches = [...sourcePatches(plain, source), ...(values.patches ? readPatches(values.patches as string) : [])];
      const objects = withPatchesKept(patches.length ? await buildApp(app.path, patches) : plain, app.kustomization, patches);
      ctx.objects = objects;
      if (source.url || source.branch) say(task, `GitRepository at ${[source.url, source.branch && `branch ${source.branch}`].filter(Boolean).join(", ")}`);
      if (values.patches) say(task, `${patches.length - sourcePatches(plain, source).length} patch(es) from ${values.patches as string}`);
      task.title = `Build ${app.path} with kubectl kustomize: ${objects.length} objects${patches.length ? `, ${patches.length} patch(es) kept in Kustomization ${app.kustomization}` : ""}`;
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
      const results = (applied = await applyAll(cluster(ctx), ctx.objects!, { dryRun: common.dryRun }, (a) => say(task, `${a.ref} ${a.action}${a.note ? ` (${a.note})` : ""}`)));
      task.title = `Apply ${results.length} objects to ${app.cluster}: ${summary(results, common.dryRun)}`;
    }),
    step(`Wait for Kustomization ${app.kustomization} to be Ready`, async (ctx, task) => {
      const ref = ctx.objects!.find((o) => o.kind === "Kustomization" && o.metadata.name === app.kustomization);
      if (!ref) throw new OperatorError(`expected Kustomization ${app.kustomization} in ${app.path}; it is not there; restore ${app.path}/kustomization-root.yaml`);
      // As `flux reconcile kustomization --with-source`: fetch the source and apply now, not at the next interval.
      const at = new Date().toISOString();
      for (const obj of ctx.objects!.filter((o) => o.kind === "GitRepository" || o === ref)) await requestReconcile(cluster(ctx), obj, at);
      const releases = ctx.objects!.filter((o) => o.kind === "HelmRelease");
      return waitReady(cluster(ctx), ref, timeoutMs, (line) => say(task, line), releases).then(() => void (ready = "ready"));
    }, { skip: () => (common.dryRun ? "dry run" : values["no-wait"] ? "--no-wait" : false) }),
  );
  await newListr<Ctx>(steps, { silent: json }).run({});
  if (json) {
    const report = { ok: true, app: values.app, cluster: app.cluster, dryRun: common.dryRun, summary: summary(applied, common.dryRun), objects: applied, kustomization: { name: app.kustomization, status: ready } };
    console.log(JSON.stringify(report, null, 2));
  }
}

