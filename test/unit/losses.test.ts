import { describe, expect, it } from "vitest";
import { losses } from "../support/editors.ts";

describe("a crash's losses", () => {
  const edits = [
    { id: "a:1", at: 1000, seenAt: 1100 },
    { id: "b:1", at: 2000, seenAt: 4500 },
    { id: "a:2", at: 3000 },
    { id: "b:2", at: 6000, seenAt: 6050 },
  ];

  it("counts the edits made before the crash and missing from S3, with the oldest one's age", () => {
    const report = losses(edits, ["a:1"], 5000);
    expect(report).toMatchObject({ made: 3, readBack: 1, oldestLostAgeMs: 3000 });
    expect(report.lost.map((e) => e.id)).toEqual(["b:1", "a:2"]);
  });

  it("measures the loss window from when the server passed an edit on, not when its client made it", () => {
    // b:1 was made 3 s before the crash but reached the other client (through the server) 0.5 s before it;
    // a:2 never reached it: the server may never have held it.
    expect(losses(edits, ["a:1"], 5000).oldestLostHeldMs).toBe(500);
    expect(losses(edits, ["a:1", "b:1"], 5000).oldestLostHeldMs).toBe(0);
    expect(losses(edits, [], 5000).oldestLostHeldMs).toBe(3900);
  });
});
