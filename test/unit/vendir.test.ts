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
    expect(findEntry(read("several/vendir.yml"), "relay-server", "vendir.yml")).toMatchObject({
      firstLine: 23,
      lastLine: 30,
    });
  });

  it("lists the names under charts only", () => {
    expect(chartNames(parseVendir(read("several/vendir.yml"), "vendir.yml"))).toEqual([
      "connect",
      "relay-server",
      "podinfo",
      "cert-manager",
    ]);
    expect(chartNames(parseVendir(read("several/vendir.lock.yml"), "vendir.lock.yml"))).toEqual([
      "connect",
      "relay-server",
      "podinfo",
      "cert-manager",
    ]);
  });

  it("leaves an empty list, not a null, when the last entry goes", () => {
    const text =
      "directories:\n- path: charts\n  contents:  # the charts\n  # only\n  - path: a\n    helmChart: {name: a}\n";
    const after = removeEntry(text, "a", "vendir.yml").text;
    expect(after).toBe("directories:\n- path: charts\n  contents: []  # the charts\n");
    expect(parse(after).directories[0].contents).toEqual([]);
  });

  it("does not leave two blank lines where an entry between blank lines went", () => {
    const text = "directories:\n- path: charts\n  contents:\n  - path: a\n\n  # b\n  - path: b\n\n  - path: c\n";
    expect(removeEntry(text, "b", "vendir.yml").text).toBe(
      "directories:\n- path: charts\n  contents:\n  - path: a\n\n  - path: c\n",
    );
  });

  it("does not leave a blank line at the end when the last entry goes", () => {
    const text = "directories:\n- path: charts\n  contents:\n  - path: a\n\n  - path: b\n";
    expect(removeEntry(text, "b", "vendir.yml").text).toBe("directories:\n- path: charts\n  contents:\n  - path: a\n");
  });

  it("refuses a flow list it cannot cut without re-serializing", () => {
    const text = "directories:\n- path: charts\n  contents: [{path: a}, {path: b}]\n";
    expect(() => removeEntry(text, "a", "vendir.yml")).toThrow(
      /expected the contents of charts\/ in vendir.yml as a block list/,
    );
  });

  it("refuses a duplicated entry, naming both lines", () => {
    const text = "directories:\n- path: charts\n  contents:\n  - path: a\n  - path: a\n";
    expect(() => removeEntry(text, "a", "vendir.yml")).toThrow("found 2 (lines 4 and 5)");
  });
});

