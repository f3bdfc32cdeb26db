// The ingress sync plan and its check: for each relay instance the Service the
// chart renders in the tenant, its KubeVirt CCM mirror in tenant-root, and what
// each ingress file becomes with those backends. sync-ingress writes the plan;
// verify only reads it.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { OperatorError } from "./errors.ts";
import { patchIngress, type BackendChange, type ForeignHost } from "./ingress.ts";
import { unifiedDiff } from "./files.ts";
import { KubeApiError, type KubeClient } from "./kube.ts";
import { type Backend, checkTenantService, matchMirror, mirrorSelector, type ServiceObject } from "./mirrors.ts";
import { management, relayChartPath, tenant } from "./names.ts";
import { displayPath, repoRoot } from "./paths.ts";
import { relayServices, type RelayService } from "./relay-services.ts";

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

/** Reads each instance's Service in namespace relay of the tenant (undefined when absent). */
export async function readTenantServices(
  client: KubeClient,
  services: readonly RelayService[],
): Promise<(ServiceObject | undefined)[]> {
  return Promise.all(
    services.map(async (s) => {
      try {
        return await client.get<ServiceObject & { apiVersion: string; kind: string }>({
          apiVersion: "v1",
          kind: "Service",
          metadata: { namespace: s.namespace, name: s.name },
        });
      } catch (error) {
        if (error instanceof KubeApiError && error.explained) throw new OperatorError(error.message);
        if (error instanceof KubeApiError)
          throw new OperatorError(
            `expected to read Service ${s.namespace}/${s.name} in ${client.label}; the API answered ${error.code} ${error.message}; check the tenant kubeconfig's access`,
          );
        throw error;
      }
    }),
  );
}

/** Every mirror of this tenant cluster: one list call, however many Services tenant-root holds. */
export async function listMirrors(client: KubeClient): Promise<ServiceObject[]> {
  try {
    return await client.list<ServiceObject & { apiVersion: string; kind: string }>(
      "v1",
      "Service",
      management.tenantNamespace,
      mirrorSelector,
    );
  } catch (error) {
    if (error instanceof KubeApiError && error.explained) throw new OperatorError(error.message);
    if (error instanceof KubeApiError)
      throw new OperatorError(
        `expected to list Services in ${management.tenantNamespace} of ${client.label}; the API answered ${error.code} ${error.message}; check --management-context`,
      );
    throw error;
  }
}

const where = { tenant: tenant.app, management: management.cluster };

function missingService(s: RelayService): string {
  return `expected Service ${s.namespace}/${s.name} in ${tenant.app} (${relayChartPath} renders it for ${s.instance.release}); it does not exist; check that Flux installed HelmRelease ${s.instance.release}`;
}

/**
 * Pure: what the tenant alone shows to be wrong with the instances' Services (one
 * missing, not a LoadBalancer, without the relay's port), before any mirror is
 * looked at: sync-ingress fails on these first, whatever the management cluster says.
 */
export function tenantServiceProblems(
  services: readonly RelayService[],
  live: readonly (ServiceObject | undefined)[],
): string[] {
  return services.flatMap((s, i) => {
    const svc = live[i];
    if (!svc) return [missingService(s)];
    const check = checkTenantService(svc, s.port.name, where);
    return check.ok ? [] : [check.message];
  });
}

/** Pure: pairs each instance with its mirror, or says why not (the tenant-side reasons included). */
export function matchInstances(
  services: readonly RelayService[],
  live: readonly (ServiceObject | undefined)[],
  mirrors: readonly ServiceObject[],
): InstanceResult[] {
  return services.map((s, i) => {
    const base = { release: s.instance.release, host: s.host, service: `${s.namespace}/${s.name}` };
    const svc = live[i];
    if (!svc) return { ...base, problem: missingService(s) };
    const match = matchMirror(svc, mirrors, s.port.name, where);
    return match.ok ? { ...base, mirror: match.mirror, backend: match.backend } : { ...base, problem: match.message };
  });
}

/** Pure apart from reading the files: what each file becomes with the known backends. */
export function planIngressFiles(paths: readonly string[], instances: readonly InstanceResult[]): IngressFileResult[] {
  const backends = new Map(instances.map((i) => [i.host, i.backend] as const));
  return paths.map((path) => {
    const display = displayPath(path);
    const empty = {
      path,
      display,
      upToDate: false,
      content: "",
      diff: "",
      changes: [],
      foreignHosts: [],
      hostsFound: [],
    };
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      return {
        ...empty,
        problem: `expected an ingress file at ${display}; ${(error as NodeJS.ErrnoException).code ?? "unreadable"}; pass an existing file with --ingress-file`,
      };
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
  const missing = hostsWithoutRule(instances, files);
  const ok = instances.every((i) => !i.problem) && files.every((f) => !f.problem && f.upToDate) && missing.length === 0;
  return { instances, files, hostsWithoutRule: missing, ok };
}

/** The failure for an instance whose host has no rule in any ingress file (sync-ingress only edits existing rules). */
export function missingRuleProblem(host: string, release: string, files: readonly IngressFileResult[]): string {
  return `expected an Ingress rule for ${host} (relay instance ${release}) in ${files.map((f) => f.display).join(", ")}; found none; add a rule for the host, then run sync-ingress to fill its backend`;
}

export function describeFile(f: IngressFileResult): string {
  const lines = f.changes.map((c) => `${c.host} (Ingress ${c.ingress}, line ${c.line}): ${c.from} → ${c.to}`);
  for (const h of f.foreignHosts)
    lines.push(`${h.host} (Ingress ${h.ingress}, line ${h.line}): no relay instance has this host; left as it is`);
  return lines.join("\n");
}
