// `moon run docs-infra-prod:sync-ingress`: points each relay host's Ingress backend
// at the Service KubeVirt CCM mirrored into tenant-root for that instance.
// checkIngress is the same computation without output or writes (the verify flow uses it).
import { readFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { commonHelp, isEntryPoint, newListr, OperatorError, parseFlowArgs, runMain, say, step } from "./lib/cli.ts";
import { managementClient } from "./lib/clusters.ts";
import { writeIfChanged, unifiedDiff } from "./lib/files.ts";
import { patchIngress, type BackendChange, type ForeignHost } from "./lib/ingress.ts";
import { KubeApiError, type KubeClient } from "./lib/kube.ts";
import { type Backend, matchMirror, type MirrorMatch, mirrorSelector, type ServiceObject } from "./lib/mirrors.ts";
import { management, relayChartPath, tenant } from "./lib/names.ts";
import { secretSourceHelp, secretSourceOptionSpecs } from "./lib/onepassword.ts";
import { repoRoot } from "./lib/paths.ts";
import { relayServices, type RelayService } from "./lib/relay-services.ts";
import { lazySecretSource, tenantStep } from "./create-1password-secret.ts";

const optionSpecs = {
  ...secretSourceOptionSpecs,
  "ingress-file": { type: "string", multiple: true },
  check: { type: "boolean", default: false },
} as const;

const help = `Usage: moon run docs-infra-prod:sync-ingress -- [options]

For each relay instance, reads its LoadBalancer Service in ${tenant.app} (the name
${relayChartPath} renders for the instance's values file), finds the Service KubeVirt CCM
mirrored into ${management.tenantNamespace} of ${management.cluster}, and writes that mirror's name and
port into the Ingress rules of the instance's host. Comments and layout stay.

  --ingress-file PATH            ingress file to update; repeatable; relative to the folder the command
                                 was typed in (default ${management.ingressFile})
  --check                        change nothing; exit non-zero when a file is out of date (CI, cron)

${secretSourceHelp}

${commonHelp}`;

/** One relay instance: its Service in the tenant, and its mirror when found. */
export interface InstanceResult {
  release: string;
  host: string;
  /** relay/<name> in the tenant cluster. */
  service: string;
  mirror?: string;
  backend?: Backend;
  /** Why no backend could be told; what to do. */
  problem?: string;
  /** Which check failed: the tenant Service is missing, or a reason from matchMirror. */
  problemKind?: "missing" | Extract<MirrorMatch, { ok: false }>["problem"];
}

export interface IngressFileResult {
  path: string;
  /** The path as printed: repository-relative when inside the repository. */
  display: string;
  upToDate: boolean;
  /** The file's content after sync (equal to the current content when up to date). */
  content: string;
  diff: string;
  changes: BackendChange[];
  foreignHosts: ForeignHost[];
  hostsFound: string[];
  problem?: string;
}

export interface IngressReport {
  instances: InstanceResult[];
  files: IngressFileResult[];
  /** Instance hosts with no rule in any of the files (sync-ingress only edits existing rules). */
  hostsWithoutRule: string[];
  /** Every instance has its mirror and every file is up to date. */
  ok: boolean;
}

export interface CheckIngressOptions {
  tenant: KubeClient;
  management: KubeClient;
  /** Absolute paths of the ingress files; default the repository's. */
  ingressFiles?: readonly string[];
  /** Already derived Services (saves rendering the chart again). */
  services?: readonly RelayService[];
}

export const defaultIngressFile = resolve(repoRoot, management.ingressFile);

export function displayPath(path: string): string {
  const rel = relative(repoRoot, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** Reads each instance's Service in namespace relay of the tenant (undefined when absent). */
export async function readTenantServices(client: KubeClient, services: readonly RelayService[]): Promise<(ServiceObject | undefined)[]> {
  return Promise.all(
    services.map(async (s) => {
      try {
        return await client.get<ServiceObject & { apiVersion: string; kind: string }>({ apiVersion: "v1", kind: "Service", metadata: { namespace: s.namespace, name: s.name } });
      } catch (error) {
        if (error instanceof KubeApiError) throw new OperatorError(`expected to read Service ${s.namespace}/${s.name} in ${client.label}; the API answered ${error.code} ${error.message}; check the tenant kubeconfig's access`);
        throw error;
      }
    }),
  );
}

/** Every mirror of this tenant cluster: one list call, however many Services tenant-root holds. */
export async function listMirrors(client: KubeClient): Promise<ServiceObject[]> {
  try {
    return await client.list<ServiceObject & { apiVersion: string; kind: string }>("v1", "Service", management.tenantNamespace, mirrorSelector);
  } catch (error) {
    if (error instanceof KubeApiError) throw new OperatorError(`expected to list Services in ${management.tenantNamespace} of ${client.label}; the API answered ${error.code} ${error.message}; check --management-context`);
    throw error;
  }
}

/** Pure: pairs each instance with its mirror, or says why not. */
export function matchInstances(services: readonly RelayService[], live: readonly (ServiceObject | undefined)[], mirrors: readonly ServiceObject[]): InstanceResult[] {
  const where = { tenant: tenant.app, management: management.cluster };
  return services.map((s, i) => {
    const base = { release: s.instance.release, host: s.host, service: `${s.namespace}/${s.name}` };
    const svc = live[i];
    if (!svc) {
      return {
        ...base,
        problemKind: "missing",
        problem: `expected Service ${base.service} in ${tenant.app} (${relayChartPath} renders it for ${s.instance.release}); it does not exist; check that Flux installed HelmRelease ${s.instance.release}`,
      };
    }
    const match = matchMirror(svc, mirrors, s.port.name, where);
    return match.ok ? { ...base, mirror: match.mirror, backend: match.backend } : { ...base, problemKind: match.problem, problem: match.message };
  });
}

/** Pure apart from reading the files: what each file becomes with the known backends. */
export function planIngressFiles(paths: readonly string[], instances: readonly InstanceResult[]): IngressFileResult[] {
  const backends = new Map(instances.map((i) => [i.host, i.backend] as const));
  return paths.map((path) => {
    const display = displayPath(path);
    const empty = { path, display, upToDate: false, content: "", diff: "", changes: [], foreignHosts: [], hostsFound: [] };
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      return { ...empty, problem: `expected an ingress file at ${display}; ${(error as NodeJS.ErrnoException).code ?? "unreadable"}; pass an existing file with --ingress-file` };
    }
    try {
      const patch = patchIngress(text, display, backends);
      return { ...empty, ...patch, upToDate: patch.content === text, diff: unifiedDiff(path, text, patch.content) };
    } catch (error) {
      if (error instanceof OperatorError) return { ...empty, content: text, problem: error.message };
      throw error;
    }
  });
}

export function hostsWithoutRule(instances: readonly InstanceResult[], files: readonly IngressFileResult[]): string[] {
  const found = new Set(files.flatMap((f) => f.hostsFound));
  return instances.map((i) => i.host).filter((h) => !found.has(h));
}

/** For every instance the expected backend, and whether each ingress file is up to date. No output, no writes. */
export async function checkIngress(opts: CheckIngressOptions): Promise<IngressReport> {
  const services = opts.services ?? (await relayServices());
  const [live, mirrors] = await Promise.all([readTenantServices(opts.tenant, services), listMirrors(opts.management)]);
  const instances = matchInstances(services, live, mirrors);
  const files = planIngressFiles(opts.ingressFiles ?? [defaultIngressFile], instances);
  const ok = instances.every((i) => !i.problem) && files.every((f) => !f.problem && f.upToDate);
  return { instances, files, hostsWithoutRule: hostsWithoutRule(instances, files), ok };
}

/** Several problems become one error, one line each. */
function failWith(problems: readonly string[]): void {
  if (problems.length > 0) throw new OperatorError(problems.join("\n  "));
}

function describeFile(f: IngressFileResult): string {
  const lines = f.changes.map((c) => `${c.host} (Ingress ${c.ingress}, line ${c.line}): ${c.from} → ${c.to}`);
  for (const h of f.foreignHosts) lines.push(`${h.host} (Ingress ${h.ingress}, line ${h.line}): no relay instance has this host; left as it is`);
  return lines.join("\n");
}

interface Ctx {
  tenant?: KubeClient;
  management?: KubeClient;
  services?: RelayService[];
  live?: (ServiceObject | undefined)[];
  instances?: InstanceResult[];
}

/** A user's relative path is relative to where the command was typed (moon runs tasks in the project folder). */
export function resolveIngressFiles(given: readonly string[] | undefined): string[] {
  if (!given || given.length === 0) return [defaultIngressFile];
  const base = process.env.MOON_WORKING_DIR ?? process.cwd();
  return given.map((p) => resolve(base, p));
}

export async function main(argv: string[]): Promise<void> {
  const { common, values, help: wantsHelp } = parseFlowArgs(argv, optionSpecs);
  if (wantsHelp) return void console.log(help);
  const files = resolveIngressFiles(values["ingress-file"]);
  const check = values.check;
  const secrets = lazySecretSource(values);
  const fileTitle = files.map(displayPath).join(", ");
  // helm renders while the kubeconfig is read; the step below awaits it.
  const rendering = relayServices();
  rendering.catch(() => {});

  await newListr<Ctx>([
    tenantStep(common, secrets),
    step(`Derive the relay Services from ${relayChartPath}`, async (ctx, task) => {
      ctx.services = await rendering;
      say(task, ctx.services.map((s) => `${s.instance.release}: Service ${s.namespace}/${s.name} port ${s.port.name ? `${s.port.name} ` : ""}${s.port.port}, host ${s.host}`).join("\n"));
    }),
    step(`Read the relay Services in ${tenant.app}`, async (ctx, task) => {
      task.title = `Read Services ${ctx.services!.map((s) => `${s.namespace}/${s.name}`).join(", ")} in ${tenant.app}`;
      ctx.live = await readTenantServices(ctx.tenant!, ctx.services!);
      // What can be told from the tenant alone fails here, before the management cluster is asked.
      const tenantSide = new Set(["missing", "not-load-balancer", "no-port"]);
      failWith(matchInstances(ctx.services!, ctx.live, []).flatMap((i) => (i.problemKind && tenantSide.has(i.problemKind) ? [i.problem!] : [])));
      say(task, ctx.live.map((s, i) => `${ctx.services![i]!.name}: ${s ? `type ${s.spec?.type ?? "ClusterIP"}, UID ${s.metadata.uid}` : "not found"}`).join("\n"));
    }),
    step(`Find the KubeVirt CCM mirrors in ${management.tenantNamespace} of ${management.cluster}`, async (ctx, task) => {
      ctx.management = await managementClient(common);
      const mirrors = await listMirrors(ctx.management);
      ctx.instances = matchInstances(ctx.services!, ctx.live!, mirrors);
      failWith(ctx.instances.flatMap((i) => (i.problem ? [i.problem] : [])));
      say(task, ctx.instances.map((i) => `${i.host} → Service ${i.mirror} port ${i.backend!.port.number} (mirror of ${i.service})`).join("\n"));
    }),
    step(`${check ? "Check" : "Update"} ${fileTitle}${common.dryRun && !check ? " (dry run)" : ""}`, (ctx, task) => {
      const planned = planIngressFiles(files, ctx.instances!);
      failWith(planned.flatMap((f) => (f.problem ? [f.problem] : [])));
      const output: string[] = [];
      for (const f of planned) {
        if (f.upToDate) output.push(`${f.display}: up to date`);
        else if (check || common.dryRun) output.push(f.diff.trimEnd(), `${f.display}: would change`);
        else output.push(writeIfChanged(f.path, f.content).diff.trimEnd(), `${f.display}: updated`);
        const detail = describeFile(f);
        if (detail) output.push(detail);
      }
      for (const host of hostsWithoutRule(ctx.instances!, planned)) output.push(`${host}: no Ingress rule in ${fileTitle}; sync-ingress only updates existing rules, so add one`);
      say(task, output.join("\n"));
      const stale = planned.filter((f) => !f.upToDate);
      if (check && stale.length > 0) {
        failWith(stale.map((f) => `${f.display} is out of date (${f.changes.length === 1 ? "1 backend differs" : `${f.changes.length} backends differ`} from the CCM mirrors); run sync-ingress (moon run docs-infra-prod:sync-ingress)`));
      }
    }),
  ]).run({});
}

if (isEntryPoint("sync-ingress")) process.exitCode = await runMain(() => main(process.argv.slice(2)));
