// vendir:remove-entry's side effects on the repository: reading both vendir files
// with the text each becomes, finding references to a chart's folder, and asking
// git's history whether an entry ever existed. The decisions are in vendir.ts.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { OperatorError } from "./errors.ts";
import { chartPathSpellings, chartsDir, historyHasEntry, referenceLines, removeEntry } from "./vendir.ts";

export interface VendirFile {
  path: string;
  /** The path as printed: from the repository root when inside it. */
  shown: string;
  before: string;
  after: string;
  /** 1-based lines of the entry, when the file has it. */
  lines?: [number, number];
}

/** Reads and parses one vendir file and computes its text without the entry. */
export function readVendirFile(
  path: string,
  show: (path: string) => string,
  name: string,
  required: boolean,
): VendirFile | undefined {
  const shownPath = show(path);
  if (!existsSync(path)) {
    if (!required) return undefined;
    throw new OperatorError(
      `expected ${shownPath}; found no such file; pass --dir with the folder that holds vendir.yml`,
    );
  }
  const before = readFileSync(path, "utf8");
  const { text, cut } = removeEntry(before, name, shownPath);
  return { path, shown: shownPath, before, after: text, lines: cut && [cut.firstLine, cut.lastLine] };
}

/** file:line of every line in the repository's files that names the chart's folder. */
export function findReferences(root: string, dir: string, name: string): string[] {
  const dirInRepo = relative(root, dir).split("\\").join("/");
  const spellings = chartPathSpellings(dirInRepo, name);
  const own = new Set([`${dirInRepo}/vendir.yml`, `${dirInRepo}/vendir.lock.yml`]);
  // Untracked files count too (but not ignored ones): a new HelmRelease uses the chart before it is committed.
  const listed = git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  if (listed === undefined)
    throw new OperatorError(
      `expected ${root} to be a git repository; git ls-files failed there; pass --repo-root with the repository's root`,
    );
  const found: string[] = [];
  for (const file of new Set(listed.split("\0").filter(Boolean))) {
    if (own.has(file) || file.startsWith(`${dirInRepo}/${chartsDir}/${name}/`)) continue;
    let content: Buffer;
    try {
      content = readFileSync(join(root, file));
    } catch {
      continue; // deleted in the working tree, a submodule, or a dangling link
    }
    if (content.subarray(0, 8000).includes(0)) continue; // binary
    for (const line of referenceLines(content.toString("utf8"), spellings)) found.push(`${file}:${line}`);
  }
  return found;
}

/** Whether git keeps the vendir files' history here: the repository has a commit and tracks vendir.yml. */
export function historyKnows(root: string, dir: string): boolean {
  return (
    git(root, ["rev-parse", "--verify", "--quiet", "HEAD"]) !== undefined &&
    git(root, ["ls-files", "--error-unmatch", "--", relative(root, join(dir, "vendir.yml"))]) !== undefined
  );
}

/** Whether git history shows charts/<name> in the vendir files: then its absence means an earlier run removed it. */
export function wasEverAnEntry(root: string, dir: string, name: string): boolean {
  const files = ["vendir.yml", "vendir.lock.yml"].map((f) => relative(root, join(dir, f)));
  const committed = git(root, ["log", "--all", "-p", "--format=", "--", ...files]) ?? "";
  const staged = git(root, ["diff", "--cached", "--", ...files]) ?? "";
  return historyHasEntry(committed + staged, name);
}

/** Runs git; undefined when it fails (no repository, no commits). */
export function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch {
    return undefined;
  }
}
