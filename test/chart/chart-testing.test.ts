// chart-testing's rules that matter here (test/support/chart-testing.ts): yamllint
// with ct's rules on every YAML file the repository deploys or configures; a chart
// whose package changed since the merge base has a higher version; each chart's
// CHANGELOG.md starts with that version, with the entries Artifact Hub shows.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import {
  artifactHubChanges,
  changelogReleases,
  chartChange,
  chartDirs,
  mergeBase,
  unbumped,
} from "../support/chart-testing.ts";
import { compareVersions } from "../../scripts/build/toolchain.mjs";

const lintconf = join(repoRoot, "test/chart/lintconf.yaml");

/** yamllint (the Python package .ci/run installs) on files; its parsable output and exit code. */
function yamllint(files: string[], cwd = repoRoot): { code: number; out: string } {
  const r = spawnSync("python3", ["-m", "yamllint", "-c", lintconf, "-f", "parsable", ...files], {
    cwd,
    encoding: "utf8",
  });
  if (/No module named yamllint/.test(r.stderr))
    throw new Error(
      "expected yamllint (the Python package) for python3; it is not installed; run `python3 -m pip install yamllint==1.38.0` (.ci/run does)",
    );
  return { code: r.status ?? 1, out: `${r.stdout}${r.stderr}`.trim() };
}

describe("yamllint with chart-testing's rules", () => {
  // Helm templates are Go templates; the test fixtures include broken YAML on purpose.
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.yaml", "*.yml"], {
    cwd: repoRoot,
    encoding: "utf8",
  })
    .split("\n")
    .filter((f) => f && !/\/templates\//.test(f) && !f.startsWith("test/"));

  it("finds nothing in the charts, the apps, the instances' values and moon's files", () => {
    expect(files).toEqual(
      expect.arrayContaining([
        "libs/relay-server/Chart.yaml",
        "libs/relay-server/values.yaml",
        "apps/docs-prod/relay-personal/values.yaml",
        "apps/docs-infra-prod/ingress-relay.yaml",
        ".moon/workspace.yml",
      ]),
    );
    expect(yamllint(files)).toEqual({ code: 0, out: "" });
  });

  it("finds a duplicate key, a yes for true and trailing spaces", () => {
    const dir = mkdtempSync(join(tmpdir(), "yamllint-"));
    try {
      writeFileSync(join(dir, "values.yaml"), "replicaCount: 1\nreplicaCount: 2\nenabled: yes\nname: relay \n");
      const result = yamllint(["values.yaml"], dir);
      expect(result.code).toBe(1);
      expect(result.out).toMatch(/duplication of key "replicaCount"/);
      expect(result.out).toMatch(/truthy value should be one of \[false, true\]/);
      expect(result.out).toMatch(/trailing spaces/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a chart whose package changed carries a higher version", () => {
  it.each(chartDirs(repoRoot))("%s, against the merge base", (chart) => {
    const base = mergeBase(repoRoot);
    expect(unbumped(chartChange(repoRoot, chart, base))).toBeUndefined();
  });

  describe("on a scratch repository holding libs/1password-secrets", () => {
    let repo: string;
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", ...args], {
        cwd: repo,
        stdio: "ignore",
      });
    const chart = "libs/1password-secrets";
    const version = /^version: (\d+)\.(\d+)\.(\d+)$/m.exec(readFileSync(join(repoRoot, chart, "Chart.yaml"), "utf8"))!;
    const [current, next] = [version.slice(1).join("."), `${version[1]}.${version[2]}.${Number(version[3]) + 1}`];
    const change = () => chartChange(repo, chart, mergeBase(repo, "base"));
    const edit = (file: string, edit: (text: string) => string) =>
      writeFileSync(join(repo, chart, file), edit(readFileSync(join(repo, chart, file), "utf8")));

    beforeAll(() => {
      repo = mkdtempSync(join(tmpdir(), "chart-testing-"));
      cpSync(join(repoRoot, chart), join(repo, chart), { recursive: true });
      git("init", "-q", "-b", "base");
      git("add", "-A");
      git("commit", "-qm", "base");
      git("checkout", "-qb", "change");
    });
    afterAll(() => rmSync(repo, { recursive: true, force: true }));

    it("reports nothing when only files the package leaves out change (moon.yml, CHANGELOG.md)", () => {
      edit("moon.yml", (t) => `${t}# a comment\n`);
      edit("CHANGELOG.md", (t) => `${t}\n`);
      expect(change().changed).toEqual([]);
      git("checkout", "-q", "--", ".");
    });

    it("refuses a values change without a bump, naming the file and what to do", () => {
      edit("values.yaml", (t) => `${t}# a comment that ships\n`);
      expect(unbumped(change())).toBe(
        `expected ${chart}/Chart.yaml's version to be higher than ${current} (its package changed: values.yaml); found ${current}; bump it and add its section to ${chart}/CHANGELOG.md`,
      );
      edit("Chart.yaml", (t) => t.replace(`version: ${current}`, `version: ${next}`));
      expect(unbumped(change())).toBeUndefined();
      git("checkout", "-q", "--", ".");
    });

    it("counts a template that .helmignore now leaves out, and a new template", () => {
      edit(".helmignore", (t) => `${t}templates/onepassworditems.yaml\n`);
      expect(change().changed).toEqual(["templates/onepassworditems.yaml"]);
      git("checkout", "-q", "--", ".");
      writeFileSync(join(repo, chart, "templates/extra.yaml"), "{{- /* nothing */ -}}\n");
      expect(change().changed).toEqual(["templates/extra.yaml"]);
      rmSync(join(repo, chart, "templates/extra.yaml"));
    });
  });
});

describe("each chart's CHANGELOG.md", () => {
  it.each(chartDirs(repoRoot))(
    "%s starts with Chart.yaml's version and the entries Artifact Hub shows, releases newest first",
    (chart) => {
      const chartYaml = readFileSync(join(repoRoot, chart, "Chart.yaml"), "utf8");
      const version = /^version: (\S+)$/m.exec(chartYaml)![1]!;
      const releases = changelogReleases(readFileSync(join(repoRoot, chart, "CHANGELOG.md"), "utf8"));
      expect(releases[0]?.version).toBe(version);
      const changes = artifactHubChanges(chartYaml);
      if (changes.length > 0) expect(releases[0]!.entries).toEqual(changes);
      for (const r of releases) expect(r.entries.length, `${chart} ${r.version}`).toBeGreaterThan(0);
      for (let i = 1; i < releases.length; i++)
        expect(
          compareVersions(releases[i - 1]!.version, releases[i]!.version),
          `${releases[i - 1]!.version} before ${releases[i]!.version}`,
        ).toBe(1);
    },
  );
});
