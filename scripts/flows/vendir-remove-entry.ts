// `moon run vendir:remove-entry -- <name>`: takes a vendored chart out of
// vendir.yml and vendir.lock.yml and deletes its synced folder, once nothing in
// the repository refers to it any more.
import { baseHelp, parseFlowArgs, type ParsedArgs } from "../lib/cli.ts";

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

It reaches no cluster and reads no secret: the cluster and secret options of the
other flows are refused here. Relative paths are from the folder the command was
typed in. Exit codes: 0 done, 2 a wrong command line, 3 any other failure.`;

export type Args = ParsedArgs<typeof optionSpecs>;

export async function main(argv: string[]): Promise<void> {
  const args = parseFlowArgs(argv, optionSpecs, usage);
  return (await import("./run/vendir-remove-entry.ts")).run(args);
}
