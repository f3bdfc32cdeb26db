// The pure part of vendir:remove-entry: which bytes an entry owns, and what counts as a reference.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { OperatorError } from "../../scripts/lib/cli.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import {
  chartNames,
  chartPathSpellings,
  findEntry,
  historyHasEntry,
  isValidEntryName,
  parseVendir,
  referenceLines,
  removeEntry,
} from "../../scripts/lib/vendir.ts";

const fixtures = join(repoRoot, "test/fixtures/vendir");
const read = (path: string) => readFileSync(join(fixtures, path), "utf8");
const files = ["vendir.yml", "vendir.lock.yml"] as const;

describe("removing a charts entry from vendir files full of comments", () => {
  // Expected texts are the fixtures with hand-picked line ranges deleted.
  for (const name of ["connect", "relay-server", "podinfo", "cert-manager"]) {
    for (const file of files) {
      it(`removes only ${name} and its comment block from ${file}, every other byte equal`, () => {
        const result = removeEntry(read(`several/${file}`), name, file);
        expect(result.text).toBe(read(`several-expected/without-${name}/${file}`));
      });
    }
  }

  it("keeps the same-named entry of another directory", () => {
    const after = parse(removeEntry(read("several/vendir.yml"), "relay-server", "vendir.yml").text);
    const tools = after.directories.find((d: { path: string }) => d.path === "tools");
    expect(tools.contents.map((c: { path: string }) => c.path)).toEqual(["relay-server"]);
  });

  it("leaves the rest of the config meaning the same", () => {
    const before = parse(read("several/vendir.yml"));
    const after = parse(removeEntry(read("several/vendir.yml"), "relay-server", "vendir.yml").text);
    before.directories[0].contents.splice(1, 1);
    expect(after).toEqual(before);
  });

  it("changes nothing when the entry is not there", () => {
    const text = read("several-expected/without-relay-server/vendir.yml");
    expect(removeEntry(text, "relay-server", "vendir.yml")).toEqual({ text });
  });

  it("reports the entry's own lines, not its comment block's", () => {
    expect(findEntry(read("several/vendir.yml"), "relay-server", "vendir.yml")).toMatchObject({ firstLine: 23, lastLine: 30 });
  });

  it("lists the names under charts only", () => {
    expect(chartNames(parseVendir(read("several/vendir.yml"), "vendir.yml"))).toEqual(["connect", "relay-server", "podinfo", "cert-manager"]);
    expect(chartNames(parseVendir(read("several/vendir.lock.yml"), "vendir.lock.yml"))).toEqual(["connect", "relay-server", "podinfo", "cert-manager"]);
  });

  it("removes relay-server from the pre-migration files and keeps connect byte for byte", () => {
    const config = removeEntry(read("pre-migration/vendir.yml"), "relay-server", "vendir.yml").text;
    const lock = removeEntry(read("pre-migration/vendir.lock.yml"), "relay-server", "vendir.lock.yml").text;
    expect(config).toBe(read("pre-migration/vendir.yml").split("      # The upstream chart")[0]);
    expect(lock).toBe(read("pre-migration/vendir.lock.yml").replace(/  - git:\n.*\n    path: relay-server\n/, ""));
    expect(parse(config).directories[0].contents.map((c: { path: string }) => c.path)).toEqual(["connect"]);
  });

  it("leaves an empty list, not a null, when the last entry goes", () => {
    const text = "directories:\n- path: charts\n  contents:  # the charts\n  # only\n  - path: a\n    helmChart: {name: a}\n";
    const after = removeEntry(text, "a", "vendir.yml").text;
    expect(after).toBe("directories:\n- path: charts\n  contents: []  # the charts\n");
    expect(parse(after).directories[0].contents).toEqual([]);
  });

  it("does not leave two blank lines where an entry between blank lines went", () => {
    const text = "directories:\n- path: charts\n  contents:\n  - path: a\n\n  # b\n  - path: b\n\n  - path: c\n";
    expect(removeEntry(text, "b", "vendir.yml").text).toBe("directories:\n- path: charts\n  contents:\n  - path: a\n\n  - path: c\n");
  });

  it("does not leave a blank line at the end when the last entry goes", () => {
    const text = "directories:\n- path: charts\n  contents:\n  - path: a\n\n  - path: b\n";
    expect(removeEntry(text, "b", "vendir.yml").text).toBe("directories:\n- path: charts\n  contents:\n  - path: a\n");
  });

  it("refuses a flow list it cannot cut without re-serializing", () => {
    const text = "directories:\n- path: charts\n  contents: [{path: a}, {path: b}]\n";
    expect(() => removeEntry(text, "a", "vendir.yml")).toThrow(/expected the contents of charts\/ in vendir.yml as a block list/);
  });

  it("refuses a duplicated entry, naming both lines", () => {
    const text = "directories:\n- path: charts\n  contents:\n  - path: a\n  - path: a\n";
    expect(() => removeEntry(text, "a", "vendir.yml")).toThrow("found 2 (lines 4 and 5)");
  });
});

