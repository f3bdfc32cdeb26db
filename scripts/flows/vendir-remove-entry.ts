// `moon run vendir:remove-entry -- <name>`: takes a vendored chart out of
// vendir.yml and vendir.lock.yml and deletes its synced folder, once nothing in
// the repository refers to it any more.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { baseHelp, newListr, parseFlowArgs, say, step, UsageError } from "../lib/cli.ts";
import { OperatorError } from "../lib/errors.ts";
import { writeIfChanged } from "../lib/files.ts";
import { displayPath, repoRoot } from "../lib/paths.ts";
import { chartNames, chartPathSpellings, chartsDir, historyHasEntry, isValidEntryName, parseVendir, referenceLines, removeEntry } from "../lib/vendir.ts";

const usage = `Usage: moon run vendir:remove-entry -- <name> [options]

Removes charts/<name> from vendir.yml and vendir.lock.yml (with the comment block
directly above it) and deletes the folder charts/<name>, refusing while any file in
the repository still references that folder.

  --dir PATH                     the vendir folder (default third_party/vendir of this repository)
  --repo-root PATH               the repository searched for references (default: the git repository
                                 holding --dir)
  --force                        remove even though files still reference the chart
${baseHelp}

It reaches no cluster and reads no secret: the cluster and secret options of the
other flows are refused here. Relative paths are from the folder the command was
typed in. Exit codes: 0 done, 2 a wrong command line, 3 any other failure.`;

interface VendirFile {
  path: string;
  /** The path as printed: from the repository root when inside it. */
  shown: string;
  before: string;
  after: string;
  /** 1-based lines of the entry, when the file has it. */
  lines?: [number, number];
}

interface Ctx {
  config: VendirFile;
  lock?: VendirFile;
  folderPresent: boolean;
  /** The entry is in neither file and its folder is gone: an earlier run did the work. */
  nothingToRemove: boolean;
}

export async function main(argv: string[]): Promise<void> {
  const { values, positionals, common } = parseFlowArgs(argv, {
    force: { type: "boolean", default: false },
    dir: { type: "string" },
    "repo-root": { type: "string" },
  }, usage);
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
      const diffs: string[] = [];
      for (const file of [ctx.config, ctx.lock]) {
        if (!file) continue;
        const change = writeIfChanged(file.path, file.after, { dryRun });
        if (change.changed) diffs.push(change.diff);
      }
      say(task, diffs.length ? `${dryRun ? "--dry-run: would write\n" : ""}${diffs.join("\n")}` : `neither file has charts/${name}`);
    }, { skip: (ctx) => ctx.nothingToRemove && "nothing to remove" }),

    step(`Delete ${show(dir)}/${chartsDir}/${name}`, (ctx, task) => {
      if (!ctx.folderPresent) return say(task, "not there (never synced, or already deleted)");
      if (dryRun) return say(task, `--dry-run: would delete ${show(folder)}`);
      rmSync(folder, { recursive: true, force: true });
      say(task, `deleted ${show(folder)}`);
    }, { skip: (ctx) => ctx.nothingToRemove && "nothing to remove" }),
  ]).run({ folderPresent: false, nothingToRemove: false } as Ctx);
}

function entryName(positionals: string[]): string {
  const [name, ...extra] = positionals;
  if (!name || extra.length) {
    throw new UsageError(`expected one entry name (e.g. relay-server); got ${positionals.length ? positionals.join(" ") : "none"}; see --help`);
  }
  if (!isValidEntryName(name)) {
    throw new UsageError(`expected an entry name such as relay-server; got "${name}", which is not a plain folder name; pass the name as it appears after "path:" under charts`);
  }
  return name;
}

/** Reads and parses one vendir file and computes its text without the entry. */
function readVendirFile(path: string, show: (path: string) => string, name: string, required: boolean): VendirFile | undefined {
  const shownPath = show(path);
  if (!existsSync(path)) {
    if (!required) return undefined;
    throw new OperatorError(`expected ${shownPath}; found no such file; pass --dir with the folder that holds vendir.yml`);
  }
  const before = readFileSync(path, "utf8");
  const { text, cut } = removeEntry(before, name, shownPath);
  return { path, shown: shownPath, before, after: text, lines: cut && [cut.firstLine, cut.lastLine] };
}

/** file:line of every line in the repository's files that names the chart's folder. */
function findReferences(root: string, dir: string, name: string): string[] {
  const dirInRepo = relative(root, dir).split("\\").join("/");
  const spellings = chartPathSpellings(dirInRepo, name);
  const own = new Set([`${dirInRepo}/vendir.yml`, `${dirInRepo}/vendir.lock.yml`]);
  // Untracked files count too (but not ignored ones): a new HelmRelease uses the chart before it is committed.
  const listed = git(root, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]);
  if (listed === undefined) throw new OperatorError(`expected ${root} to be a git repository; git ls-files failed there; pass --repo-root with the repository's root`);
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

/** Whether git history shows charts/<name> in the vendir files: then its absence means an earlier run removed it. */
function wasEverAnEntry(root: string, dir: string, name: string): boolean {
  const files = ["vendir.yml", "vendir.lock.yml"].map((f) => relative(root, join(dir, f)));
  const committed = git(root, ["log", "--all", "-p", "--format=", "--", ...files]) ?? "";
  const staged = git(root, ["diff", "--cached", "--", ...files]) ?? "";
  return historyHasEntry(committed + staged, name);
}

/** Runs git; undefined when it fails (no repository, no commits). */
function git(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 256 * 1024 * 1024 });
  } catch {
    return undefined;
  }
}

