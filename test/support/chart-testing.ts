// chart-testing's rules that matter here, without ct itself (it is not on any
// package registry these machines reach): a chart whose package changed since the
// merge base carries a higher version, and its CHANGELOG.md starts with that
// version's entries, the same as Chart.yaml's artifacthub.io/changes annotation.
// "The package" is what `helm package` puts in it, so files its .helmignore leaves
// out (moon.yml, CHANGELOG.md) change nothing.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { compareVersions } from "../../scripts/build/toolchain.mjs";
import { toolPath } from "../../scripts/lib/tools.ts";

const git = (repo: string, ...args: string[]) =>
  execFileSync("git", args, { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** The commit to compare with: where HEAD left `base` (CHART_BASE, else MOON_BASE, else main). */
export function mergeBase(repo: string, base = process.env.CHART_BASE || process.env.MOON_BASE || "main"): string {
  for (const ref of [base, `origin/${base.replace(/^origin\//, "")}`]) {
    try {
      return git(repo, "merge-base", "HEAD", ref).trim();
    } catch {
      // try the next name
    }
  }
  throw new Error(
    `expected a git ref ${base} (or origin/${base}) to compare the charts with; found none; set CHART_BASE to the branch this one will merge into`,
  );
}

/** The files `helm package` puts in the chart's package, relative to the chart folder. */
function packaged(chartDir: string): Set<string> {
  const out = mkdtempSync(join(tmpdir(), "chart-package-"));
  try {
    execFileSync(toolPath("helm"), ["package", chartDir, "--destination", out], { stdio: ["ignore", "pipe", "pipe"] });
    const [archive] = readdirSync(out);
    const names = execFileSync("tar", ["-tzf", join(out, archive!)], { encoding: "utf8" })
      .trim()
      .split("\n");
    // Entries are <chart name>/<path>.
    return new Set(names.map((n) => n.slice(n.indexOf("/") + 1)));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export interface ChartChange {
  chart: string;
  /** Packaged files that differ from the merge base (added, changed, removed, or newly left in or out). */
  changed: string[];
  baseVersion?: string;
  version: string;
}

/** What changed in the package of the chart at `chartPath` (relative to `repo`) since `base`. */
export function chartChange(repo: string, chartPath: string, base: string): ChartChange {
  const version = (parse(readFileSync(join(repo, chartPath, "Chart.yaml"), "utf8")) as { version: string }).version;
  const existed = git(repo, "ls-tree", "--name-only", base, `${chartPath}/Chart.yaml`).trim() !== "";
  const now = packaged(join(repo, chartPath));
  let then = new Set<string>();
  let baseVersion: string | undefined;
  if (existed) {
    baseVersion = (parse(git(repo, "show", `${base}:${chartPath}/Chart.yaml`)) as { version: string }).version;
    const dir = mkdtempSync(join(tmpdir(), "chart-base-"));
    try {
      execFileSync("sh", ["-c", `git archive ${base} ${chartPath} | tar -x -C "${dir}"`], {
        cwd: repo,
        stdio: ["ignore", "pipe", "pipe"],
      });
      then = packaged(join(dir, chartPath));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const touched = [
    ...git(repo, "diff", "--name-only", base, "--", chartPath).split("\n"),
    ...git(repo, "ls-files", "--others", "--exclude-standard", "--", chartPath).split("\n"),
  ]
    .filter(Boolean)
    .map((f) => f.slice(chartPath.length + 1));
  const inOrOut = [...now].filter((f) => !then.has(f)).concat([...then].filter((f) => !now.has(f)));
  // .helmignore is packaged too, but what it changes shows in the other files.
  const changed = [...new Set([...touched.filter((f) => now.has(f) || then.has(f)), ...(existed ? inOrOut : [...now])])]
    .filter((f) => f !== ".helmignore")
    .sort();
  return { chart: chartPath, changed, baseVersion, version };
}

/** The version-bump rule: one line per chart that changed without a higher version. */
export function unbumped(change: ChartChange): string | undefined {
  if (change.changed.length === 0 || change.baseVersion === undefined) return undefined;
  if (compareVersions(change.version, change.baseVersion) > 0) return undefined;
  return `expected ${change.chart}/Chart.yaml's version to be higher than ${change.baseVersion} (its package changed: ${change.changed.join(", ")}); found ${change.version}; bump it and add its section to ${change.chart}/CHANGELOG.md`;
}

export interface ChangelogRelease {
  version: string;
  entries: { kind: string; description: string }[];
}

/** The releases of a CHANGELOG.md: `## <version>` headings, each with `- <kind>: <description>` lines. */
export function changelogReleases(text: string): ChangelogRelease[] {
  return text
    .split(/^## /m)
    .slice(1)
    .map((section) => ({
      version: section.split("\n")[0]!.trim(),
      entries: [...section.matchAll(/^- (added|changed|deprecated|removed|fixed|security): (.+)$/gm)].map((m) => ({
        kind: m[1]!,
        description: m[2]!,
      })),
    }));
}

/** The entries of Chart.yaml's artifacthub.io/changes annotation, or none. */
export function artifactHubChanges(chartYaml: string): { kind: string; description: string }[] {
  const annotation = (parse(chartYaml) as { annotations?: Record<string, string> }).annotations?.[
    "artifacthub.io/changes"
  ];
  return annotation
    ? (parse(annotation) as { kind: string; description: string }[]).map(({ kind, description }) => ({
        kind,
        description,
      }))
    : [];
}

export const chartDirs = (repo: string) =>
  readdirSync(join(repo, "libs"))
    .filter((d) => existsSync(join(repo, "libs", d, "Chart.yaml")))
    .map((d) => `libs/${d}`);
