// vendir:remove-entry end to end: the real script as a subprocess (and once through
// moon) on a scratch git repository holding a copy of the fixture vendir files.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { moonBin } from "../support/flows.ts";

const fixtures = join(repoRoot, "test/fixtures/vendir");
const scratchDirs: string[] = [];
const immutableFiles: string[] = [];

afterEach(() => {
  for (const file of immutableFiles.splice(0)) mutable(file);
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** `chattr +i`: a file that even root can neither replace nor delete, as an operator's protected file is. */
function immutable(path: string): boolean {
  const ok = spawnSync("chattr", ["+i", path]).status === 0;
  if (ok) immutableFiles.push(path);
  return ok;
}

function mutable(path: string): void {
  spawnSync("chattr", ["-i", path]);
}

/** Whether this machine can make a file in the temp folder immutable (root, a file system with attributes). */
const canMakeImmutable = (() => {
  const dir = mkdtempSync(join(tmpdir(), "chattr-"));
  writeFileSync(join(dir, "probe"), "");
  const ok = immutable(join(dir, "probe"));
  immutableFiles.splice(0);
  mutable(join(dir, "probe"));
  rmSync(dir, { recursive: true, force: true });
  return ok;
})();

/** The chart folders `vendir sync` would have filled, per fixture (not every entry: some were never synced). */
const synced = { several: ["connect", "relay-server"], "pre-migration": ["1password-connect", "relay-server"] };

/** A git repository with the fixture at third_party/vendir, committed, and synced chart folders. */
function scratchRepo(fixture: keyof typeof synced = "several", parent = tmpdir()): { root: string; vendir: string } {
  mkdirSync(parent, { recursive: true });
  const root = mkdtempSync(join(parent, "vendir-remove-entry-"));
  scratchDirs.push(root);
  const vendir = join(root, "third_party/vendir");
  mkdirSync(vendir, { recursive: true });
  for (const file of ["vendir.yml", "vendir.lock.yml"]) cpSync(join(fixtures, fixture, file), join(vendir, file));
  writeFileSync(join(vendir, ".gitignore"), "charts/\n");
  for (const chart of synced[fixture]) {
    mkdirSync(join(vendir, "charts", chart, "templates"), { recursive: true });
    writeFileSync(join(vendir, "charts", chart, "Chart.yaml"), `name: ${chart}\n`);
  }
  git(root, "init", "-q");
  git(root, "add", ".");
  git(root, "-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-qm", "vendir files");
  return { root, vendir };
}

function git(cwd: string, ...args: string[]): void {
  const result = spawnSync("git", args, { cwd, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr}`);
}

function removeEntry(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync("node", ["scripts/build/flow.mjs", "vendir-remove-entry", ...args], {
    cwd: repoRoot,
    encoding: "utf8",
  });
}

/** Every file under `root` but .git, with its bytes: "nothing changed" means this is equal before and after. */
function snapshot(root: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.name === ".git") continue;
      if (entry.isDirectory()) walk(path);
      else files[relative(root, path)] = readFileSync(path, "latin1");
    }
  };
  walk(root);
  return files;
}

function write(root: string, path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
}

// Spelled with a variable so that these tests do not themselves count as references
// to the real repository's relay-server chart, which the migration removes.
const relay = "relay-server";
const relayChart = `third_party/vendir/charts/${relay}`;

const expected = (name: string, file: string, fixture: keyof typeof synced = "several") =>
  readFileSync(join(fixtures, `${fixture}-expected`, `without-${name}`, file), "utf8");

describe("vendir:remove-entry", () => {
  it("removes only the named entry from both files and deletes its synced folder", () => {
    const { vendir } = scratchRepo();
    const result = removeEntry("relay-server", "--dir", vendir);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(expected("relay-server", "vendir.yml"));
    expect(readFileSync(join(vendir, "vendir.lock.yml"), "utf8")).toBe(expected("relay-server", "vendir.lock.yml"));
    expect(existsSync(join(vendir, "charts/relay-server"))).toBe(false);
    expect(existsSync(join(vendir, "charts/connect/Chart.yaml"))).toBe(true);
    expect(result.stdout).toContain("-      - path: relay-server");
  });

  it("removes a githubRelease entry whose folder was never synced", () => {
    const { vendir } = scratchRepo();
    const result = removeEntry("podinfo", "--dir", vendir);
    expect(result.status).toBe(0);
    expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(expected("podinfo", "vendir.yml"));
    expect(readFileSync(join(vendir, "vendir.lock.yml"), "utf8")).toBe(expected("podinfo", "vendir.lock.yml"));
    expect(result.stdout).toContain("not there");
  });

  it("prints nothing to remove on a second run, exits 0 and changes nothing", () => {
    const { root, vendir } = scratchRepo();
    expect(removeEntry("relay-server", "--dir", vendir).status).toBe(0);
    const before = snapshot(root);
    const second = removeEntry("relay-server", "--dir", vendir);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("nothing to remove");
    expect(snapshot(root)).toEqual(before);
  });

  it("prints the diff with --dry-run and writes or deletes nothing", () => {
    const { root, vendir } = scratchRepo();
    const before = snapshot(root);
    const result = removeEntry("relay-server", "--dir", vendir, "--dry-run");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("-      - path: relay-server");
    expect(result.stdout).toContain("-    path: relay-server");
    expect(result.stdout).toContain(`would delete ${relayChart}`);
    expect(snapshot(root)).toEqual(before);
  });

  it("refuses an unknown name, listing the names present, and changes nothing", () => {
    const { root, vendir } = scratchRepo();
    const before = snapshot(root);
    const result = removeEntry("relay-srever", "--dir", vendir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      "expected an entry charts/relay-srever in third_party/vendir/vendir.yml; found only connect, relay-server, podinfo, cert-manager",
    );
    expect(result.stderr).not.toContain("    at "); // one line for an operator mistake, no stack
    expect(snapshot(root)).toEqual(before);
  });

  it("refuses to remove a chart that files still reference, listing file:line, and changes nothing", () => {
    const { root, vendir } = scratchRepo();
    write(root, "apps/docs-prod/helmrelease-relay.yaml", `kind: HelmRelease\nspec:\n  chart: ../../${relayChart}\n`);
    write(root, "README.md", `# Docs\nThe old chart lived in vendir/charts/${relay}/.\n`);
    git(root, "add", "README.md"); // one tracked file, one untracked: both count
    const before = snapshot(root);
    const result = removeEntry("relay-server", "--dir", vendir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`expected no file to reference ${relayChart}; found 2`);
    expect(result.stderr).toContain("apps/docs-prod/helmrelease-relay.yaml:3");
    expect(result.stderr).toContain("README.md:2");
    expect(snapshot(root)).toEqual(before);
  });

  it("does not count binary files, ignored files or a longer chart name as references", () => {
    const { root, vendir } = scratchRepo();
    write(root, "logo.png", Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0]), Buffer.from(relayChart)]));
    write(root, ".gitignore", "build/\n");
    write(root, "build/out.yaml", `chart: ${relayChart}\n`);
    write(root, "apps/other.yaml", `chart: ${relayChart}-v2\n`);
    const result = removeEntry("relay-server", "--dir", vendir);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("removes a still-referenced chart with --force, listing the references", () => {
    const { root, vendir } = scratchRepo();
    write(root, "apps/docs-prod/helmrelease-relay.yaml", `kind: HelmRelease\nspec:\n  chart: ../../${relayChart}\n`);
    const result = removeEntry("relay-server", "--dir", vendir, "--force");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("apps/docs-prod/helmrelease-relay.yaml:3");
    expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(expected("relay-server", "vendir.yml"));
    expect(existsSync(join(vendir, "charts/relay-server"))).toBe(false);
  });

  it("refuses a malformed vendir.lock.yml, naming file and line, and changes neither file", () => {
    const { root, vendir } = scratchRepo();
    const lock = readFileSync(join(vendir, "vendir.lock.yml"), "utf8");
    writeFileSync(join(vendir, "vendir.lock.yml"), lock.replace("  - git:\n", "  - git: [\n"));
    const before = snapshot(root);
    const result = removeEntry("relay-server", "--dir", vendir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(
      /expected valid YAML in third_party\/vendir\/vendir\.lock\.yml; found a syntax error at third_party\/vendir\/vendir\.lock\.yml:1[1-3] /,
    );
    expect(snapshot(root)).toEqual(before);
  });

  it.skipIf(!canMakeImmutable)(
    "when vendir.lock.yml cannot be replaced, puts vendir.yml back, exits 3 in one sentence, and a second run after the fix finishes",
    () => {
      const { root, vendir } = scratchRepo();
      const lock = join(vendir, "vendir.lock.yml");
      const before = snapshot(root);
      immutable(lock);
      const result = removeEntry("relay-server", "--dir", vendir);
      expect(result.status).toBe(3);
      // The failed step's line, then the error on a line of its own: one sentence, no errno line, no stack.
      expect(result.stderr.trim().split("\n").at(-1)).toBe(
        `✖ expected to write ${lock}; permission denied (EPERM); put back ${join(vendir, "vendir.yml")} as it was, so nothing was changed; make ${lock} writable and run the same command again`,
      );
      expect(result.stderr).not.toMatch(/\bE[A-Z]+: |    at /);
      // Byte for byte: vendir.yml, the lock, the chart folder, and no temp file left behind.
      expect(snapshot(root)).toEqual(before);

      mutable(lock);
      const second = removeEntry("relay-server", "--dir", vendir);
      expect(second.status, second.stderr).toBe(0);
      expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(expected("relay-server", "vendir.yml"));
      expect(readFileSync(lock, "utf8")).toBe(expected("relay-server", "vendir.lock.yml"));
      expect(existsSync(join(vendir, "charts/relay-server"))).toBe(false);
    },
  );

  it.skipIf(!canMakeImmutable)(
    "when the chart folder cannot be deleted, exits 3 naming the file, and a second run after the fix deletes it",
    () => {
      const { vendir } = scratchRepo();
      const chart = join(vendir, "charts/relay-server/Chart.yaml");
      immutable(chart);
      const result = removeEntry("relay-server", "--dir", vendir);
      expect(result.status).toBe(3);
      const error = result.stderr.trim().split("\n").at(-1);
      expect(error).toMatch(
        new RegExp(
          `^✖ expected to delete ${relayChart}; could not delete ${relayChart}/Chart.yaml: permission denied \\(EPERM\\); `,
        ),
      );
      expect(error).toContain(
        "; vendir.yml and vendir.lock.yml no longer list charts/relay-server; make the folder deletable and run the same command again to finish",
      );
      expect(result.stderr).not.toMatch(/\bE[A-Z]+: |    at /);
      expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(expected("relay-server", "vendir.yml"));

      mutable(chart);
      const second = removeEntry("relay-server", "--dir", vendir);
      expect(second.status, second.stderr).toBe(0);
      expect(existsSync(join(vendir, "charts/relay-server"))).toBe(false);
      expect(readFileSync(join(vendir, "vendir.lock.yml"), "utf8")).toBe(expected("relay-server", "vendir.lock.yml"));
    },
  );

  it("finishes the migration through moon, --dir relative to the folder it was typed in: charts/relay-server goes, the other charts stay", () => {
    // Inside this repository (the git-ignored .cache), so that the relative path means one folder from
    // where it was typed and another from the repository root or the project folder.
    const { vendir } = scratchRepo("pre-migration", join(repoRoot, ".cache"));
    const env = { ...process.env };
    delete env.CI;
    // Typed in test/fixtures; moon runs the task in third_party/vendir, yet --dir means test/fixtures/<dir>.
    const typedIn = join(repoRoot, "test/fixtures");
    const result = spawnSync(
      moonBin,
      ["run", "vendir:remove-entry", "--", "relay-server", "--dir", relative(typedIn, vendir)],
      { cwd: typedIn, encoding: "utf8", env },
    );
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    for (const file of ["vendir.yml", "vendir.lock.yml"]) {
      expect(readFileSync(join(vendir, file), "utf8"), file).toBe(expected("relay-server", file, "pre-migration"));
    }
    expect(existsSync(join(vendir, "charts/relay-server"))).toBe(false);
    expect(existsSync(join(vendir, "charts/1password-connect/Chart.yaml"))).toBe(true);
  });
});