describe("removing a chart's directory entry (one directory per chart, as in the pre-migration repository)", () => {
  type Directory = { path: string };
  const preMigrationCharts = [
    "1password-connect",
    "cert-manager",
    "external-dns",
    "ingress-nginx",
    "kube-prometheus-stack",
    "loki",
    "relay-server",
    "minio",
    "podinfo",
    "reloader",
    "sealed-secrets",
    "velero",
  ];

  // The first, a middle one, one under a comment that is not directly above it, and the last.
  for (const name of ["1password-connect", "relay-server", "sealed-secrets", "velero"]) {
    for (const file of files) {
      it(`removes only charts/${name} and its comment block from ${file}, every other byte equal`, () => {
        const result = removeEntry(read(`pre-migration/${file}`), name, file);
        expect(result.text).toBe(read(`pre-migration-expected/without-${name}/${file}`));
      });
    }
  }

  it("lists the charts of both files in file order, by the name after charts/", () => {
    for (const file of files)
      expect(chartNames(parseVendir(read(`pre-migration/${file}`), file)), file).toEqual(preMigrationCharts);
  });

  for (const name of ["ingress-nginx", "kube-prometheus-stack", "loki", "cert-manager"]) {
    it(`leaves the rest of both files meaning the same when charts/${name} goes`, () => {
      for (const file of files) {
        const before = parse(read(`pre-migration/${file}`));
        const after = parse(removeEntry(read(`pre-migration/${file}`), name, file).text);
        before.directories = before.directories.filter((d: Directory) => d.path !== `charts/${name}`);
        expect(after, file).toEqual(before);
      }
    });
  }

  it("changes nothing when the directory entry is not there", () => {
    for (const file of files) {
      const text = read(`pre-migration-expected/without-relay-server/${file}`);
      expect(removeEntry(text, "relay-server", file)).toEqual({ text });
    }
  });

  it("reports the directory entry's own lines, not its comment block's", () => {
    expect(findEntry(read("pre-migration/vendir.yml"), "relay-server", "vendir.yml")).toMatchObject({
      firstLine: 74,
      lastLine: 82,
    });
    expect(findEntry(read("pre-migration/vendir.lock.yml"), "relay-server", "vendir.lock.yml")).toMatchObject({
      firstLine: 41,
      lastLine: 46,
    });
  });

  it("leaves an empty directories list, not a null, when the last chart goes", () => {
    const text =
      "kind: Config\ndirectories:\n  # a\n  - path: charts/a\n    contents:\n      - path: .\n        helmChart: {name: a}\n";
    const after = removeEntry(text, "a", "vendir.yml").text;
    expect(after).toBe("kind: Config\ndirectories: []\n");
    expect(parse(after).directories).toEqual([]);
  });

  it("finds charts of both layouts in one file and leaves the other layout's entries alone", () => {
    const text =
      "directories:\n- path: charts/a\n  contents:\n  - path: .\n- path: charts\n  contents:\n  - path: b\n- path: charts/a/extra\n  contents: []\n- path: tools/b\n  contents: []\n";
    expect(chartNames(parseVendir(text, "vendir.yml"))).toEqual(["a", "b"]);
    expect(removeEntry(text, "a", "vendir.yml").text).toBe(
      text.replace("- path: charts/a\n  contents:\n  - path: .\n", ""),
    );
    expect(removeEntry(text, "b", "vendir.yml").text).toBe(
      text.replace("  contents:\n  - path: b\n", "  contents: []\n"),
    );
  });

  it("refuses a flow list of directories it cannot cut without re-serializing", () => {
    const text = "directories: [{path: charts/a, contents: [{path: .}]}]\n";
    expect(() => removeEntry(text, "a", "vendir.yml")).toThrow(
      /^expected the directories in vendir.yml as a block list \("- path: charts\/a"\); found a flow list at line 1; /,
    );
  });

  it("refuses a duplicated directory entry, naming both lines", () => {
    const text = "directories:\n- path: charts/a\n  contents: []\n- path: charts/a\n  contents: []\n";
    expect(() => removeEntry(text, "a", "vendir.lock.yml")).toThrow(
      "expected one entry charts/a in vendir.lock.yml; found 2 (lines 2 and 4)",
    );
  });
});

describe("reading a malformed vendir file", () => {
  it("names the file and the line of the syntax error", () => {
    const broken = read("several/vendir.yml").replace("        git:\n", "        git: [\n");
    const attempt = () => removeEntry(broken, "relay-server", "third_party/vendir/vendir.yml");
    expect(attempt).toThrow(OperatorError);
    expect(attempt).toThrow(
      /^expected valid YAML in third_party\/vendir\/vendir.yml; found a syntax error at third_party\/vendir\/vendir.yml:\d+ /,
    );
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
    expect(historyHasEntry('+  - path: "relay-server"  # old chart\n', "relay-server")).toBe(true);
    expect(historyHasEntry("-  - git:\n-      sha: 397c\n-    path: relay-server\n", "relay-server")).toBe(true);
  });

  it("sees a chart's directory entry that git history added or removed", () => {
    expect(
      historyHasEntry("@@ -70,14 +69,0 @@\n-  - path: charts/relay-server\n-    contents:\n", "relay-server"),
    ).toBe(true);
    expect(
      historyHasEntry("+- contents:\n+  - git:\n+    path: .\n+  path: charts/relay-server\n", "relay-server"),
    ).toBe(true);
  });

  it("does not count a directory of another folder or a longer name", () => {
    expect(
      historyHasEntry(
        "+  - path: tools/relay-server\n+  - path: charts/relay-server-v2\n+  path: charts/relay-server/sub\n",
        "relay-server",
      ),
    ).toBe(false);
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
