// The pre-migration third_party/vendir as a scratch git repository, for the vendir
// tests, the golden files and the demo (vendir remove-entry reads git history).
import { execFileSync } from "node:child_process";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/lib/paths.ts";

/** A git repository in `dir` holding a copy of the pre-migration third_party/vendir, committed; returns that folder. */
export function preMigrationVendir(dir: string): string {
  const repo = join(dir, "repo");
  const vendir = join(repo, "third_party/vendir");
  cpSync(join(repoRoot, "test/fixtures/vendir/pre-migration"), vendir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=local", "-c", "user.email=local@localhost", ...args], {
      cwd: repo,
      stdio: "ignore",
    });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-qm", "pre-migration");
  return vendir;
}
