// The layout's rules, checked on the import statements: commands import only the
// engine, nothing an operator runs imports development tooling, and the pure
// modules stay free of the CLI layer (listr2), even through other modules.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";

const scripts = join(repoRoot, "scripts");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|mjs)$/.test(e.name) ? [join(dir, e.name)] : []));
}

/** The relative imports of a file, resolved to repository paths. */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => relative(repoRoot, resolve(dirname(file), m[1]!)));
}

function closure(start: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const next of imports(join(repoRoot, path))) visit(next);
  };
  visit(start);
  return seen;
}

describe("the code's layout", () => {
  it("a flow imports only the engine, never another flow", () => {
    const flows = files(join(scripts, "flows"));
    expect(flows.length).toBe(6);
    for (const flow of flows) {
      for (const target of imports(flow)) expect(target, `${relative(repoRoot, flow)} imports ${target}`).toMatch(/^scripts\/lib\//);
    }
  });

  it("nothing under scripts/ imports from test/", () => {
    for (const file of files(scripts)) {
      for (const target of imports(file)) expect(target, `${relative(repoRoot, file)} imports ${target}`).not.toMatch(/^test\//);
    }
  });

  it("no flow decides by its file name whether it runs: the runner calls main", () => {
    for (const file of files(scripts)) expect(readFileSync(file, "utf8"), relative(repoRoot, file)).not.toMatch(/isEntryPoint|process\.argv\[1\]/);
  });

  it.each(["ingress.ts", "vendir.ts", "relay-services.ts", "mirrors.ts", "ingress-sync.ts", "errors.ts", "yaml.ts", "onepassword.ts"])("the pure module %s does not reach the CLI layer", (module) => {
    const reached = closure(`scripts/lib/${module}`);
    expect([...reached].filter((p) => p === "scripts/lib/cli.ts" || p === "scripts/lib/steps.ts")).toEqual([]);
    for (const path of reached) expect(readFileSync(join(repoRoot, path), "utf8"), path).not.toMatch(/from "listr2"/);
  });
});
