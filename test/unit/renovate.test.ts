// renovate.json finds every pin it is meant to update, and the versions that tests
// require to be equal are equal today and move together (one groupName).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";

interface CustomManager {
  managerFilePatterns: string[];
  matchStrings: string[];
  depNameTemplate?: string;
}
interface PackageRule {
  matchPackageNames?: string[];
  matchDepNames?: string[];
  groupName?: string;
  enabled?: boolean;
}
const config = JSON.parse(readFileSync(join(repoRoot, "renovate.json"), "utf8")) as {
  customManagers: CustomManager[];
  packageRules: PackageRule[];
};
const files = execFileSync("git", ["ls-files"], { cwd: repoRoot, encoding: "utf8" }).split("\n").filter(Boolean);

/** What a regex manager extracts, as Renovate does: each match string over each file its patterns select. */
function extract(manager: CustomManager): { file: string; depName: string; currentValue: string }[] {
  const patterns = manager.managerFilePatterns.map((p) => new RegExp(p.slice(1, -1)));
  return files
    .filter((f) => patterns.some((p) => p.test(f)))
    .flatMap((file) => {
      const text = readFileSync(join(repoRoot, file), "utf8");
      return manager.matchStrings.flatMap((s) =>
        [...text.matchAll(new RegExp(s, "g"))].map((m) => ({
          file,
          depName: m.groups?.depName ?? manager.depNameTemplate ?? "",
          currentValue: m.groups!.currentValue!,
        })),
      );
    });
}

const groupOf = (name: string) =>
  config.packageRules
    .filter((r) => r.groupName && (r.matchPackageNames ?? r.matchDepNames ?? []).includes(name))
    .map((r) => r.groupName);
const goModVersion = (file: string, module: string) =>
  new RegExp(`^(?:require )?\\s*${module.replaceAll(".", "\\.")} (v\\S+)`, "m").exec(
    readFileSync(join(repoRoot, file), "utf8"),
  )?.[1];

describe("renovate.json", () => {
  const [image, crds, pip] = config.customManagers.map(extract);

  it("finds the server image in the chart's appVersion and its Artifact Hub image (the instances pin none), at one version", () => {
    expect(image!.map((d) => d.file).sort()).toEqual(["libs/relay-server/Chart.yaml", "libs/relay-server/Chart.yaml"]);
    expect(new Set(image!.map((d) => d.currentValue)).size).toBe(1);
    expect(groupOf("docker.system3.md/relay-server")).toEqual(["Relay server image"]);
  });

  it("finds each CRD module of test/platform/build/crds.ts; the Flux ones equal their controller's Go module and move with it", () => {
    const names = crds!.map((d) => d.depName).sort();
    expect(names).toEqual([
      "github.com/1Password/onepassword-operator",
      "github.com/fluxcd/helm-controller",
      "github.com/fluxcd/kustomize-controller",
      "github.com/fluxcd/source-controller",
    ]);
    for (const c of ["source-controller", "kustomize-controller", "helm-controller"]) {
      const module = `github.com/fluxcd/${c}`;
      expect(crds!.find((d) => d.depName === module)?.currentValue, module).toBe(
        goModVersion(`test/platform/build/go/flux/${c}/go.mod`, module),
      );
      expect(groupOf(module), module).toEqual(["Flux controllers and CRDs"]);
    }
  });

  it("moves the Connect chart in apps/docs-prod and third_party/vendir together, and they are equal", () => {
    const release = readFileSync(join(repoRoot, "apps/docs-prod/helmrelease-1password-operator.yaml"), "utf8");
    const vendir = readFileSync(join(repoRoot, "third_party/vendir/vendir.yml"), "utf8");
    const version = (text: string) =>
      /chart: connect\n(?:.*\n)*?\s+version: "([^"]+)"/.exec(text)?.[1] ??
      /name: connect\n\s+version: "([^"]+)"/.exec(text)?.[1];
    expect(version(release)).toBeDefined();
    expect(version(release)).toBe(version(vendir));
    expect(groupOf("connect")).toEqual(["1Password Connect chart"]);
  });

  it("finds the Python packages .ci/run installs", () => {
    expect(pip!.map((d) => d.depName).sort()).toEqual(["moto", "yamllint"]);
  });
});
