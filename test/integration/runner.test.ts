// The flows as shipped, through the runner the moon tasks call (scripts/build/flow.mjs),
// where the command line meets the machine: --version names the commit the bundles
// were built from, a closed stdout ends nothing, and in a terminal what a step printed
// stays on screen. vendir remove-entry serves as the flow: it needs no cluster.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { tempDir } from "../support/files.ts";
import { flowRunner } from "../support/flows.ts";
import { preMigrationVendir } from "../support/vendir.ts";
import { runFlowInTerminal, runFlowWithStdoutClosed } from "../support/terminal.ts";

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const dir = (prefix: string) => {
  const made = tempDir(prefix);
  scratch.push(made);
  return made;
};

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();

describe("--version", () => {
  it("names the commit the bundles were built from, and scripts/ changes not committed", () => {
    const line = execFileSync(process.execPath, [flowRunner, "sync-ingress", "--version"], {
      cwd: repoRoot,
      encoding: "utf8",
    }).trim();
    const commit = git(repoRoot, "rev-parse", "--short=12", "HEAD");
    const changed =
      git(repoRoot, "status", "--porcelain", "--untracked-files=all", "--", "scripts/flows", "scripts/lib") !== "";
    expect(line).toBe(
      `setup-docs-relay 1.0.0 (commit ${commit}${changed ? " with uncommitted changes in scripts/" : ""}, node ${process.version})`,
    );
    // The runner's own --version is the bundles'.
    expect(execFileSync(process.execPath, [flowRunner, "--version"], { cwd: repoRoot, encoding: "utf8" }).trim()).toBe(
      line,
    );
  });

  it("says there was no commit to name when the bundles were built outside a git checkout", async () => {
    // A copy of what a build reads, without .git (as from a tarball), inside no repository.
    const copy = dir("runner-no-git-");
    for (const path of ["scripts", "package.json", ".moon/workspace.yml"])
      cpSync(join(repoRoot, path), join(copy, path), { recursive: true });
    symlinkSync(join(repoRoot, "node_modules"), join(copy, "node_modules"));
    mkdirSync(join(copy, ".tools"), { recursive: true });
    execFileSync(process.execPath, [join(copy, "scripts/build/build.mjs")], {
      cwd: copy,
      env: { ...process.env, GIT_CEILING_DIRECTORIES: copy },
    });
    const line = execFileSync(process.execPath, [join(copy, "scripts/build/flow.mjs"), "verify", "--version"], {
      cwd: copy,
      encoding: "utf8",
    }).trim();
    expect(line).toBe(
      `setup-docs-relay 1.0.0 (not built from a git checkout: no commit to name, node ${process.version})`,
    );
  });
});

describe("a closed stdout", () => {
  it("ends the flow quietly, its work done and its own exit code: no EPIPE stack trace", async () => {
    const vendir = preMigrationVendir(dir("runner-epipe-"));
    const { code, stderr } = await runFlowWithStdoutClosed("vendir-remove-entry", ["relay-server", "--dir", vendir]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(
      readFileSync(
        join(repoRoot, "test/fixtures/vendir/pre-migration-expected/without-relay-server/vendir.yml"),
        "utf8",
      ),
    );
  });
});

describe("in a terminal", () => {
  it("keeps what each step printed on screen once the flow ends (the diff stays under its step)", async () => {
    const scratchDir = dir("runner-tty-");
    const vendir = preMigrationVendir(scratchDir);
    const { code, screen } = await runFlowInTerminal(
      "vendir-remove-entry",
      ["relay-server", "--dir", vendir],
      scratchDir,
    );
    expect(code, screen.join("\n")).toBe(0);
    const text = screen.join("\n");
    // The progress tree ran (a terminal, not the plain lines of CI) ...
    expect(text).toContain("✔ Remove charts/relay-server from vendir.yml and vendir.lock.yml");
    expect(text).not.toContain("❯ Remove");
    // ... and the diff and the other lines a step said are still there at the end.
    expect(text).toContain("-  - path: charts/relay-server");
    expect(text).toContain("third_party/vendir/vendir.yml: charts/relay-server at lines 74-82");
    expect(text).toContain("not there (never synced, or already deleted)");
  });

  it("marks a failed step by its title and prints its error once, on its own line", async () => {
    const scratchDir = dir("runner-tty-fail-");
    const vendir = preMigrationVendir(scratchDir);
    const { code, screen } = await runFlowInTerminal(
      "vendir-remove-entry",
      ["no-such-chart", "--dir", vendir],
      scratchDir,
    );
    expect(code).toBe(3);
    const errors = screen.filter((l) => l.includes("expected an entry charts/no-such-chart"));
    expect(errors, screen.join("\n")).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^✖ expected an entry charts\/no-such-chart in third_party\/vendir\/vendir\.yml; found only /,
    );
    expect(screen).toContain("✖ Read third_party/vendir/vendir.yml and vendir.lock.yml");
  });
});
