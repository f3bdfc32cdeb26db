// Applying a set of objects: what an apply that fails midway reports.
import { describe, expect, it } from "vitest";
import { applyAll } from "../../scripts/lib/apply.ts";
import { KubeApiError, type KubeClient, type Manifest } from "../../scripts/lib/kube.ts";

const objects: Manifest[] = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } },
  { apiVersion: "v1", kind: "Secret", metadata: { namespace: "flux-system", name: "a" } },
  {
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: "HelmRepository",
    metadata: { namespace: "flux-system", name: "relay" },
  },
  { apiVersion: "v1", kind: "Secret", metadata: { namespace: "flux-system", name: "b" } },
];

/** A client that creates everything except HelmRepository, whose kind is not served; the other applies finish after the failure. */
function fakeClient(): KubeClient {
  return {
    label: "cluster-x",
    apply: async (obj: Manifest) => {
      if (obj.kind === "HelmRepository")
        throw new KubeApiError(
          404,
          "NotFound",
          "the kind HelmRepository (source.toolkit.fluxcd.io/v1) is not served by cluster-x; is its CRD installed?",
        );
      await new Promise((r) => setTimeout(r, 20));
      return { action: obj.metadata.name === "a" ? "unchanged" : "created", object: obj };
    },
  } as unknown as KubeClient;
}

describe("applying a set of objects", () => {
  it("names exactly what it changed when an apply fails midway, the objects still under way included", async () => {
    const error = (await applyAll(fakeClient(), objects, { dryRun: false }, () => {}).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toBe(
      "expected cluster-x to accept HelmRepository flux-system/relay; it answered 404: the kind HelmRepository (source.toolkit.fluxcd.io/v1) is not served by cluster-x; is its CRD installed?; " +
        "applied before the failure: Namespace flux-system created, Secret flux-system/b created; fix the cause and run again",
    );
  });
});
