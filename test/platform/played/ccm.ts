// Plays Helm's and KubeVirt CCM's parts for the relay Services on the local API
// servers: the chart's Services in the tenant, an address for each LoadBalancer,
// and their mirrors in tenant-root.
import type { KubeClient, Manifest } from "../../../scripts/lib/kube.ts";
import { relayNamespace, tenant, type RelayInstance } from "../../../scripts/lib/names.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import type { ApiServer } from "../components/api-server.ts";
import { client } from "../components/api-server.ts";
import { renderedService } from "../../support/manifests.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const ccm = {
  fieldManager: "kubevirt-ccm",
  namespace: "tenant-root",
  serviceName: "cluster.x-k8s.io/tenant-service-name",
  serviceNamespace: "cluster.x-k8s.io/tenant-service-namespace",
  clusterName: "cluster.x-k8s.io/cluster-name",
} as const;

interface LiveService {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  spec: { type?: string; ports?: { name?: string; port: number; protocol?: string }[] };
}

/** Written out here as CCM's Go code does it, independent of scripts/lib/mirrors.ts. */
export function ccmName(uid: string): string {
  const name = "a" + uid.split("-").join("");
  return name.length > 32 ? name.substring(0, 32) : name;
}

/** Applies the Service the chart renders for each instance (Helm's part; no Pods run here). */
export async function installRelayServices(
  tenantServer: ApiServer,
  only: readonly RelayInstance[] = instances,
): Promise<void> {
  const c = client(tenantServer);
  await c.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: relayNamespace } }, { fieldManager: "helm" });
  for (const instance of only) {
    const svc = await renderedService(instance);
    await c.apply(
      { ...(svc as unknown as Manifest), metadata: { ...svc.metadata, namespace: relayNamespace } },
      { fieldManager: "helm" },
    );
  }
}

export async function deleteService(c: KubeClient, namespace: string, name: string): Promise<void> {
  await c.request("DELETE", await c.path("v1", "Service", namespace, name));
}

/** A mirror as CCM writes it: labels, and the tenant Service's port numbers and names. */
export function mirrorManifest(svc: LiveService, name = ccmName(svc.metadata.uid)): Manifest {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name,
      namespace: ccm.namespace,
      labels: {
        [ccm.serviceName]: svc.metadata.name,
        [ccm.serviceNamespace]: svc.metadata.namespace,
        [ccm.clusterName]: tenant.release,
      },
    },
    spec: {
      type: "ClusterIP",
      ports: (svc.spec.ports ?? []).map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        targetPort: p.port,
        protocol: p.protocol ?? "TCP",
      })),
    },
  };
}

/**
 * One CCM sync: a mirror for every tenant LoadBalancer Service, and stale mirrors
 * (Service gone, recreated, or no longer a LoadBalancer) deleted.
 * Returns "namespace/name" of each tenant Service -> its mirror's name.
 */
export async function playCcm(tenantServer: ApiServer, mgmt: ApiServer): Promise<Map<string, string>> {
  const t = client(tenantServer);
  const m = client(mgmt);
  await m.apply(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ccm.namespace } },
    { fieldManager: ccm.fieldManager },
  );
  const all = (await t.request<{ items: LiveService[] }>("GET", "/api/v1/services")).items;
  const wanted = new Map<string, string>();
  for (const svc of all.filter((s) => s.spec.type === "LoadBalancer")) {
    const mirror = mirrorManifest(svc);
    await m.apply(mirror, { fieldManager: ccm.fieldManager });
    wanted.set(`${svc.metadata.namespace}/${svc.metadata.name}`, mirror.metadata.name);
  }
  const existing = await m.list<LiveService>("v1", "Service", ccm.namespace, `${ccm.clusterName}=${tenant.release}`);
  const keep = new Set(wanted.values());
  for (const mirror of existing)
    if (!keep.has(mirror.metadata.name)) await deleteService(m, ccm.namespace, mirror.metadata.name);
  return wanted;
}

/** What the tenant's LoadBalancer Services get as their address from the played CCM (TEST-NET-2: never routed). */
export const playedLoadBalancerIp = "198.51.100.10";

/** Plays KubeVirt CCM every 2 s: an address for each tenant LoadBalancer Service, and its mirror in tenant-root. */
export function playCcmLoop(tenantServer: ApiServer, mgmt: ApiServer): { stop(): Promise<void> } {
  let stopped = false;
  const t = client(tenantServer);
  const loop = (async () => {
    while (!stopped) {
      try {
        const { items } = await t.request<{
          items: {
            metadata: { namespace: string; name: string };
            spec: { type?: string };
            status?: { loadBalancer?: { ingress?: unknown[] } };
          }[];
        }>("GET", "/api/v1/services");
        for (const svc of items.filter(
          (s) => s.spec.type === "LoadBalancer" && !s.status?.loadBalancer?.ingress?.length,
        )) {
          await t.patchStatus(
            { apiVersion: "v1", kind: "Service", metadata: svc.metadata },
            { loadBalancer: { ingress: [{ ip: playedLoadBalancerIp }] } },
          );
        }
        await playCcm(tenantServer, mgmt);
      } catch {
        // A Service deleted between the list and the write: the next round settles it.
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return { stop: async () => void ((stopped = true), await loop) };
}
