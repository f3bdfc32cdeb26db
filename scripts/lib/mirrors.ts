// Which Service KubeVirt CCM mirrored into tenant-root for each tenant relay
// Service, and why not when it cannot be told: pure decisions, no API calls.
import { ccmLabels, tenant } from "./names.ts";

export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
}

/** The fields of a Service this module reads (live or rendered). */
export interface ServiceObject {
  metadata: { name: string; namespace?: string; uid?: string; labels?: Record<string, string> };
  spec?: { type?: string; ports?: ServicePort[] };
}

/** Where an Ingress rule for a relay instance must send its traffic. */
export interface Backend {
  service: string;
  port: { number: number; name?: string };
}

export type MirrorMatch =
  | { ok: true; mirror: string; backend: Backend }
  | { ok: false; problem: "not-load-balancer" | "no-port" | "none" | "several" | "name" | "ports"; message: string };

/** KubeVirt CCM's name for a mirror: "a" + the UID without dashes, 32 characters in all. */
export function mirrorName(uid: string): string {
  return `a${uid.replace(/-/g, "")}`.slice(0, 32);
}

/** The label selector for the one list call: every mirror of this tenant cluster. */
export const mirrorSelector = `${ccmLabels.clusterName}=${tenant.release}`;

function ref(svc: ServiceObject): string {
  return `${svc.metadata.namespace ?? "default"}/${svc.metadata.name}`;
}

export function formatPorts(ports: readonly ServicePort[] | undefined): string {
  return `[${(ports ?? []).map((p) => (p.name ? `${p.name}:${p.port}` : String(p.port))).join(", ")}]`;
}

/** Mirrors carrying CCM's labels for this tenant Service. */
export function candidatesFor(tenantService: ServiceObject, mirrors: readonly ServiceObject[]): ServiceObject[] {
  return mirrors.filter((m) => {
    const labels = m.metadata.labels ?? {};
    return (
      labels[ccmLabels.clusterName] === tenant.release &&
      labels[ccmLabels.serviceName] === tenantService.metadata.name &&
      labels[ccmLabels.serviceNamespace] === (tenantService.metadata.namespace ?? "default")
    );
  });
}

/** What the tenant Service alone must be for CCM to mirror it: a LoadBalancer with the relay's port. */
export type TenantServiceCheck =
  { ok: true; port: ServicePort } | { ok: false; problem: "not-load-balancer" | "no-port"; message: string };

/** Checks one live tenant Service before any mirror is looked at. `portName` is the port the chart renders for the relay (e.g. "http"). */
export function checkTenantService(
  tenantService: ServiceObject,
  portName: string | undefined,
  where: { tenant: string },
): TenantServiceCheck {
  const svc = ref(tenantService);
  const type = tenantService.spec?.type ?? "ClusterIP";
  if (type !== "LoadBalancer") {
    return {
      ok: false,
      problem: "not-load-balancer",
      message: `expected Service ${svc} in ${where.tenant} to be of type LoadBalancer (KubeVirt CCM mirrors only LoadBalancer Services); found type ${type}; set service.type: LoadBalancer in the instance's values file and let Flux reconcile`,
    };
  }
  const tenantPorts = tenantService.spec?.ports ?? [];
  const port =
    (portName ? tenantPorts.find((p) => p.name === portName) : undefined) ??
    (tenantPorts.length === 1 ? tenantPorts[0] : undefined);
  if (!port) {
    return {
      ok: false,
      problem: "no-port",
      message: `expected Service ${svc} in ${where.tenant} to have a port named "${portName}"; found ${formatPorts(tenantPorts)}; let Flux reconcile the chart or fix the Service`,
    };
  }
  return { ok: true, port };
}

/**
 * Matches one live tenant Service to its mirror. `portName` is the port the chart
 * renders for the relay (e.g. "http"); the backend uses that port's number.
 */
export function matchMirror(
  tenantService: ServiceObject,
  mirrors: readonly ServiceObject[],
  portName: string | undefined,
  where: { tenant: string; management: string },
): MirrorMatch {
  const svc = ref(tenantService);
  const tenantCheck = checkTenantService(tenantService, portName, where);
  if (!tenantCheck.ok) return tenantCheck;
  const port = tenantCheck.port;
  const tenantPorts = tenantService.spec?.ports ?? [];
  const expected = mirrorName(tenantService.metadata.uid ?? "");
  const candidates = candidatesFor(tenantService, mirrors);
  if (candidates.length === 0) {
    return {
      ok: false,
      problem: "none",
      message: `expected a Service ${expected} in tenant-root of ${where.management} labelled for ${svc}; found no mirror yet: KubeVirt CCM not running, or the Service is not a LoadBalancer; check the tenant's KubeVirt CCM and run sync-ingress again`,
    };
  }
  if (candidates.length > 1) {
    const list = candidates
      .map((c) => `${c.metadata.name}${c.metadata.name === expected ? " (matches the UID)" : ""}`)
      .join(", ");
    return {
      ok: false,
      problem: "several",
      message: `expected one mirror of ${svc} in tenant-root of ${where.management}; found ${candidates.length} candidates: ${list}; delete the stale one (the one whose name is not ${expected})`,
    };
  }
  const mirror = candidates[0]!;
  if (mirror.metadata.name !== expected) {
    return {
      ok: false,
      problem: "name",
      message: `expected the mirror of ${svc} (UID ${tenantService.metadata.uid}) to be named ${expected}; found ${mirror.metadata.name} with its labels; the Service was probably recreated and CCM has not caught up: wait for CCM, or delete the stale mirror`,
    };
  }
  const mirrorPorts = mirror.spec?.ports ?? [];
  const same = tenantPorts.every((t) =>
    mirrorPorts.some((m) => m.port === t.port && (m.name ?? "") === (t.name ?? "")),
  );
  if (!same) {
    return {
      ok: false,
      problem: "ports",
      message: `expected mirror ${mirror.metadata.name} to have the ports of ${svc} ${formatPorts(tenantPorts)}; found ${formatPorts(mirrorPorts)}; wait for KubeVirt CCM to sync the Service, or check that it runs`,
    };
  }
  return {
    ok: true,
    mirror: mirror.metadata.name,
    backend: { service: mirror.metadata.name, port: { number: port.port, ...(port.name ? { name: port.name } : {}) } },
  };
}
