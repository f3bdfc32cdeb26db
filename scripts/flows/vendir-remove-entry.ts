// `moon run vendir:remove-entry -- <name>`: takes a vendored chart out of
// vendir.yml and vendir.lock.yml and deletes its synced folder, once nothing in
// the repository refers to it any more.
import { join } from "node:path";
import { baseHelp, parseFlowArgs, UsageError } from "../lib/cli.ts";
import { chartsDir, isValidEntryName } from "../lib/names.ts";
import { repoRoot } from "../lib/paths.ts";
import type { RemoveEntryOptions } from "./run/vendir-remove-entry.ts";

const optionSpecs = {
  force: { type: "boolean", default: false },
  dir: { type: "string" },
  "repo-root": { type: "string" },
} as const;

const usage = `Usage: moon run vendir:remove-entry -- <name> [options]

Removes the entry charts/<name> from vendir.yml and vendir.lock.yml (with the
comment block directly above it) and deletes the folder charts/<name>, refusing
while any file in the repository still references that folder. The entry is the
directory entry "- path: charts/<name>", or, in a single charts directory, the
item "- path: <name>" of its contents. <name> may be given as charts/<name>.
Both files are written or neither is; after a failure, fix what it names and
run the same command again.

  --dir PATH                     the vendir folder (default third_party/vendir of this repository)
  --repo-root PATH               the repository searched for references (default: the git repository
                                 holding --dir)
  --force                        remove even though files still reference the chart
${baseHelp}

A second run prints "nothing to remove" and exits 0, inside a git repository or not.
It reaches no cluster and reads no secret: the cluster and secret options of the
other flows are refused here. Relative paths are from the folder the command was
typed in. Exit codes: 0 done, 2 a wrong command line, 3 any other failure.

Examples:
  moon run vendir:remove-entry -- relay-server
  moon run vendir:remove-entry -- charts/relay-server --dry-run
  moon run vendir:remove-entry -- relay-server --dir ../other-repo/third_party/vendir --force`;

/** The entry name of the one positional argument; "charts/relay-server", as vendir.yml spells the directory, means relay-server. */
function entryName(positionals: string[]): string {
  const [given, ...extra] = positionals;
  const name = given?.startsWith(`${chartsDir}/`) ? given.slice(chartsDir.length + 1) : given;
  if (!name || extra.length) {
    throw new UsageError(
      `expected one entry name (e.g. relay-server); got ${positionals.length ? positionals.join(" ") : "none"}; see --help`,
    );
  }
  if (!isValidEntryName(name)) {
    throw new UsageError(
      `expected an entry name such as relay-server; got "${name}", which is not a plain folder name; pass the name that follows ${chartsDir}/ in vendir.yml`,
    );
  }
  return name;
}

export async function main(argv: string[]): Promise<void> {
  const { common, values, positionals } = parseFlowArgs(argv, optionSpecs, usage);
  const options: RemoveEntryOptions = {
    name: entryName(positionals),
    // parseFlowArgs made the given paths absolute, from where the operator typed the command.
    dir: values.dir ?? join(repoRoot, "third_party/vendir"),
    repoRoot: values["repo-root"],
    force: values.force,
    dryRun: common.dryRun,
  };
  return (await import("./run/vendir-remove-entry.ts")).run(options);
}
