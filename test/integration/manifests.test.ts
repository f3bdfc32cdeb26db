// Every object the GitOps manifests and charts produce, sent to a real local
// kube-apiserver with the real Flux and 1Password CRDs (server-side apply,
// dry-run), and apps/docs-prod applied to a fresh cluster that does not have
// the OnePasswordItem CRD yet.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeApiError, KubeClient, type Manifest } from "../../scripts/lib/kube.ts";
import { management, onePassword, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { type ApiServers, fluxCrds, startApiServers } from "../platform/index.ts";
import {
  helmTemplate,
  kustomizeBuild,
  named,
  ofKind,
  renderRelay,
  sourceObjects,
  type HelmRelease,
  type KubeObject,
} from "../support/manifests.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const fieldManager = "docs-test";

let planes: ApiServers | undefined;
/** All Flux CRDs and the OnePasswordItem CRD. */
let withAllCrds: KubeClient;
/** A tenant cluster before the Connect chart ran: Flux CRDs only. */
let fresh: KubeClient;

beforeAll(async () => {
  planes = await startApiServers([{ name: "all-crds" }, { name: "no-op-crd", crds: fluxCrds }]);
  withAllCrds = new KubeClient(planes.servers[0]!.kubeConfig, "all-crds");
  fresh = new KubeClient(planes.servers[1]!.kubeConfig, "no-op-crd");
});

afterAll(async () => {
  await planes?.stop();
});

function describeObject(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}

function asManifest(o: KubeObject): Manifest {
  return o as Manifest;
}

/** Namespaces are created for real: namespaced objects cannot even be dry-run without them. */
async function ensureNamespaces(client: KubeClient, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await client.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } }, { fieldManager });
  }
}

/** Applies each object; returns one line per object the server refused. */
async function applyAll(client: KubeClient, objects: readonly KubeObject[], dryRun: boolean): Promise<string[]> {
  const refused: string[] = [];
  for (const o of objects) {
    try {
      await client.apply(asManifest(o), { fieldManager, dryRun });
    } catch (error) {
      refused.push(`${describeObject(o)}: ${(error as Error).message}`);
    }
  }
  return refused;
}

/**
 * The Namespace objects of an apps/docs-prod build, plus the tenant Flux namespace
 * when the build does not declare it (Cozystack's cozy-fluxcd exists beforehand).
 */
function tenantNamespaces(built: readonly KubeObject[]): KubeObject[] {
  const declared = ofKind(built, "Namespace");
  if (declared.some((n) => n.metadata.name === tenant.fluxNamespace)) return declared;
  return [...declared, { apiVersion: "v1", kind: "Namespace", metadata: { name: tenant.fluxNamespace } }];
}

function namespacesOf(objects: readonly KubeObject[]): string[] {
  return [...new Set(objects.flatMap((o) => (o.metadata.namespace ? [o.metadata.namespace] : [])))];
}

describe("server-side dry-run with the real CRDs", () => {
  it("every object of apps/docs-prod is accepted", async () => {
    const built = await kustomizeBuild(tenant.appPath);
    expect(await applyAll(withAllCrds, tenantNamespaces(built), false)).toEqual([]);
    expect(
      await applyAll(
        withAllCrds,
        built.filter((o) => o.kind !== "Namespace"),
        true,
      ),
    ).toEqual([]);
  });

  it("every object of apps/docs-infra-prod is accepted in the management cluster's namespaces", async () => {
    const built = await kustomizeBuild(management.appPath);
    // flux-system and tenant-root exist in the management cluster before this app.
    await ensureNamespaces(withAllCrds, [management.fluxNamespace, management.tenantNamespace]);
    expect(namespacesOf(built).sort()).toEqual([management.fluxNamespace, management.tenantNamespace].sort());
    expect(await applyAll(withAllCrds, built, true)).toEqual([]);
  });

  it.each(instances)(
    "every object the relay chart renders for $release is accepted in namespace relay",
    async (instance) => {
      await ensureNamespaces(withAllCrds, [relayNamespace]);
      const rendered = await renderRelay(instance);
      expect(rendered.length).toBeGreaterThan(0);
      expect(
        await applyAll(
          withAllCrds,
          rendered.map((o) => ({
            ...o,
            metadata: { ...o.metadata, namespace: o.metadata.namespace ?? relayNamespace },
          })),
          true,
        ),
      ).toEqual([]);
    },
  );

  it("the OnePasswordItems libs/1password-secrets renders for apps/docs-prod match the operator's CRD", async () => {
    const hr = named(
      ofKind<HelmRelease>(sourceObjects(tenant.appPath), "HelmRelease"),
      "1password-secrets",
      "a HelmRelease",
    );
    const items = await helmTemplate("1password-secrets", "libs/1password-secrets", {
      values: hr.spec.values,
      namespace: onePassword.namespace,
    });
    await ensureNamespaces(withAllCrds, namespacesOf(items));
    expect(items).toHaveLength(instances.length);
    expect(await applyAll(withAllCrds, items, true)).toEqual([]);
  });

  it("refuses a misspelled field, in a HelmRelease and in an Ingress (so the checks above can fail)", async () => {
    await ensureNamespaces(withAllCrds, [tenant.fluxNamespace, management.tenantNamespace]);
    const hr = named(
      ofKind<HelmRelease>(await kustomizeBuild(tenant.appPath), "HelmRelease"),
      instances[0]!.release,
      "a HelmRelease",
    );
    const badRelease = {
      ...hr,
      spec: { ...hr.spec, chart: { spec: { ...hr.spec.chart.spec, valuesFile: "typo.yaml" } } },
    };
    const ingress = ofKind(await kustomizeBuild(management.appPath), "Ingress")[0]!;
    const badIngress = { ...ingress, spec: { ...(ingress.spec as Record<string, unknown>), ingressClasName: "typo" } };
    const refused = await applyAll(withAllCrds, [badRelease, badIngress], true);
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatch(/\.spec\.chart\.spec\.valuesFile: field not declared in schema/);
    expect(refused[1]).toMatch(/\.spec\.ingressClasName: field not declared in schema/);
  });
});

describe("a fresh tenant cluster: Flux CRDs, no OnePasswordItem CRD", () => {
  it("takes apps/docs-prod, namespaces first", async () => {
    const built = await kustomizeBuild(tenant.appPath);
    expect(await applyAll(fresh, tenantNamespaces(built), false)).toEqual([]);
    expect(
      await applyAll(
        fresh,
        built.filter((o) => o.kind !== "Namespace"),
        false,
      ),
    ).toEqual([]);
    for (const o of built) expect(await fresh.get(asManifest(o)), describeObject(o)).toBeDefined();
  });

  it("refuses a plain OnePasswordItem, which is why the items come through a HelmRelease", async () => {
    await ensureNamespaces(fresh, [relayNamespace]);
    const item: KubeObject = {
      apiVersion: "onepassword.com/v1",
      kind: "OnePasswordItem",
      metadata: { name: instances[0]!.credentialsSecret, namespace: relayNamespace },
      spec: { itemPath: instances[0]!.itemPath },
    };
    const error = await fresh.apply(asManifest(item), { fieldManager }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(404);
  });
});
