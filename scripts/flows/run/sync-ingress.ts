// sync-ingress's steps, loaded once its command line is parsed (scripts/flows/sync-ingress.ts).
import { exitCodes, newListr, say, step } from "../../lib/cli.ts";
import { OperatorError } from "../../lib/errors.ts";
import { writeIfChanged } from "../../lib/files.ts";
import { describeFile, hostsWithoutRule, type IngressFileResult, type InstanceResult, listMirrors, matchInstances, missingRuleProblem, planIngressFiles, readTenantServices, resolveIngressFiles } from "../../lib/ingress-sync.ts";
import type { KubeClient } from "../../lib/kube.ts";
import type { ServiceObject } from "../../lib/mirrors.ts";
import { managementClient } from "../../lib/clusters.ts";
import { management, relayChartPath, tenant } from "../../lib/names.ts";
import { lazySecretSource } from "../../lib/onepassword.ts";
import { displayPath } from "../../lib/paths.ts";
import { relayServices, type RelayService } from "../../lib/relay-services.ts";
import { managementStep, tenantStep } from "../../lib/steps.ts";
import type { Args } from "../sync-ingress.ts";

/** Several problems become one error on one line. */
function failWith(problems: readonly string[]): void {
  if (problems.length > 0) throw new OperatorError(problems.join("; "));
}

interface Ctx {
  tenant?: KubeClient;
  management?: KubeClient;
  services?: RelayService[];
  live?: (ServiceObject | undefined)[];
  instances?: InstanceResult[];
}

/** Exit code 1 when --check finds a file out of date. */
export async function run({ common, values }: Args): Promise<number> {
  const json = values.json;
  let planned: IngressFileResult[] = [];
  let instances: InstanceResult[] = [];
  const files = resolveIngressFiles(values["ingress-file"]);
  const check = values.check;
  const secrets = lazySecretSource(values);
  const fileTitle = files.map((f) => displayPath(f)).join(", ");
  // The chart is rendered (unless cached) and the mirrors are listed while the tenant
  // is read; each answer, or its error, is looked at in its own step, in order.
  const rendering = relayServices();
  const mirrorsEarly = managementClient(common).then(listMirrors);
  for (const early of [rendering, mirrorsEarly]) early.catch(() => {});

  await newListr<Ctx>([
    tenantStep(common, secrets),
    step(`Derive the relay Services from ${relayChartPath}`, async (ctx, task) => {
      ctx.services = await rendering;
      say(task, ctx.services.map((s) => `${s.instance.release}: Service ${s.namespace}/${s.name} port ${s.port.name ? `${s.port.name} ` : ""}${s.port.port}, host ${s.host}`).join("\n"));
    }),
    step(`Read the relay Services in ${tenant.app}`, async (ctx, task) => {
      task.title = `Read Services ${ctx.services!.map((s) => `${s.namespace}/${s.name}`).join(", ")} in ${tenant.app}`;
      ctx.live = await readTenantServices(ctx.tenant!, ctx.services!);
      // What can be told from the tenant alone fails here, before the management cluster's answer is looked at.
      const tenantSide = new Set(["missing", "not-load-balancer", "no-port"]);
      failWith(matchInstances(ctx.services!, ctx.live, []).flatMap((i) => (i.problemKind && tenantSide.has(i.problemKind) ? [i.problem!] : [])));
      say(task, ctx.live.map((s, i) => `${ctx.services![i]!.name}: ${s ? `type ${s.spec?.type ?? "ClusterIP"}, UID ${s.metadata.uid}` : "not found"}`).join("\n"));
    }),
    managementStep(common),
    step(`Find the KubeVirt CCM mirrors in ${management.tenantNamespace} of ${management.cluster}`, async (ctx, task) => {
      const mirrors = await mirrorsEarly;
      ctx.instances = matchInstances(ctx.services!, ctx.live!, mirrors);
      failWith(ctx.instances.flatMap((i) => (i.problem ? [i.problem] : [])));
      say(task, ctx.instances.map((i) => `${i.host} → Service ${i.mirror} port ${i.backend!.port.number} (mirror of ${i.service})`).join("\n"));
    }),
    step(`${check ? "Check" : "Update"} ${fileTitle}${common.dryRun && !check ? " (dry run)" : ""}`, (ctx, task) => {
      planned = planIngressFiles(files, ctx.instances!);
      failWith(planned.flatMap((f) => (f.problem ? [f.problem] : [])));
      // Every instance must have its rule: a missing one fails before anything is written.
      const missing = hostsWithoutRule(ctx.instances!, planned);
      failWith(ctx.instances!.filter((i) => missing.includes(i.host)).map((i) => missingRuleProblem(i.host, i.release, planned)));
      const output: string[] = [];
      for (const f of planned) {
        if (f.upToDate) output.push(`${f.display}: up to date`);
        else if (check || common.dryRun) output.push(f.diff.trimEnd(), `${f.display}: would change`);
        else output.push(writeIfChanged(f.path, f.content).diff.trimEnd(), `${f.display}: updated`);
        const detail = describeFile(f);
        if (detail) output.push(detail);
      }
      say(task, output.join("\n"));
    }),
  ], { silent: json }).run({}).then((ctx) => {
    instances = ctx.instances!;
  });
  const stale = planned.filter((f) => !f.upToDate);
  const outOfDate = check && stale.length > 0;
  if (json) {
    const report = {
      ok: !outOfDate,
      check,
      dryRun: common.dryRun,
      files: planned.map((f) => ({ file: f.display, upToDate: f.upToDate, changes: f.changes, foreignHosts: f.foreignHosts })),
      instances: instances.map((i) => ({ host: i.host, service: i.service, mirror: i.mirror, port: i.backend?.port.number })),
    };
    console.log(JSON.stringify(report, null, 2));
  }
  if (!outOfDate) return exitCodes.ok;
  for (const f of stale) {
    process.stderr.write(`✖ ${f.display} is out of date (${f.changes.length === 1 ? "1 backend differs" : `${f.changes.length} backends differ`} from the CCM mirrors); run sync-ingress (moon run docs-infra-prod:sync-ingress)\n`);
  }
  return exitCodes.changes;
}

