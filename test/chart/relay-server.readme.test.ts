// values.yaml is the chart's documentation: every key carries a comment, every
// leaf a `## @param` line, and the README's Parameters tables are what the
// Bitnami readme generator makes of them (`npm run docs:chart`), never stale.
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { isMap, parseDocument, type YAMLMap } from "yaml";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { chartDir } from "../support/chart.ts";

const run = promisify(execFile);
const generator = join(repoRoot, "node_modules/@bitnami/readme-generator-for-helm/bin/index.js");

interface Key {
  path: string;
  comment: string;
  leaf: boolean;
}

/** Keys of values.yaml: a non-empty map is descended into, anything else is a leaf. */
function valuesKeys(): Key[] {
  const doc = parseDocument(readFileSync(join(chartDir, "values.yaml"), "utf8"));
  const keys: Key[] = [];
  const walk = (map: YAMLMap, prefix: string): void => {
    map.items.forEach((pair, index) => {
      const key = pair.key as { value: unknown; commentBefore?: string | null };
      const path = `${prefix}${String(key.value)}`;
      // The yaml parser hangs the comment above a map's first key on the map itself.
      const comment = key.commentBefore ?? (index === 0 ? map.commentBefore : undefined) ?? "";
      const descend = isMap(pair.value) && pair.value.items.length > 0;
      keys.push({ path, comment: comment.trim(), leaf: !descend });
      if (descend) walk(pair.value as YAMLMap, `${path}.`);
    });
  };
  if (!isMap(doc.contents)) throw new Error("values.yaml is not a map");
  walk(doc.contents, "");
  return keys;
}

/** Runs the pinned generator on a copy of the README; returns what it would write. */
async function regeneratedReadme(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "relay-readme-"));
  try {
    const readme = join(dir, "README.md");
    await copyFile(join(chartDir, "README.md"), readme);
    await run(process.execPath, [generator, "--values", join(chartDir, "values.yaml"), "--readme", readme]);
    return await readFile(readme, "utf8");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("relay-server values documentation", () => {
  it("has a comment above every key of values.yaml", () => {
    const keys = valuesKeys();
    expect(keys.length).toBeGreaterThan(50);
    expect(keys.filter((k) => k.comment === "").map((k) => k.path)).toEqual([]);
  });

  it("describes every leaf key with a one-line `## @param <its path>` comment", () => {
    const undocumented = valuesKeys()
      .filter((k) => k.leaf)
      .filter((k) => !k.comment.split("\n").some((line) => line.startsWith(`# @param ${k.path} `)))
      .map((k) => k.path);
    expect(undocumented).toEqual([]);
  });

  it("has a README whose Parameters tables are exactly what the readme generator makes of values.yaml (run npm run docs:chart)", async () => {
    const committed = readFileSync(join(chartDir, "README.md"), "utf8");
    const regenerated = await regeneratedReadme();
    expect(committed.includes("## Parameters"), "README.md needs a ## Parameters section").toBe(true);
    expect(regenerated).toBe(committed);
  });

  it("lists the storage and logging keys in the README, and no removed key", () => {
    const readme = readFileSync(join(chartDir, "README.md"), "utf8");
    for (const key of [
      "storage.type",
      "storage.s3.prefix",
      "storage.s3.presignedUrlExpiration",
      "storage.filesystem.existingClaim",
      "relay.logging.level",
      "ingress.proxyBodySize",
    ]) {
      expect(readme).toContain(`| \`${key}\``);
    }
    for (const gone of ["relay.logging.format", "aws.s3Bucket", "aws.existingSecret"])
      expect(readme).not.toContain(`| \`${gone}\``);
  });
});
