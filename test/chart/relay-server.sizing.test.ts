// The chart README's sizing table stands on figures: it is exactly what the bench's
// results (docs/capacity.json) make of them, and those results were measured at the
// values the instances carry now. Either drifting fails here; `BENCH_ONLY=capacity
// npm run bench` measures again and rewrites both.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { chartDir } from "../support/chart.ts";
import {
  capacityResultsFile,
  instanceValues,
  readCapacityResults,
  sizingTable,
  spliceSizing,
} from "../support/sizing.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const rerun = "run BENCH_ONLY=capacity npm run bench on a machine with a real node";

describe("relay-server sizing table", () => {
  const results = readCapacityResults();

  it(`is what ${capacityResultsFile} makes of the bench's figures (${rerun})`, () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    expect(spliceSizing(readme, sizingTable(results))).toBe(readme);
  });

  it.each(instances.map((i) => [i.release, i] as const))(
    `was measured at the values %s carries now (${rerun} after changing them)`,
    (release, instance) => {
      const measured = results.instances.find((i) => i.release === release);
      expect(measured, `${capacityResultsFile} has no row for ${release}`).toBeDefined();
      expect(measured!.values).toEqual(instanceValues(instance));
    },
  );
});
