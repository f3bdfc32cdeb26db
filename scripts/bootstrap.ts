// `moon run docs-prod:bootstrap` / `moon run docs-infra-prod:bootstrap`: applies an
// app folder to its cluster by server-side apply and waits for its root
// Kustomization, so Flux takes over from there.
import { parseAllDocuments } from "yaml";
import { applyAll, summary } from "./lib/apply.ts";
import { commonHelp, newListr, OperatorError, parseFlowArgs, runMain, say, step, isEntryPoint, type Step, type Task } from "./lib/cli.ts";
import { managementClient } from "./lib/clusters.ts";
import { KubeApiError, type KubeClient, type Manifest } from "./lib/kube.ts";
import { management, tenant } from "./lib/names.ts";
import { secretSourceHelp, secretSourceOptionSpecs } from "./lib/onepassword.ts";
import { runTool } from "./lib/tools.ts";
import { lazySecretSource, type SecretCtx, secretRefs, secretSteps, tenantStep } from "./create-1password-secret.ts";

const apps = {
  "docs-prod": { path: tenant.appPath, kustomization: tenant.kustomization, cluster: tenant.app },
  "docs-infra-prod": { path: management.appPath, kustomization: management.kustomization, cluster: management.cluster },
} as const;
type AppName = keyof typeof apps;

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

interface Ctx extends SecretCtx {
  cluster?: KubeClient;
  objects?: Manifest[];
}

const fluxKinds = [
  ["source.toolkit.fluxcd.io/v1", "GitRepository"],
  ["kustomize.toolkit.fluxcd.io/v1", "Kustomization"],
  ["helm.toolkit.fluxcd.io/v2", "HelmRelease"],
] as const;

export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new OperatorError(`expected a duration like 90s, 5m or 1h; got "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unit;
}

/** Points the GitRepository(s) at a development branch (the PRD's development flow). */
export function withBranch(objects: Manifest[], branch: string | undefined): Manifest[] {
  if (!branch) return objects;
  return objects.map((o) =>
    o.kind === "GitRepository" ? { ...o, spec: { ...(o.spec as object), ref: { branch } } } : o,
  );
}

export async function buildApp(path: string): Promise<Manifest[]> {
  const out = await runTool("kubectl", ["kustomize", path]);
  return parseAllDocuments(out).map((d) => d.toJS() as Manifest).filter(Boolean);
}

async function preflight(client: KubeClient, objects: Manifest[], task: Task<Ctx>): Promise<void> {
  const version = await client.request<{ gitVersion: string }>("GET", "/version");
  say(task, `${client.label} answers (Kubernetes ${version.gitVersion})`);
  const missing: string[] = [];
  for (const [apiVersion, kind] of fluxKinds) {
    try {
      await client.path(apiVersion, kind);
    } catch (error) {
      if (!(error instanceof KubeApiError) || error.code !== 404) throw error;
      missing.push(`${kind} (${apiVersion})`);
    }
  }
  if (missing.length > 0) {
    throw new OperatorError(`expected Flux's CRDs in ${client.label}; missing ${missing.join(", ")}; install Flux there first (Cozystack's FluxCD addon for a tenant)`);
  }
  const fluxNamespace = objects.find((o) => o.kind === "Kustomization")?.metadata.namespace;
  if (fluxNamespace) {
    const present = await client.get({ apiVersion: "v1", kind: "Namespace", metadata: { name: fluxNamespace } });
    const created = objects.some((o) => o.kind === "Namespace" && o.metadata.name === fluxNamespace);
    if (!present && !created) {
      throw new OperatorError(`expected namespace ${fluxNamespace} in ${client.label}, where Flux runs; it does not exist; install Flux there first`);
    }
    say(task, `Flux namespace ${fluxNamespace} ${present ? "present" : "absent: this apply creates it"}`);
  }
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

async function waitReady(client: KubeClient, ref: Manifest, timeoutMs: number, task: Task<Ctx>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no status yet";
  for (;;) {
    const live = (await client.get(ref)) as (Manifest & { status?: { conditions?: Condition[] } }) | undefined;
    const ready = live?.status?.conditions?.find((c) => c.type === "Ready");
    if (ready?.status === "True") return void say(task, `Ready: ${ready.message ?? ""}`);
    if (ready) last = `${ready.reason ?? ready.status}: ${ready.message ?? ""}`;
    say(task, `waiting: ${last}`);
    if (Date.now() >= deadline) {
      throw new OperatorError(`expected Kustomization ${ref.metadata.namespace}/${ref.metadata.name} to be Ready within ${Math.round(timeoutMs / 1000)} s; Flux's last status: ${last}; check \`flux get kustomizations -A\` or raise --timeout`);
    }
    await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(100, deadline - Date.now()))));
  }
}

export async function main(argv: string[]): Promise<void> {
  const { common, values, help: wantsHelp } = parseFlowArgs(argv, optionSpecs);
  if (wantsHelp) return void console.log(help);
  const appName = values.app as string;
  if (!(appName in apps)) throw new OperatorError(`expected --app ${Object.keys(apps).join(" or ")}; got "${appName}"`);
  const app = apps[appName as AppName];
  const timeoutMs = parseDuration(values.timeout as string);
  const secrets = lazySecretSource(values);
  const isTenant = appName === "docs-prod";
  // docs-prod goes to the tenant (ctx.tenant, shared with create-1password-secret), docs-infra-prod to ctx.cluster.
  const cluster = (ctx: Ctx): KubeClient => (isTenant ? ctx.tenant : ctx.cluster)!;

  const steps: Step<Ctx>[] = [
    isTenant
      ? tenantStep<Ctx>(common, secrets)
      : step(`Read the management kubeconfig${common.managementContext ? ` (context ${common.managementContext})` : ""}`, async (ctx, task) => {
          ctx.cluster = await managementClient(common);
          say(task, `${ctx.cluster.label} at ${ctx.cluster.server}`);
        }),
    step(`Build ${app.path} with kubectl kustomize`, async (ctx, task) => {
      ctx.objects = withBranch(await buildApp(app.path), values.branch as string | undefined);
      task.title = `Build ${app.path} with kubectl kustomize: ${ctx.objects.length} objects${values.branch ? `, GitRepository on branch ${values.branch}` : ""}`;
    }),
    step(`Check that ${app.cluster} is reachable and serves Flux's CRDs`, (ctx, task) => preflight(cluster(ctx), ctx.objects!, task)),
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
      return waitReady(cluster(ctx), ref, timeoutMs, task);
    }, { skip: () => (common.dryRun ? "dry run" : values["no-wait"] ? "--no-wait" : false) }),
  );
  await newListr<Ctx>(steps).run({});
}

if (isEntryPoint("bootstrap")) process.exitCode = await runMain(() => main(process.argv.slice(2)));
