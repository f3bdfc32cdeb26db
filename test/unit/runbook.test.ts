// The runbook's example output is the flows' real output: each example block
// marked `<!-- golden: NAME -->` equals test/integration/testdata/NAME.golden.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { goldenDir, goldenPath, runbook, runbookExamples } from "../support/golden.ts";

describe("the runbook's examples", () => {
  const examples = runbookExamples(readFileSync(runbook, "utf8"));

  it("show every golden file once", () => {
    const goldens = readdirSync(goldenDir)
      .filter((f) => f.endsWith(".golden"))
      .map((f) => f.replace(/\.golden$/, ""))
      .sort();
    expect(goldens.length).toBeGreaterThanOrEqual(6);
    expect(examples.map((e) => e.name).sort()).toEqual(goldens);
  });

  it.each(examples.map((e) => [e.name, e] as const))("%s equals its golden file", (name, example) => {
    expect(existsSync(goldenPath(name)), `${name}.golden`).toBe(true);
    expect(example.body).toBe(readFileSync(goldenPath(name), "utf8"));
  });
});
