// The command line every flow shares: -h and --version, only a flow's own
// options, Go durations, paths from the operator's folder, and the exit codes.
import { afterEach, describe, expect, it, vi } from "vitest";
import { exitCodes, parseFlowArgs, runMain, versionLine } from "../../scripts/lib/cli.ts";
import { flows } from "../../scripts/build/bundles.mjs";

/** Runs a flow's main as the runner does; returns its exit code, stdout and stderr. */
async function run(flow: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void (stdout += `${parts.join(" ")}\n`));
  vi.spyOn(process.stdout, "write").mockImplementation(
    (chunk: string | Uint8Array) => ((stdout += String(chunk)), true),
  );
  vi.spyOn(process.stderr, "write").mockImplementation(
    (chunk: string | Uint8Array) => ((stderr += String(chunk)), true),
  );
  const { main } = (await import(`../../scripts/flows/${flow}.ts`)) as {
    main: (argv: string[]) => Promise<number | void>;
  };
  const code = await runMain(() => main(argv), false, argv.includes("--json"));
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("every flow's command line", () => {
  it.each(flows)("%s answers -h and --help with its usage and examples, exit 0", async (flow) => {
    for (const flag of ["-h", "--help"]) {
      const result = await run(flow, [flag]);
      expect(result.code, flag).toBe(0);
      expect(result.stdout, flag).toMatch(/^Usage: /);
      expect(result.stdout).toMatch(/-h, --help/);
      // Each example is a command line of this flow: its moon task or the direct form.
      const examples = /\nExamples:\n((?: {2}\S.*\n)+)/.exec(result.stdout)?.[1]?.trimEnd().split("\n") ?? [];
      expect(examples.length, `${flow} -h has an Examples section`).toBeGreaterThanOrEqual(2);
      for (const line of examples)
        expect(line).toMatch(new RegExp(`^  (moon run \\S+:\\S+|node scripts/build/flow\\.mjs ${flow})( |$)`));
    }
  });

  it.each(flows)("%s answers --version, exit 0", async (flow) => {
    const result = await run(flow, ["--version"]);
    expect(result).toEqual({ code: 0, stdout: `${versionLine()}\n`, stderr: "" });
    // From source, as here: no build to name (the bundles name their commit: test/integration/runner.test.ts).
    expect(result.stdout).toBe(`setup-docs-relay 1.0.0 (run from source, not from a build, node ${process.version})\n`);
  });

  it.each(flows)("%s refuses an unknown option with the usage exit code", async (flow) => {
    const result = await run(flow, ["--no-such-option"]);
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toBe("✖ Unknown option '--no-such-option'; see --help\n");
  });

  it.each([
    "--management-context",
    "--tenant-kubeconfig",
    "--tenant-kubeconfig-from",
    "--tenant-kubeconfig-key",
    "--secrets-from",
    "--local-secrets",
  ])("vendir remove-entry refuses %s, an option of the flows that reach a cluster", async (option) => {
    const result = await run("vendir-remove-entry", ["relay-server", option, "x", "--dry-run"]);
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toContain(`Unknown option '${option}'`);
  });

  it.each([
    ["relay-helm", ["template", "--instance", "family", "--timeout", "banana"], "--timeout"],
    ["relay-helm", ["template", "--instance", "family", "--timeout", "30"], "--timeout"],
    ["bootstrap", ["--timeout", "5 minutes"], "--timeout"],
    ["verify", ["--request-timeout", "soon"], "--request-timeout"],
  ])("%s refuses a duration that is not Go's (%j) before doing anything", async (flow, argv, flag) => {
    const result = await run(flow, argv);
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toMatch(
      new RegExp(`^✖ expected ${flag} to be a duration like 500ms, 90s, 1m30s or 2h; got "`),
    );
  });

  it.each([
    [
      "sync-ingress",
      ["--secrets-from", "bogus", "--tenant-kubeconfig", "/nonexistent"],
      '✖ expected --secrets-from 1password or local; got "bogus"; see --help',
    ],
    ["verify", ["--secrets-from", "bogus"], '✖ expected --secrets-from 1password or local; got "bogus"; see --help'],
    ["bootstrap", ["--secrets-from", "bogus"], '✖ expected --secrets-from 1password or local; got "bogus"; see --help'],
    [
      "relay-helm",
      ["diff", "--instance", "personal", "--secrets-from", "local"],
      "✖ expected --local-secrets FILE (or OP_LOCAL_SECRETS) with --secrets-from local; got neither; pass the file",
    ],
    [
      "create-1password-secret",
      ["--token-ref", "vault/item"],
      '✖ expected --token-ref to be a secret reference like op://vault/item/field; got "vault/item"; fix it',
    ],
    [
      "bootstrap",
      ["--credentials-ref", "op://only-two"],
      '✖ expected --credentials-ref to be a secret reference like op://vault/item/field; got "op://only-two"; fix it',
    ],
    [
      "verify",
      ["--connect-to", "garbage"],
      '✖ expected --connect-to HOST=ADDR:PORT (e.g. personal.relay.enigma.vgijssel.nl=127.0.0.1:8443); got "garbage"; see --help',
    ],
    ["verify", ["--only", "everything"], '✖ expected --only tenant, management, network; got "everything"; see --help'],
    [
      "bootstrap",
      ["--app", "docs-staging"],
      '✖ expected --app docs-prod or docs-infra-prod; got "docs-staging"; see --help',
    ],
    [
      "relay-helm",
      ["diff", "--instance", "personal", "--recover"],
      "✖ expected --recover with upgrade only; got it with diff; drop it",
    ],
    [
      "vendir-remove-entry",
      ["../etc"],
      '✖ expected an entry name such as relay-server; got "../etc", which is not a plain folder name; pass the name that follows charts/ in vendir.yml',
    ],
  ])("%s refuses a bad value (%j) as a usage error, before reaching any cluster", async (flow, argv, line) => {
    // A management kubeconfig that does not exist: a flow that went on to a cluster would fail with exit 3 instead.
    vi.stubEnv("KUBECONFIG", "/nonexistent/kubeconfig");
    vi.stubEnv("OP_LOCAL_SECRETS", "");
    const result = await run(flow, argv);
    expect(result).toEqual({ code: exitCodes.usage, stdout: "", stderr: `${line}\n` });
  });

  it("refuses a malformed reference in OP_CONNECT_CREDENTIALS_REF as a usage error naming the variable", async () => {
    vi.stubEnv("KUBECONFIG", "/nonexistent/kubeconfig");
    vi.stubEnv("OP_CONNECT_CREDENTIALS_REF", "setup-docs-prod/creds");
    const result = await run("create-1password-secret", []);
    expect(result).toEqual({
      code: exitCodes.usage,
      stdout: "",
      stderr:
        '✖ expected OP_CONNECT_CREDENTIALS_REF to be a secret reference like op://vault/item/field; got "setup-docs-prod/creds"; fix it\n',
    });
  });

  it("verify's per-request limit is --request-timeout; --timeout belongs to the flows that wait for a deploy", async () => {
    const result = await run("verify", ["--timeout", "10s"]);
    expect(result.code).toBe(exitCodes.usage);
    expect(result.stderr).toContain("Unknown option '--timeout'");
  });

  it("a usage error exits 2, any other failure 3, with --json one JSON object on stdout", async () => {
    const usage = await run("relay-helm", ["template"]);
    expect(usage).toMatchObject({
      code: 2,
      stdout: "",
      stderr: "✖ expected --instance personal or family; got none; pass --instance\n",
    });
    const failure = await runMain(
      async () => {
        throw new Error("the cluster is down");
      },
      false,
      true,
    ).finally(() => vi.restoreAllMocks());
    expect(failure).toBe(exitCodes.failure);
    const json = await run("relay-helm", ["template", "--json"]);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ ok: false, error: "Unknown option '--json'; see --help" });
  });
});

