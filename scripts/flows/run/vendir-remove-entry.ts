// vendir-remove-entry's steps, loaded once its command line is parsed (scripts/flows/vendir-remove-entry.ts).
import { existsSync, readdirSync, rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { newSteps } from "../../lib/cli.ts";
import { describeFsError, OperatorError } from "../../lib/errors.ts";
import { writeAllOrNone } from "../../lib/files.ts";
import { displayPath } from "../../lib/paths.ts";
import { chartNames, chartsDir, parseVendir } from "../../lib/vendir.ts";
import { findReferences, git, historyKnows, readVendirFile, wasEverAnEntry } from "../../lib/vendir-repo.ts";

/** What vendir remove-entry does, as its command line asked. */
export interface RemoveEntryOptions {
  /** The entry: the folder name under charts/. */
  name: string;
  /** The vendir folder (absolute). */
  dir: string;
  /** --repo-root: the repository searched for references; default the git repository holding `dir`. */
  repoRoot?: string;
  force: boolean;
  dryRun: boolean;
}

export async function run(opts: RemoveEntryOptions): Promise<void> {
  const { name, dir, dryRun } = opts;
  const repo = opts.repoRoot ?? git(dir, ["rev-parse", "--show-toplevel"])?.trim();
  const show = (path: string) => (repo ? displayPath(path, repo) : displayPath(path));
  const folder = join(dir, chartsDir, name);
  const steps = newSteps();

  const found = await steps.run(`Read ${show(dir)}/vendir.yml and vendir.lock.yml`, (task) => {
    const config = readVendirFile(join(dir, "vendir.yml"), show, name, true);
    const lock = readVendirFile(join(dir, "vendir.lock.yml"), show, name, false);
    const folderPresent = existsSync(folder);
    for (const file of [config, lock])
      if (file?.lines) task.say(`${file.shown}: charts/${name} at lines ${file.lines[0]}-${file.lines[1]}`);
    if (!config)
      throw new OperatorError(
        `expected ${show(join(dir, "vendir.yml"))}; found no such file; pass --dir with the folder that holds vendir.yml`,
      );
    const nothingToRemove = !config.lines && !lock?.lines && !folderPresent;
    if (nothingToRemove) {
      const names = chartNames(parseVendir(config.before, config.shown));
      const listed = names.length ? `only ${names.join(", ")}` : "no entries under charts/";
      // Where git keeps the vendir files' history, a name they never had is a mistake, not an earlier run's work;
      // elsewhere (no repository, no commit yet) the two look the same, and a second run must still end as the first did.
      const known = !!repo && historyKnows(repo, dir);
      if (known && !wasEverAnEntry(repo, dir, name)) {
        throw new OperatorError(
          `expected an entry charts/${name} in ${config.shown}; found ${listed}; pass one of those names`,
        );
      }
      const unsure = known
        ? ""
        : `; without the vendir files' git history a name that was never there looks the same: ${config.shown} lists ${listed}`;
      task.say(`nothing to remove: charts/${name} is in neither file and ${show(folder)} does not exist${unsure}`);
    }
    return { config, lock, folderPresent, nothingToRemove };
  });

  const titles = {
    references: `Check that nothing references ${show(dir)}/${chartsDir}/${name}`,
    remove: `Remove charts/${name} from vendir.yml and vendir.lock.yml`,
    delete: `Delete ${show(dir)}/${chartsDir}/${name}`,
  };
  if (found.nothingToRemove) {
    for (const title of Object.values(titles)) await steps.skip(title, "nothing to remove");
    return;
  }

  await steps.run(titles.references, (task) => {
    if (!repo && !opts.force) {
      throw new OperatorError(
        `expected ${show(dir)} inside a git repository, to look for references; found none; pass --repo-root PATH, or --force to skip the check`,
      );
    }
    if (!repo) return task.say(`--force: ${show(dir)} is in no git repository, not looking for references`);
    const references = findReferences(repo, dir, name);
    if (references.length === 0) return task.say(`no file in ${repo} references it`);
    const list = references.map((r) => `  ${r}`).join("\n");
    if (opts.force)
      return task.say(`--force: removing although ${references.length} line(s) still reference it:\n${list}`);
    throw new OperatorError(
      `expected no file to reference ${show(dir)}/${chartsDir}/${name}; found ${references.length}:\n${list}\nchange those lines first, or pass --force to remove it anyway`,
    );
  });

  await steps.run(titles.remove, (task) => {
    // Both texts were made when the files were read; a failed write leaves both files as they were.
    const files = [found.config, found.lock].flatMap((file) =>
      file ? [{ path: file.path, content: file.after }] : [],
    );
    const diffs = writeAllOrNone(files, { dryRun })
      .filter((change) => change.changed)
      .map((change) => change.diff);
    task.say(
      diffs.length
        ? `${dryRun ? "--dry-run: would write\n" : ""}${diffs.join("\n")}`
        : `neither file has charts/${name}`,
    );
  });

  await steps.run(titles.delete, (task) => {
    if (!found.folderPresent) return task.say("not there (never synced, or already deleted)");
    if (dryRun) return task.say(`--dry-run: would delete ${show(folder)}`);
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
    task.say(`deleted ${show(folder)}`);
  });
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
