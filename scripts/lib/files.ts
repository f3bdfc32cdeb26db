// File writes for the flows: atomic (temp file + rename), only on change, and a
// unified diff to print (the whole effect of --dry-run on a file).
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createTwoFilesPatch } from "diff";
import { describeFsError, OperatorError } from "./errors.ts";
import { displayPath } from "./paths.ts";

export interface FileChange {
  path: string;
  changed: boolean;
  diff: string;
}

export function unifiedDiff(path: string, before: string, after: string): string {
  if (before === after) return "";
  const shown = displayPath(path);
  const [from, to] = shown === path ? [path, path] : [`a/${shown}`, `b/${shown}`];
  return createTwoFilesPatch(from, to, before, after, undefined, undefined, { context: 3 })
    .split("\n")
    .filter((line) => !line.startsWith("====="))
    .join("\n");
}

/** Writes `content` to `path` atomically when it differs; with dryRun only reports. */
export function writeIfChanged(path: string, content: string, opts: { dryRun?: boolean; mode?: number } = {}): FileChange {
  const before = existsSync(path) ? readFileSync(path, "utf8") : "";
  const diff = unifiedDiff(path, before, content);
  if (!diff) return { path, changed: false, diff };
  if (!opts.dryRun) {
    const tmp = `${path}.tmp-${randomBytes(4).toString("hex")}`;
    const mode = opts.mode ?? (existsSync(path) ? statSync(path).mode & 0o777 : 0o644);
    try {
      writeFileSync(tmp, content, { mode });
      chmodSync(tmp, mode);
      renameSync(tmp, path);
    } catch (error) {
      throw new OperatorError(`expected to write ${displayPath(path)}; ${describeFsError(error)}; make its folder writable or pass a file you can write; the file was left as it was`);
    } finally {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // nothing was written there
      }
    }
  }
  return { path, changed: true, diff };
}