describe("relative paths", () => {
  const specs = {
    "ingress-file": { type: "string", multiple: true },
    "local-secrets": { type: "string" },
    "ca-file": { type: "string" },
    dir: { type: "string" },
    "repo-root": { type: "string" },
    "tenant-kubeconfig": { type: "string" },
  } as const;
  const argv = [
    "--ingress-file",
    "a.yaml",
    "--ingress-file",
    "/abs/b.yaml",
    "--local-secrets",
    "s.json",
    "--ca-file",
    "../ca.pem",
    "--dir",
    "v",
    "--repo-root",
    ".",
    "--tenant-kubeconfig",
    "t.kubeconfig",
  ];

  it("resolve from the folder the operator typed the command in (MOON_WORKING_DIR), not the project folder moon runs in", () => {
    vi.stubEnv("MOON_WORKING_DIR", "/home/op/here");
    const { values, common } = parseFlowArgs(argv, specs);
    expect({ ...values, help: undefined, version: undefined, verbose: undefined, "dry-run": undefined }).toEqual({
      "ingress-file": ["/home/op/here/a.yaml", "/abs/b.yaml"],
      "local-secrets": "/home/op/here/s.json",
      "ca-file": "/home/op/ca.pem",
      dir: "/home/op/here/v",
      "repo-root": "/home/op/here",
      "tenant-kubeconfig": "/home/op/here/t.kubeconfig",
      help: undefined,
      version: undefined,
      verbose: undefined,
      "dry-run": undefined,
    });
    expect(common.tenantKubeconfig).toBe("/home/op/here/t.kubeconfig");
  });

  it("resolve from the current folder when run directly (no MOON_WORKING_DIR)", () => {
    vi.stubEnv("MOON_WORKING_DIR", "");
    expect(parseFlowArgs(["--dir", "v"], specs).values.dir).toBe(`${process.cwd()}/v`);
  });
});
