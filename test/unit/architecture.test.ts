// The layout's rules, checked on the import statements: commands import only the
// engine and their own steps, which they load only once the command line is parsed
// and which never import their command back (the steps own the options type the
// command fills in); nothing an operator runs imports development tooling; the
// pure modules stay free of the CLI layer (listr2), even through other modules;
// and the tests and programs reach the local platform only through its front door.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";

const scripts = join(repoRoot, "scripts");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** The relative imports of a file, resolved to repository paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) =>
    relative(repoRoot, resolve(dirname(file), m[1]!)),
  );
}

/** What loading a file loads with it: its import statements, without `import type` and `import()`; bare names are packages. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^import\s+(?!type\b)(?:[^;]*?\sfrom\s+)?"([^"]+)"/gm)].map((m) =>
    m[1]!.startsWith(".") ? relative(repoRoot, resolve(dirname(file), m[1]!)) : m[1]!,
  );
}

function closure(start: string, next = imports): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    if (path.startsWith("scripts/")) for (const target of next(join(repoRoot, path))) visit(target);
  };
  visit(start);
  return seen;
}

const commands = readdirSync(join(scripts, "flows"))
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3));

describe("the code's layout", () => {
  it("a flow imports only the engine and its own steps, never another flow", () => {
    expect(commands.length).toBe(6);
    expect(readdirSync(join(scripts, "flows/run")).sort()).toEqual(commands.map((c) => `${c}.ts`).sort());
    for (const flow of commands) {
      const own = [`scripts/flows/run/${flow}.ts`, `scripts/flows/${flow}.ts`];
      for (const file of own) {
        for (const target of imports(join(repoRoot, file)))
          expect(target, `${file} imports ${target}`).toMatch(new RegExp(`^(scripts/lib/|${own.join("|")}$)`));
      }
    }
  });

  it.each(commands)(
    "the steps of %s never import their command, not even for a type: no cycle between the two",
    (flow) => {
      const command = `scripts/flows/${flow}.ts`;
      const steps = `scripts/flows/run/${flow}.ts`;
      const reached = closure(steps);
      expect(
        [...reached].filter(
          (p) => p === command || (p.startsWith("scripts/flows/") && !p.startsWith("scripts/flows/run/")),
        ),
        `${steps} reaches back to a command`,
      ).toEqual([]);
      // The command fills in the options type its steps own.
      expect(imports(join(repoRoot, command))).toContain(steps);
    },
  );

  it("finds no import cycle anywhere under scripts/", () => {
    const cycles: string[] = [];
    const visiting: string[] = [];
    const done = new Set<string>();
    const visit = (path: string) => {
      const at = visiting.indexOf(path);
      if (at >= 0) return void cycles.push([...visiting.slice(at), path].join(" → "));
      if (done.has(path) || !path.startsWith("scripts/")) return;
      visiting.push(path);
      for (const target of imports(join(repoRoot, path))) visit(target);
      visiting.pop();
      done.add(path);
    };
    for (const file of files(scripts)) visit(relative(repoRoot, file));
    expect(cycles).toEqual([]);
  });

  it.each(commands)(
    "the command %s loads no more than the CLI layer, the names and the option checks before its command line is parsed",
    (flow) => {
      const loaded = [...closure(`scripts/flows/${flow}.ts`, staticImports)]
        .filter((p) => !p.startsWith("node:"))
        .sort();
      const light = [
        "scripts/lib/cli.ts",
        "scripts/lib/errors.ts",
        "scripts/lib/interrupt.ts",
        "scripts/lib/names.ts",
        "scripts/lib/onepassword.ts",
        "scripts/lib/paths.ts",
        "scripts/lib/connect-secrets.ts",
        "scripts/lib/verify/checks.ts",
      ];
      expect(loaded.filter((p) => p !== `scripts/flows/${flow}.ts` && !light.includes(p))).toEqual([]);
      expect(readFileSync(join(scripts, `flows/${flow}.ts`), "utf8")).toContain(`await import("./run/${flow}.ts")`);
    },
  );

  it("nothing under scripts/ imports from test/", () => {
    for (const file of files(scripts)) {
      for (const target of imports(file))
        expect(target, `${relative(repoRoot, file)} imports ${target}`).not.toMatch(/^test\//);
    }
  });

  it("no flow decides by its file name whether it runs: the runner calls main", () => {
    for (const file of files(scripts))
      expect(readFileSync(file, "utf8"), relative(repoRoot, file)).not.toMatch(/isEntryPoint|process\.argv\[1\]/);
  });

  it.each(["ingress.ts", "vendir.ts", "mirrors.ts", "ingress-sync.ts", "errors.ts", "yaml.ts", "onepassword.ts"])(
    "the pure module %s does not reach the CLI layer",
    (module) => {
      const reached = closure(`scripts/lib/${module}`);
      expect([...reached].filter((p) => p === "scripts/lib/cli.ts" || p === "scripts/lib/steps.ts")).toEqual([]);
      for (const path of reached) expect(readFileSync(join(repoRoot, path), "utf8"), path).not.toMatch(/from "listr2"/);
    },
  );
});

const platform = "test/platform";
const frontDoor = `${platform}/index.ts`;
const testTiers = ["test/unit", "test/chart", "test/integration"].map((d) => join(repoRoot, d));

describe("the local platform's layout", () => {
  it("has its four roles as folders (builders, running components, stand-ins, programs) and one front door", () => {
    const entries = readdirSync(join(repoRoot, platform)).sort();
    expect(entries).toEqual(["build", "components", "index.ts", "played", "programs"]);
  });

  it("is reached by the tests only through its front door", () => {
    for (const file of testTiers.flatMap(files)) {
      for (const target of imports(file).filter((t) => t.startsWith(`${platform}/`))) {
        expect(target, `${relative(repoRoot, file)} imports ${target}`).toBe(frontDoor);
      }
    }
  });

  it("is reached by its programs only through its front door (or another program)", () => {
    for (const file of files(join(repoRoot, platform, "programs"))) {
      for (const target of imports(file).filter((t) => t.startsWith(`${platform}/`))) {
        expect(target, `${relative(repoRoot, file)} imports ${target}`).toMatch(
          new RegExp(`^(${frontDoor}|${platform}/programs/.*)$`),
        );
      }
    }
  });

  it("never imports a test, and its builders import no running component, stand-in or program", () => {
    for (const file of files(join(repoRoot, platform))) {
      for (const target of imports(file)) {
        const where = `${relative(repoRoot, file)} imports ${target}`;
        expect(target, where).not.toMatch(/^test\/(unit|chart|integration)\/|\.test\.ts$/);
        if (relative(repoRoot, file).startsWith(`${platform}/build/`))
          expect(target, where).not.toMatch(new RegExp(`^${platform}/(components|played|programs)/`));
      }
    }
  });
});
