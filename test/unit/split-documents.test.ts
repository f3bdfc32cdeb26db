// Reading a relay's log for documents loaded twice (split into two copies). The
// lines are the server's own (tracing's text format, NO_COLOR), as the node tests see them.
import { describe, expect, it } from "vitest";
import { splitDocuments } from "../../scripts/lib/split-documents.ts";

const start = "2026-12-03T17:00:00.000001Z  INFO relay: Listening on ws://0.0.0.0:8080";
const load = (id: string) =>
  `2026-12-03T17:00:01.000001Z  INFO relay::server: Loading doc with channel and user doc_id="${id}" channel=None user=None`;
const gc = (id: string) => `2026-12-03T17:00:09.000001Z  INFO gc_loop{doc_id="${id}"}: relay::server: GCing doc`;

describe("split documents in a relay's log", () => {
  it("finds a document loaded twice with no unload between", () => {
    expect(splitDocuments([start, load("a"), load("b"), load("a")].join("\n"))).toEqual({
      seesLoads: true,
      split: ["a"],
    });
  });

  it("does not count a document unloaded and loaded again", () => {
    expect(splitDocuments([start, load("a"), gc("a"), load("a")].join("\n"))).toEqual({ seesLoads: true, split: [] });
  });

  it("says when the log is below info and could not show a load", () => {
    expect(splitDocuments("2026-12-03T17:00:01.000001Z  WARN relay::server: something\n")).toEqual({
      seesLoads: false,
      split: [],
    });
  });

  it("reads the plain 'Loading doc' line of other paths too", () => {
    expect(
      splitDocuments([start, `x  INFO relay::server: Loading doc doc_id="c"`, load("c")].join("\n")).split,
    ).toEqual(["c"]);
  });
});