describe("vendir:remove-entry on one directory entry per chart (the layout of the pre-migration repository)", () => {
  it("removes the charts/relay-server directory entry from both files and deletes only its folder", () => {
    const { vendir } = scratchRepo("pre-migration");
    const result = removeEntry("relay-server", "--dir", vendir);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    for (const file of ["vendir.yml", "vendir.lock.yml"]) {
      expect(readFileSync(join(vendir, file), "utf8"), file).toBe(expected("relay-server", file, "pre-migration"));
    }
    expect(existsSync(join(vendir, "charts/relay-server"))).toBe(false);
    expect(existsSync(join(vendir, "charts/1password-connect/Chart.yaml"))).toBe(true);
    expect(result.stdout).toContain("-  - path: charts/relay-server");
    expect(result.stdout).toContain("-  path: charts/relay-server");
  });

  it("removes the first and the last chart, the last never synced", () => {
    const { vendir } = scratchRepo("pre-migration");
    const first = removeEntry("1password-connect", "--dir", vendir);
    expect(first.status, first.stderr).toBe(0);
    for (const file of ["vendir.yml", "vendir.lock.yml"]) {
      expect(readFileSync(join(vendir, file), "utf8"), file).toBe(expected("1password-connect", file, "pre-migration"));
    }
    expect(existsSync(join(vendir, "charts/1password-connect"))).toBe(false);
    expect(existsSync(join(vendir, "charts/relay-server/Chart.yaml"))).toBe(true);

    const { vendir: other } = scratchRepo("pre-migration");
    const last = removeEntry("velero", "--dir", other);
    expect(last.status, last.stderr).toBe(0);
    expect(last.stdout).toContain("not there");
    for (const file of ["vendir.yml", "vendir.lock.yml"]) {
      expect(readFileSync(join(other, file), "utf8"), file).toBe(expected("velero", file, "pre-migration"));
    }
  });

  it("takes the name as vendir.yml spells the directory, charts/<name>", () => {
    const { vendir } = scratchRepo("pre-migration");
    const result = removeEntry(`charts/${relay}`, "--dir", vendir);
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(
      expected("relay-server", "vendir.yml", "pre-migration"),
    );
  });

  it("prints nothing to remove on a second run, exits 0 and changes nothing", () => {
    const { root, vendir } = scratchRepo("pre-migration");
    expect(removeEntry("relay-server", "--dir", vendir).status).toBe(0);
    const before = snapshot(root);
    const second = removeEntry("relay-server", "--dir", vendir);
    expect(second.stderr).toBe("");
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("nothing to remove");
    expect(snapshot(root)).toEqual(before);
  });

  it("still knows a removed chart once the removal is committed, and still refuses a name never there", () => {
    const { root, vendir } = scratchRepo("pre-migration");
    expect(removeEntry("relay-server", "--dir", vendir).status).toBe(0);
    git(root, "-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-qam", "remove relay-server");
    expect(removeEntry("relay-server", "--dir", vendir).stdout).toContain("nothing to remove");
    const unknown = removeEntry("relay-server-v2", "--dir", vendir);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain(
      "expected an entry charts/relay-server-v2 in third_party/vendir/vendir.yml; found only 1password-connect, cert-manager,",
    );
  });

  it("refuses an unknown name, listing the charts present, and changes nothing", () => {
    const { root, vendir } = scratchRepo("pre-migration");
    const before = snapshot(root);
    const result = removeEntry("relay-srever", "--dir", vendir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      "expected an entry charts/relay-srever in third_party/vendir/vendir.yml; found only 1password-connect, cert-manager, external-dns, ingress-nginx, kube-prometheus-stack, loki, relay-server, minio, podinfo, reloader, sealed-secrets, velero; pass one of those names",
    );
    expect(result.stderr).not.toContain("    at ");
    expect(snapshot(root)).toEqual(before);
  });

  it("refuses to remove a chart that files still reference, listing file:line, and changes nothing", () => {
    const { root, vendir } = scratchRepo("pre-migration");
    write(root, "apps/docs-prod/helmrelease-relay.yaml", `kind: HelmRelease\nspec:\n  chart: ../../${relayChart}\n`);
    const before = snapshot(root);
    const result = removeEntry("relay-server", "--dir", vendir);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `expected no file to reference ${relayChart}; found 1: apps/docs-prod/helmrelease-relay.yaml:3; change those lines first`,
    );
    expect(snapshot(root)).toEqual(before);
  });
});

