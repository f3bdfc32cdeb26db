// Comments and documents point at files by their repository path; a path that no
// longer exists sends a reader nowhere. Every such pointer must name a file or
// folder that is there (placeholders like <name> and globs are left alone).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";

const pointer = /(?<![\w./-])((?:scripts|test|apps|libs|third_party|docs)\/[\w./<>*{}|-]*[\w>*}])/g;
/** Placeholders (`<instance>`, `NAME`, globs, `a|b`) and what vendir writes but git does not keep. */
const notAPath = (p: string) =>
  /[<>*{}|]/.test(p) || /(^|\/)[A-Z]+(\.|\/|$)/.test(p) || p.startsWith("third_party/vendir/charts");
/** Lines that are prose: comments in code and configuration, every line of a document. */
const commentLine = /^\s*(\/\/|#|\*|\/\*|\{\{-?\s*\/\*)/;

function trackedFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return out
    .split("\n")
    .filter(
      (f) =>
        /\.(ts|mjs|yml|yaml|tpl|md)$/.test(f) &&
        !f.startsWith("third_party/vendir/charts/") &&
        existsSync(join(repoRoot, f)),
    );
}

function pointers(file: string): string[] {
  const lines = readFileSync(join(repoRoot, file), "utf8").split("\n");
  const prose = file.endsWith(".md") ? lines : lines.filter((l) => commentLine.test(l));
  return prose
    .flatMap((line) => [...line.matchAll(pointer)].map((m) => m[1]!.replace(/\.$/, "")))
    .filter((p) => !notAPath(p));
}

describe("pointers to files in comments and documents", () => {
  it("name files and folders that exist", () => {
    const stale = trackedFiles().flatMap((file) =>
      pointers(file)
        .filter((p) => !existsSync(join(repoRoot, p)))
        .map((p) => `${file}: ${p}`),
    );
    expect(stale).toEqual([]);
  });
});
