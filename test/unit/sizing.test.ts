// The pure parts of the capacity figures: percentiles by nearest rank, Kubernetes
// quantities, an instance's values as helm merges them, and the generated block
// replaced between its markers and nowhere else.
import { describe, expect, it } from "vitest";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { percentiles } from "../support/edit-latency.ts";
import { instanceValues, quantity, sizingEnd, sizingStart, spliceSizing } from "../support/sizing.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

describe("capacity figures", () => {
  it("takes percentiles by nearest rank: p99 of 300 samples is the third largest", () => {
    const samples = Array.from({ length: 300 }, (_, i) => 300 - i);
    expect(percentiles(samples)).toEqual({ count: 300, median: 150, p95: 285, p99: 297, max: 300 });
    expect(percentiles([7])).toEqual({ count: 1, median: 7, p95: 7, p99: 7, max: 7 });
  });

  it("reads CPU and memory quantities, and refuses anything else with the expected form", () => {
    expect(quantity("500m")).toBe(0.5);
    expect(quantity("256Mi")).toBe(256 * 2 ** 20);
    expect(quantity("1")).toBe(1);
    expect(() => quantity("lots")).toThrow(/expected a Kubernetes quantity such as 500m or 512Mi; got "lots"/);
  });

  it("merges an instance's values over the chart's, as helm does (the chart's memory limit when the instance sets none)", () => {
    const family = instanceValues(instances.find((i) => i.name === "family")!);
    expect(family.cpuLimit).toMatch(/^\d+m?$/);
    expect(family.memoryLimit).toMatch(/^\d+(Mi|Gi)$/);
    expect(typeof family.nofile).toBe("number");
  });

  it("replaces only the text between the sizing markers, and names them when they are missing", () => {
    const readme = `# chart\n\nbefore\n${sizingStart}\nold table\n${sizingEnd}\nafter\n`;
    expect(spliceSizing(readme, "new table")).toBe(
      `# chart\n\nbefore\n${sizingStart}\nnew table\n${sizingEnd}\nafter\n`,
    );
    expect(spliceSizing(spliceSizing(readme, "new table"), "new table")).toBe(spliceSizing(readme, "new table"));
    expect(() => spliceSizing("# chart\n", "t")).toThrow(/expected the chart README to hold the markers/);
  });
});
