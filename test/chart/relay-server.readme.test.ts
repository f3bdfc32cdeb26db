// values.yaml is the chart's documentation: every key carries a comment, and
// the README's values table has a row for every key (and none for a missing one).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isMap, parseDocument, type YAMLMap } from "yaml";
import { chartDir } from "../support/chart.ts";

interface Key {
  path: string;
  comment: string;
}

/** Leaf keys of values.yaml: a non-empty map is descended into, anything else is a leaf. */
function valuesKeys(): Key[] {
  const doc = parseDocument(readFileSync(join(chartDir, "values.yaml"), "utf8"));
  const keys: Key[] = [];
  const walk = (map: YAMLMap, prefix: string): void => {
    map.items.forEach((pair, index) => {
      const key = pair.key as { value: unknown; commentBefore?: string | null };
      const path = `${prefix}${String(key.value)}`;
      // The yaml parser hangs the comment above a map's first key on the map itself.
      const comment = key.commentBefore ?? (index === 0 ? map.commentBefore : undefined) ?? "";
      keys.push({ path, comment: comment.trim() });
      if (isMap(pair.value) && pair.value.items.length > 0) walk(pair.value, `${path}.`);
    });
  };
  if (!isMap(doc.contents)) throw new Error("values.yaml is not a map");
  walk(doc.contents, "");
  return keys;
}

function leafPaths(keys: Key[]): string[] {
  return keys.map((k) => k.path).filter((p) => !keys.some((other) => other.path.startsWith(`${p}.`)));
}

function readmeRows(): string[] {
  const readme = readFileSync(join(chartDir, "README.md"), "utf8");
  return [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

describe("relay-server values documentation", () => {
  it("has a comment above every key of values.yaml", () => {
    const keys = valuesKeys();
    expect(keys.length).toBeGreaterThan(50);
    expect(keys.filter((k) => k.comment === "").map((k) => k.path)).toEqual([]);
  });

  it("has a README values-table row for every leaf key of values.yaml", () => {
    const rows = readmeRows();
    expect(leafPaths(valuesKeys()).filter((p) => !rows.includes(p))).toEqual([]);
  });

  it("has no README values-table row for a key values.yaml does not have", () => {
    const leaves = leafPaths(valuesKeys());
    expect(readmeRows().filter((r) => !leaves.includes(r))).toEqual([]);
  });
});