describe("reading a malformed vendir file", () => {
  it("names the file and the line of the syntax error", () => {
    const broken = read("several/vendir.yml").replace("        git:\n", "        git: [\n");
    const attempt = () => removeEntry(broken, "relay-server", "third_party/vendir/vendir.yml");
    expect(attempt).toThrow(OperatorError);
    expect(attempt).toThrow(/^expected valid YAML in third_party\/vendir\/vendir.yml; found a syntax error at third_party\/vendir\/vendir.yml:\d+ /);
  });

  it("points at the line where the error is", () => {
    const broken = "apiVersion: v1\nkind: Config\ndirectories:\n  - path: charts\n   bad: [\n";
    expect(() => parseVendir(broken, "vendir.yml")).toThrow(/vendir.yml:5 /);
  });
});

describe("references to a vendored chart", () => {
  // Spelled with a variable so that this file is no reference to the real relay-server chart.
  const name = "relay-server";
  const spellings = chartPathSpellings("third_party/vendir", name);

  it("finds both spellings with their line numbers", () => {
    const text = `a\nchart: ../../third_party/vendir/charts/${name}\nb\nsee vendir/charts/${name}/values.yaml\n`;
    expect(referenceLines(text, spellings)).toEqual([2, 4]);
  });

  it("does not take a longer chart name for the chart", () => {
    expect(referenceLines(`path: third_party/vendir/charts/${name}-v2\n`, spellings)).toEqual([]);
  });

  it("uses the vendir folder's own path when it is not third_party/vendir", () => {
    expect(chartPathSpellings("vendored", "x")).toEqual(["vendored/charts/x", "vendir/charts/x"]);
    expect(referenceLines("vendored/charts/x\n", chartPathSpellings("vendored", "x"))).toEqual([1]);
  });
});

describe("telling a second run from an unknown name", () => {
  it("sees an entry that git history added or removed", () => {
    expect(historyHasEntry("@@ -1,3 +1,1 @@\n-      - path: relay-server\n-        git:\n", "relay-server")).toBe(true);
    expect(historyHasEntry("+  - path: \"relay-server\"  # old chart\n", "relay-server")).toBe(true);
    expect(historyHasEntry("-  - git:\n-      sha: 397c\n-    path: relay-server\n", "relay-server")).toBe(true);
  });

  it("does not count a mere mention or a longer name", () => {
    expect(historyHasEntry("+# relay-server is gone\n+  - path: relay-server-v2\n", "relay-server")).toBe(false);
  });
});

describe("entry names", () => {
  it("accepts chart-like names and refuses anything that leaves charts/", () => {
    expect(["relay-server", "connect", "cert-manager", "a.b_c"].every(isValidEntryName)).toBe(true);
    expect(["..", "../x", "a/b", "", ".hidden", "-x"].some(isValidEntryName)).toBe(false);
  });
});
