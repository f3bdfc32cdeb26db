// vendir-remove-entry's steps, loaded once its command line is parsed (scripts/flows/vendir-remove-entry.ts).
import { existsSync, readdirSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { newListr, say, step, UsageError } from "../../lib/cli.ts";
import { describeFsError, OperatorError } from "../../lib/errors.ts";
import { writeAllOrNone } from "../../lib/files.ts";
import { displayPath, repoRoot } from "../../lib/paths.ts";
import { chartNames, chartsDir, isValidEntryName, parseVendir } from "../../lib/vendir.ts";
import { findReferences, git, readVendirFile, type VendirFile, wasEverAnEntry } from "../../lib/vendir-repo.ts";
import type { Args } from "../vendir-remove-entry.ts";

interface Ctx {
  config: VendirFile;
  lock?: VendirFile;
  folderPresent: boolean;
  /** The entry is in neither file and its folder is gone: an earlier run did the work. */
  nothingToRemove: boolean;
}

export async function run({ values, positionals, common }: Args): Promise<void> {
  const name = entryName(positionals);
  // parseFlowArgs made the given paths absolute, from where the operator typed the command.
  const dir = values.dir ?? join(repoRoot, "third_party/vendir");
  const repo = values["repo-root"] ?? git(dir, ["rev-parse", "--show-toplevel"])?.trim();
  const show = (path: string) => displayPath(path, repo ?? repoRoot);
  const folder = join(dir, chartsDir, name);
  const dryRun = common.dryRun;

  await newListr<Ctx>([
    step(`Read ${show(dir)}/vendir.yml and vendir.lock.yml`, (ctx, task) => {
      ctx.config = readVendirFile(join(dir, "vendir.yml"), show, name, true)!;
      ctx.lock = readVendirFile(join(dir, "vendir.lock.yml"), show, name, false);
      ctx.folderPresent = existsSync(folder);
      for (const file of [ctx.config, ctx.lock]) {
        if (file?.lines) say(task, `${file.shown}: charts/${name} at lines ${file.lines[0]}-${file.lines[1]}`);
      }
      if (ctx.config.lines || ctx.lock?.lines || ctx.folderPresent) return;

      const names = chartNames(parseVendir(ctx.config.before, ctx.config.shown));
      if (!repo || !wasEverAnEntry(repo, dir, name)) {
        throw new OperatorError(
          `expected an entry charts/${name} in ${ctx.config.shown}; found ${names.length ? `only ${names.join(", ")}` : "no entries under charts/"}; pass one of those names`,
        );
      }
      ctx.nothingToRemove = true;
      say(task, `nothing to remove: charts/${name} is in neither file and ${show(folder)} does not exist`);
    }),

    step(`Check that nothing references ${show(dir)}/${chartsDir}/${name}`, (ctx, task) => {
      if (!repo && !values.force) {
        throw new OperatorError(`expected ${show(dir)} inside a git repository, to look for references; found none; pass --repo-root PATH, or --force to skip the check`);
      }
      if (!repo) return say(task, `--force: ${show(dir)} is in no git repository, not looking for references`);
      const references = findReferences(repo, dir, name);
      if (references.length === 0) return say(task, `no file in ${repo} references it`);
      const list = references.map((r) => `  ${r}`).join("\n");
      if (values.force) return say(task, `--force: removing although ${references.length} line(s) still reference it:\n${list}`);
      throw new OperatorError(
        `expected no file to reference ${show(dir)}/${chartsDir}/${name}; found ${references.length}:\n${list}\nchange those lines first, or pass --force to remove it anyway`,
      );
    }, { skip: (ctx) => ctx.nothingToRemove && "nothing to remove" }),

    step(`Remove charts/${name} from vendir.yml and vendir.lock.yml`, (ctx, task) => {
      // Both texts were made when the files were read; a failed write leaves both files as they were.
      const files = [ctx.config, ctx.lock].flatMap((file) => (file ? [{ path: file.path, content: file.after }] : []));
      const diffs = writeAllOrNone(files, { dryRun }).filter((change) => change.changed).map((change) => change.diff);
      say(task, diffs.length ? `${dryRun ? "--dry-run: would write\n" : ""}${diffs.join("\n")}` : `neither file has charts/${name}`);
    }, { skip: (ctx) => ctx.nothingToRemove && "nothing to remove" }),

    step(`Delete ${show(dir)}/${chartsDir}/${name}`, (ctx, task) => {
      if (!ctx.folderPresent) return say(task, "not there (never synced, or already deleted)");
      if (dryRun) return say(task, `--dry-run: would delete ${show(folder)}`);
      // Not undone when it fails: the files no longer list the chart, and a second run deletes the rest.
      try {
        rmSync(folder, { recursive: true, force: true });
      } catch (error) {
        // Name a file that stayed, with its own reason: the recursive delete reports only the
        // folder (Node 24) or the file with a misleading ENOTDIR (Node 20).
        const left = fileThatStays(folder) ?? { path: folder, error };
        throw new OperatorError(
          `expected to delete ${show(folder)}; could not delete ${show(left.path)}: ${describeFsError(left.error)}; vendir.yml and vendir.lock.yml no longer list charts/${name}; make the folder deletable and run the same command again to finish`,
        );
      }
      say(task, `deleted ${show(folder)}`);
    }, { skip: (ctx) => ctx.nothingToRemove && "nothing to remove" }),
  ]).run({ folderPresent: false, nothingToRemove: false } as Ctx);
}

/** The first file left in a folder whose delete failed, with the error of deleting it alone. */
function fileThatStays(folder: string): { path: string; error: unknown } | undefined {
  try {
    const entry = readdirSync(folder, { recursive: true, withFileTypes: true }).find((e) => !e.isDirectory());
    if (!entry) return undefined;
    const path = join(entry.parentPath, entry.name);
    unlinkSync(path);
  } catch (error) {
    return { path: (error as NodeJS.ErrnoException).path ?? folder, error };
  }
  return undefined;
}

function entryName(positionals: string[]): string {
  const [given, ...extra] = positionals;
  // "charts/relay-server", as vendir.yml spells the directory, means relay-server.
  const name = given?.startsWith(`${chartsDir}/`) ? given.slice(chartsDir.length + 1) : given;
  if (!name || extra.length) {
    throw new UsageError(`expected one entry name (e.g. relay-server); got ${positionals.length ? positionals.join(" ") : "none"}; see --help`);
  }
  if (!isValidEntryName(name)) {
    throw new UsageError(`expected an entry name such as relay-server; got "${name}", which is not a plain folder name; pass the name that follows ${chartsDir}/ in vendir.yml`);
  }
  return name;
}
