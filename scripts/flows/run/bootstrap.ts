// bootstrap's steps, loaded once its command line is parsed (scripts/flows/bootstrap.ts).
import { type Applied, applyAll, summary } from "../../lib/apply.ts";
import { appByName, buildApp, readPatches, sourcePatches, withPatchesKept } from "../../lib/apps.ts";
import { newListr, parseDuration, say, step, type Step, UsageError } from "../../lib/cli.ts";
import { secretRefs } from "../../lib/connect-secrets.ts";
import { OperatorError } from "../../lib/errors.ts";
import { preflight, requestReconcile, waitReady } from "../../lib/flux.ts";
import type { KubeClient, Manifest } from "../../lib/kube.ts";
import { lazySecretSource } from "../../lib/onepassword.ts";
import { managementStep, type ManagementCtx, type SecretCtx, secretSteps, tenantStep } from "../../lib/steps.ts";
import type { Args } from "../bootstrap.ts";

interface Ctx extends SecretCtx, ManagementCtx {
  objects?: Manifest[];
}

export async function run({ common, values }: Args): Promise<void> {
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

