// File writes for the flows: atomic (temp file + rename), only on change, several
// files all or none, and a unified diff to print (the whole effect of --dry-run on a file).
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
      throw new OperatorError(`expected to write ${displayPath(path)}; ${describeFsError(error)}; make its folder writable or pass a file you can write; the file was left as it was`, { cause: error });
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

/**
 * writeIfChanged for several files, all or none: when one write fails, the files
 * written before it get their old content back (atomically too), and the error
 * says what failed, what was put back and what to do.
 */
export function writeAllOrNone(files: { path: string; content: string }[], opts: { dryRun?: boolean } = {}): FileChange[] {
  const changes: FileChange[] = [];
  const written: { path: string; before?: string }[] = [];
  for (const { path, content } of files) {
    const before = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    let change: FileChange;
    try {
      change = writeIfChanged(path, content, opts);
    } catch (error) {
      const cause = describeFsError((error as Error).cause ?? error);
      throw new OperatorError(`expected to write ${displayPath(path)}; ${cause}; ${putBack(written)}; make ${displayPath(path)} writable and run the same command again`);
    }
    changes.push(change);
    if (change.changed && !opts.dryRun) written.push({ path, before });
  }
  return changes;
}

function putBack(written: { path: string; before?: string }[]): string {
  if (written.length === 0) return "nothing was changed";
  const shown = written.map((w) => displayPath(w.path)).join(" and ");
  try {
    for (const w of written) {
      if (w.before === undefined) rmSync(w.path, { force: true });
      else writeIfChanged(w.path, w.before);
    }
  } catch (error) {
    return `putting back ${shown} failed too (${describeFsError((error as Error).cause ?? error)}), so restore ${written.length > 1 ? "them" : "it"} from git`;
  }
  return `put back ${shown} as ${written.length > 1 ? "they were" : "it was"}, so nothing was changed`;
}
