// helm lint --strict over the defaults and every values file meant for the
// chart, and the packaged chart's contents.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { instances } from "../../scripts/lib/names.ts";
import { chartDir, fixturesDir, helm, requiredValues } from "../support/chart.ts";

const run = promisify(execFile);
const requiredSets = ["--set", `relay.url=${requiredValues.relay.url}`, "--set", `aws.s3Bucket=${requiredValues.aws.s3Bucket}`];

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
    expect(result.stdout + result.stderr).toContain("relay.url: Does not match pattern");
  });

  const goodFiles = readdirSync(join(fixturesDir, "good")).filter((f) => f.endsWith(".yaml")).sort();
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
      expect(tgz).toBe("relay-server-0.1.0.tgz");
      const { stdout } = await run("tar", ["-tzf", join(dir, tgz!)]);
      const files = stdout.trim().split("\n");
      expect(files).toContain("relay-server/Chart.yaml");
      expect(files).toContain("relay-server/values.schema.json");
      expect(files).toContain("relay-server/templates/tests/test-ready.yaml");
      expect(files.filter((f) => f.endsWith("moon.yml"))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
