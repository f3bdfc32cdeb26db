// The order bootstrap --force writes its annotations in: each HelmRelease after those it dependsOn.
import { describe, expect, it } from "vitest";
import { forceWaves } from "../../scripts/lib/flux.ts";
import type { Manifest } from "../../scripts/lib/kube.ts";

const release = (name: string, dependsOn: { name: string; namespace?: string }[] = [], namespace = "flux-system") =>
  ({
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name, namespace },
    spec: { dependsOn },
  }) as Manifest;
const names = (waves: Manifest[][]) => waves.map((w) => w.map((r) => r.metadata.name));

describe("forceWaves", () => {
  it("puts each release after the releases it depends on, and those with none first", () => {
    const releases = [
      release("relay-personal", [{ name: "1password-secrets" }]),
      release("1password-secrets", [{ name: "1password-operator" }]),
      release("relay-family", [{ name: "1password-secrets" }]),
      release("1password-operator"),
    ];
    expect(names(forceWaves(releases))).toEqual([
      ["1password-operator"],
      ["1password-secrets"],
      ["relay-personal", "relay-family"],
    ]);
  });

  it("ignores a dependency outside the releases it is given, and one in another namespace of the same name", () => {
    const releases = [
      release("relay-personal", [{ name: "1password-secrets" }]),
      release("1password-secrets", [{ name: "1password-operator" }]),
      release("other", [{ name: "1password-secrets", namespace: "elsewhere" }]),
    ];
    expect(names(forceWaves(releases))).toEqual([["1password-secrets", "other"], ["relay-personal"]]);
  });

  it("forces the members of a dependency cycle together instead of never", () => {
    const releases = [release("a", [{ name: "b" }]), release("b", [{ name: "a" }]), release("c", [{ name: "a" }])];
    expect(names(forceWaves(releases))).toEqual([["a", "b", "c"]]);
  });
});
