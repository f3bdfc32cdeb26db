// File writes for the flows: atomic (temp file + rename), only on change, through
// a symbolic link to the file it names, several files all or none, and a unified
// diff to print (the whole effect of --dry-run on a file). Also the flows' temporary folders.
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createTwoFilesPatch } from "diff";
import { describeFsError, fsRemedy, OperatorError } from "./errors.ts";
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

/**
 * The file a write to `path` must replace: `path` itself, or, for a symbolic link
 * (a chain of them), the file it names, so that the link stays a link (a rename onto
 * the link's own path would replace it with a regular file).
 */
export function writeTarget(path: string): string {
  let target = path;
  for (let hops = 0; hops < 40; hops++) {
    let link: boolean;
    try {
      link = lstatSync(target).isSymbolicLink();
    } catch {
      return target; // not there yet: created as a regular file
    }
    if (!link) return target;
    target = resolve(dirname(target), readlinkSync(target));
  }
  throw new OperatorError(
    `expected ${displayPath(path)} to be a file or a link to one; ${describeFsError({ code: "ELOOP" })}; fix the link`,
  );
}

/** Writes `content` to `path` atomically when it differs (through a link, to the file it names); with dryRun only reports. */
export function writeIfChanged(
  path: string,
  content: string,
  opts: { dryRun?: boolean; mode?: number } = {},
): FileChange {
  const before = existsSync(path) ? readFileSync(path, "utf8") : "";
  const diff = unifiedDiff(path, before, content);
  if (!diff) return { path, changed: false, diff };
  if (!opts.dryRun) {
    const target = writeTarget(path);
    // Beside the file it replaces: a rename is atomic only within one file system.
    const tmp = `${target}.tmp-${randomBytes(4).toString("hex")}`;
    const mode = opts.mode ?? (existsSync(target) ? statSync(target).mode & 0o777 : 0o644);
    try {
      writeFileSync(tmp, content, { mode });
      chmodSync(tmp, mode);
      renameSync(tmp, target);
    } catch (error) {
      const through = target === path ? "" : ` (through the link, ${displayPath(target)})`;
      throw new OperatorError(
        `expected to write ${displayPath(path)}${through}; ${describeFsError(error)}; ${fsRemedy(error, "make its folder writable or pass a file you can write")}; the file was left as it was`,
        { cause: error },
      );
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
export function writeAllOrNone(
  files: { path: string; content: string }[],
  opts: { dryRun?: boolean } = {},
): FileChange[] {
  const changes: FileChange[] = [];
  const written: { path: string; before?: string }[] = [];
  for (const { path, content } of files) {
    const before = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    let change: FileChange;
    try {
      change = writeIfChanged(path, content, opts);
    } catch (error) {
      const cause = (error as Error).cause ?? error;
      throw new OperatorError(
        `expected to write ${displayPath(path)}; ${describeFsError(cause)}; ${putBack(written)}; ${fsRemedy(cause, `make ${displayPath(path)} writable`)} and run the same command again`,
      );
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

/**
 * A new private folder (mode 0700) under the temporary folder, for files a flow
 * hands to a tool; `purpose` says what for, in the error when there is no such folder.
 */
export function privateTempDir(prefix: string, purpose: string): string {
  try {
    return mkdtempSync(join(tmpdir(), prefix));
  } catch (error) {
    const where = process.env.TMPDIR ? `TMPDIR (${tmpdir()})` : tmpdir();
    throw new OperatorError(
      `expected a writable temporary folder at ${where} to ${purpose}; ${describeFsError(error)}; create it, or set TMPDIR to a folder you can write`,
    );
  }
}
