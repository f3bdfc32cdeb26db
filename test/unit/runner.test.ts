// The runner the moon tasks call (scripts/build/flow.mjs), on a scratch copy of the
// repository layout: it runs a built bundle's main and never builds one itself.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";

let root: string;
const runner = () => join(root, "scripts/build/flow.mjs");
const run = (...args: string[]) => spawnSync(process.execPath, [runner(), ...args], { cwd: root, encoding: "utf8" });

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "runner-"));
  for (const dir of ["scripts/build", "scripts/flows", "scripts/lib", "dist/flows"])
    mkdirSync(join(root, dir), { recursive: true });
  for (const file of ["flow.mjs", "bundles.mjs", "toolchain.mjs"])
    copyFileSync(join(repoRoot, "scripts/build", file), join(root, "scripts/build", file));
  writeFileSync(join(root, "scripts/flows/verify.ts"), "export async function main() {}\n");
  writeFileSync(join(root, "scripts/lib/cli.ts"), "export {};\n");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

function writeBundles(ageSeconds: number): void {
  writeFileSync(
    join(root, "dist/flows/verify.mjs"),
    'export async function main(argv) { console.log("main got " + argv.join(" ")); }\n',
  );
  writeFileSync(join(root, "dist/flows/cli.mjs"), "export async function runMain(main) { await main(); return 0; }\n");
  const when = new Date(Date.now() + ageSeconds * 1000);
  for (const f of ["verify.mjs", "cli.mjs"]) utimesSync(join(root, "dist/flows", f), when, when);
}

describe("the flow runner", () => {
  it("refuses a missing bundle and names the command that builds it", () => {
    const result = run("verify");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/verify\.mjs is missing; build the bundles with `npm run build`/);
  });

  it("refuses a bundle older than the sources instead of building it", () => {
    writeBundles(-3600);
    const result = run("verify", "--only", "tenant");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /verify\.mjs is older than scripts\/flows or scripts\/lib; build the bundles with `npm run build`/,
    );
    expect(result.stdout).not.toContain("main got");
  });

  it("calls the bundle's main with the arguments after the flow name", () => {
    writeBundles(60);
    const result = run("verify", "--only", "tenant");
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("main got --only tenant");
    expect(result.status).toBe(0);
  });

  it("answers -h, --help and --version itself, exit 0, without a bundle", () => {
    writeFileSync(join(root, "package.json"), JSON.stringify({ version: "9.9.9" }));
    for (const flag of ["-h", "--help"]) {
      const result = run(flag);
      expect(result.status, flag).toBe(0);
      expect(result.stdout).toMatch(/^Usage: scripts\/build\/node scripts\/build\/flow\.mjs <flow> \[options\]/);
      expect(result.stdout).toMatch(/Flows: bootstrap, /);
      expect(result.stdout).toMatch(/\nExamples:\n  scripts\/build\/node scripts\/build\/flow\.mjs /);
    }
    expect(run("--version")).toMatchObject({
      status: 0,
      stdout: `setup-docs-relay 9.9.9 (no bundles built yet: npm run build, node ${process.version})\n`,
    });
  });

  it("refuses an unknown flow name", () => {
    const result = run("deploy-everything");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/expected a flow name \(bootstrap, .*\); got "deploy-everything"/);
  });
});

describe("the stand-ins for client-node's rarely used packages", () => {
  it("name what the installed packages export, as what they are called", async () => {
    const { lazyPackages } = await import("../../scripts/build/bundles.mjs");
    const clientNode = join(repoRoot, "node_modules/@kubernetes/client-node/package.json");
    const wanted = Object.keys(lazyPackages).sort();
    expect(wanted).toEqual(["hpagent", "jsonpath-plus", "node-fetch", "openid-client", "socks-proxy-agent"]);
    for (const pkg of wanted) {
      // Resolved as client-node resolves them, and as the bundles' require() does from the repository.
      const real = (await import(createRequire(clientNode).resolve(pkg))) as Record<string, unknown>;
      for (const [name, how] of Object.entries(lazyPackages[pkg]!)) {
        const value =
          name === "default" ? ((real.default as Record<string, unknown>)?.default ?? real.default) : real[name];
        expect(typeof value, `${pkg} ${name}`).toBe("function");
        if (how === "new")
          expect((value as { prototype?: object }).prototype, `${pkg} ${name} is a class`).toBeTypeOf("object");
      }
      expect(createRequire(clientNode).resolve(pkg)).toBe(
        createRequire(join(repoRoot, "dist/flows/chunks/x.mjs")).resolve(pkg),
      );
    }
  });
});
