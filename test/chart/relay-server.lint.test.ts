// helm lint --strict over the defaults and every values file meant for the
// chart, and the packaged chart's contents.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { anonymousAccessFixedIn, compareVersions, versionOfTag } from "../../scripts/lib/server-versions.ts";
import { parse } from "yaml";
import { chartDir, fixturesDir, helm, requiredValues, schemaError } from "../support/chart.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

interface ChartYaml {
  version: string;
  appVersion: string;
  kubeVersion?: string;
  icon?: string;
  maintainers?: { name: string; url?: string; email?: string }[];
  annotations?: Record<string, string>;
}

function chartYaml(): ChartYaml {
  return parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as ChartYaml;
}

const run = promisify(execFile);
const requiredSets = [
  "--set",
  `relay.url=${requiredValues.relay.url}`,
  "--set",
  `storage.s3.bucket=${requiredValues.storage.s3.bucket}`,
];

async function lint(args: string[]): Promise<void> {
  const result = await helm(["lint", "--strict", chartDir, ...args]);
  expect(result.stdout + result.stderr).toContain("1 chart(s) linted, 0 chart(s) failed");
  expect(result.code).toBe(0);
}

describe("relay-server helm lint --strict", () => {
  it("is clean for the defaults with a url and a bucket", async () => {
    await lint(requiredSets);
  });

  it("fails for the bare defaults, since relay.url is required", async () => {
    const result = await helm(["lint", "--strict", chartDir]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(schemaError("relay.url: Does not match pattern"));
  });

  const goodFiles = readdirSync(join(fixturesDir, "good"))
    .filter((f) => f.endsWith(".yaml"))
    .sort();
  it.each(goodFiles)("is clean for fixtures/relay-server/good/%s", async (file) => {
    await lint(["-f", join(fixturesDir, "good", file)]);
  });

  // The production instances' values files (written with the instance flows; skipped until they exist).
  for (const instance of instances) {
    const file = join(repoRoot, instance.valuesFile);
    it.skipIf(!existsSync(file))(`is clean for ${instance.valuesFile}`, async () => {
      await lint(["-f", file]);
    });
  }
});

describe("relay-server package", () => {
  it("leaves the chart project's moon.yml out of the package", async () => {
    const dir = await mkdtemp(join(tmpdir(), "relay-package-"));
    try {
      const result = await helm(["package", chartDir, "--destination", dir]);
      expect(result.code).toBe(0);
      const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"));
      expect(tgz).toBe(`relay-server-${chartYaml().version}.tgz`);
      const { stdout } = await run("tar", ["-tzf", join(dir, tgz!)]);
      const files = stdout.trim().split("\n");
      expect(files).toContain("relay-server/Chart.yaml");
      expect(files).toContain("relay-server/values.schema.json");
      expect(files).toContain("relay-server/templates/tests/test-ready.yaml");
      expect(files.filter((f) => f.endsWith("moon.yml") || f.endsWith("icon.svg"))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("relay-server Chart.yaml metadata", () => {
  it("defaults to a server release that refuses clients without a token (0.9.7 or later), and names that image for Artifact Hub", () => {
    const { appVersion, annotations } = chartYaml();
    expect(compareVersions(versionOfTag(appVersion), anonymousAccessFixedIn)).toBeGreaterThanOrEqual(0);
    expect(annotations?.["artifacthub.io/images"]).toContain(`image: docker.system3.md/relay-server:${appVersion}`);
  });

  it("declares kubeVersion, maintainers and an https icon", async () => {
    const chart = chartYaml();
    expect(chart.kubeVersion).toMatch(/^>=1\.\d+/);
    expect(chart.maintainers?.length).toBeGreaterThan(0);
    expect(chart.maintainers?.every((m) => m.name)).toBe(true);
    expect(chart.icon).toMatch(/^https:\/\//);
    // The icon URL points at the file in this repository.
    expect(existsSync(join(chartDir, chart.icon!.split("/libs/relay-server/")[1] ?? "missing"))).toBe(true);
  });

  it("carries the Artifact Hub annotations: images (matching appVersion and the test image), license, changes", () => {
    const a = chartYaml().annotations ?? {};
    expect(a["artifacthub.io/license"]).toBe("MIT");
    const images = parse(a["artifacthub.io/images"] ?? "") as { name: string; image: string }[];
    expect(images.map((i) => i.image)).toEqual([
      `docker.system3.md/relay-server:${chartYaml().appVersion}`,
      "busybox:1.37.0",
    ]);
    const changes = parse(a["artifacthub.io/changes"] ?? "") as { kind: string; description: string }[];
    expect(changes.length).toBeGreaterThan(0);
    for (const c of changes) {
      expect(["added", "changed", "deprecated", "removed", "fixed", "security"]).toContain(c.kind);
      expect(c.description.length).toBeGreaterThan(10);
    }
  });
});