describe("vendir:remove-entry without git history", () => {
  /** The fixture vendir folder in a scratch folder: in no repository (under a ceiling git does not look past), or in one with no commit yet. */
  function scratchVendir(withGit: boolean): { root: string; vendir: string } {
    const root = mkdtempSync(join(tmpdir(), "vendir-no-history-"));
    scratchDirs.push(root);
    const vendir = join(root, "third_party/vendir");
    mkdirSync(join(vendir, "charts/relay-server"), { recursive: true });
    for (const file of ["vendir.yml", "vendir.lock.yml"])
      cpSync(join(fixtures, "pre-migration", file), join(vendir, file));
    writeFileSync(join(vendir, "charts/relay-server/Chart.yaml"), "name: relay-server\n");
    if (withGit) git(root, "init", "-q");
    return { root, vendir };
  }
  const outsideGit = (root: string, ...args: string[]) =>
    spawnSync("node", ["scripts/build/flow.mjs", "vendir-remove-entry", ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { ...process.env, GIT_CEILING_DIRECTORIES: dirname(root) },
    });

  it.each([
    ["outside any git repository (--force)", false, ["--force"]],
    ["in a repository before its first commit", true, []],
  ])(
    "gives the same answer as inside git %s: the second run prints nothing to remove and exits 0",
    (_where, withGit, extra) => {
      const { root, vendir } = scratchVendir(withGit);
      const first = outsideGit(root, "relay-server", "--dir", vendir, ...extra);
      expect(first.status, first.stderr).toBe(0);
      expect(readFileSync(join(vendir, "vendir.yml"), "utf8")).toBe(
        expected("relay-server", "vendir.yml", "pre-migration"),
      );
      expect(existsSync(join(vendir, "charts/relay-server"))).toBe(false);
      const before = snapshot(root);
      const second = outsideGit(root, "relay-server", "--dir", vendir, ...extra);
      expect(second.stderr).toBe("");
      expect(second.status).toBe(0);
      // Without history a name never there looks the same, so the line lists what the files hold.
      expect(second.stdout).toMatch(
        /› nothing to remove: charts\/relay-server is in neither file and \S+charts\/relay-server does not exist; without the vendir files' git history a name that was never there looks the same: \S+vendir\.yml lists only 1password-connect, cert-manager, /,
      );
      expect(snapshot(root)).toEqual(before);
    },
  );
});
