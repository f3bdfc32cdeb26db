// libs/relay-server against a real local kube-apiserver: two releases side by
// side in one namespace (server-side dry-run), and the Deployment's pod accepted
// where Pod Security "restricted" is enforced.
import { join } from "node:path";
import {
  ApiException,
  KubernetesObjectApi,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesDir, only, render, type RenderOptions } from "../support/chart.ts";
import { type ApiServers, startApiServers } from "../platform/index.ts";
import type { Manifest } from "../../scripts/lib/kube.ts";

let cp: ApiServers;
let client: KubernetesObjectApi;

beforeAll(async () => {
  // The chart's objects are all built-in kinds; the ServiceMonitor is left out below.
  cp = await startApiServers([{ name: "tenant", crds: [] }]);
  client = KubernetesObjectApi.makeApiClient(cp.servers[0]!.kubeConfig);
});
afterAll(async () => cp?.stop());

// The production pair: one shaped like the personal instance, the other with every
// built-in optional object on (the ServiceMonitor's CRD is not installed here).
const releases: { release: string; options: RenderOptions }[] = [
  { release: "relay-personal", options: { valuesFiles: [join(fixturesDir, "good/personal.yaml")] } },
  {
    release: "relay-family",
    options: { valuesFiles: [join(fixturesDir, "good/full.yaml")], values: { serviceMonitor: { enabled: false } } },
  },
];

let namespaceCount = 0;

/** A fresh namespace enforcing Pod Security "restricted" (deleted namespaces never go away here). */
async function restrictedNamespace(): Promise<string> {
  const name = `relay-${++namespaceCount}`;
  await client.create({
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
      },
    },
  });
  return name;
}

async function renderInto(namespace: string, release: string, options: RenderOptions): Promise<Manifest[]> {
  const objects = await render({ ...options, release, namespace });
  return objects.map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    try {
      return `${error.code} ${(JSON.parse(String(error.body)) as { message: string }).message}`;
    } catch {
      return `${error.code} ${String(error.body)}`;
    }
  }
  return String(error);
}

/** Creates each object (dry-run or for real); returns "<Kind>/<name>: <error>" for each refusal. */
async function createAll(objects: readonly KubernetesObject[], dryRun: boolean): Promise<string[]> {
  const refusals: string[] = [];
  for (const o of objects) {
    try {
      await client.create(o, undefined, dryRun ? "All" : undefined);
    } catch (error) {
      refusals.push(`${o.kind}/${o.metadata?.name}: ${describeError(error)}`);
    }
  }
  return refusals;
}

/** The Pod the Deployment's ReplicaSet would create (no controller-manager runs here to do it). */
function podFromTemplate(objects: Manifest[], namespace: string): V1Pod {
  const d = only<V1Deployment>(objects, "Deployment");
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${d.metadata?.name}-pod`,
      namespace,
      labels: d.spec?.template.metadata?.labels,
      annotations: d.spec?.template.metadata?.annotations,
    },
    spec: d.spec?.template.spec,
  };
}

describe("relay-server chart on a real API server", () => {
  it("accepts every object of relay-personal and relay-family side by side in one namespace (server-side dry-run)", async () => {
    const namespace = await restrictedNamespace();
    const objects = (await Promise.all(releases.map((r) => renderInto(namespace, r.release, r.options)))).flat();
    expect(objects.map((o) => o.kind)).toContain("NetworkPolicy");
    expect(await createAll(objects, true)).toEqual([]);
  });

  it("creates the second release next to the first without a name clash, while a repeat of the first clashes", async () => {
    const namespace = await restrictedNamespace();
    const [personal, family] = await Promise.all(releases.map((r) => renderInto(namespace, r.release, r.options)));
    expect(await createAll(personal!, false)).toEqual([]);
    expect(await createAll(family!, true)).toEqual([]);
    // The control: the same objects again are refused, so the check above could fail.
    const again = await createAll(personal!, true);
    expect(again).toHaveLength(personal!.length);
    expect(again.every((r) => r.includes(": 409 "))).toBe(true);
  });

  it("accepts the Deployment's pod template as a Pod where Pod Security enforces restricted", async () => {
    const namespace = await restrictedNamespace();
    for (const r of releases) {
      const pod = podFromTemplate(await renderInto(namespace, r.release, r.options), namespace);
      expect(await createAll([pod], true)).toEqual([]);
    }
  });

  it("accepts the filesystem store, its PersistentVolumeClaim and the pod mounting it, where Pod Security enforces restricted", async () => {
    const namespace = await restrictedNamespace();
    const objects = await renderInto(namespace, "relay-files", {
      valuesFiles: [join(fixturesDir, "good/filesystem.yaml")],
      values: { storage: { s3: { bucket: "" } } },
    });
    expect(objects.map((o) => o.kind)).toContain("PersistentVolumeClaim");
    expect(await createAll(objects, true)).toEqual([]);
    expect(await createAll([podFromTemplate(objects, namespace)], true)).toEqual([]);
  });

  it("refuses the same pod without the chart's securityContext, so the namespace really enforces restricted", async () => {
    const namespace = await restrictedNamespace();
    const objects = await renderInto(namespace, "relay-personal", {
      valuesFiles: [join(fixturesDir, "good/personal.yaml")],
      values: { podSecurityContext: null, securityContext: null },
    });
    const refusals = await createAll([podFromTemplate(objects, namespace)], true);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toContain("403");
    expect(refusals[0]).toContain('violates PodSecurity "restricted:latest"');
  });
});
