// What each supported server version changes for the chart, proven on the server
// binaries themselves (the ones in the node's images), run on the host with a memory
// store: the release each reports, whether relay.toml's [logging] level or only
// RUST_LOG sets the level, which log filters stop it at start (and that the chart's
// schema refuses exactly those), and that it stops on SIGINT but not on SIGTERM.
// Each row of libs/relay-server/README.md's "Server versions" table names its test here
// or in node-relay.test.ts.
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareVersions, supportedServerVersions } from "../../scripts/lib/server-versions.ts";
import { detectNodeMode, ensureRelayServer, freePorts, relaySourceTarball } from "../platform/index.ts";
import { childProcesses } from "../support/flows.ts";
import { helm, requiredValues } from "../support/chart.ts";
import { tempDir } from "../support/files.ts";
import { waitFor } from "../support/wait.ts";

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

const nodeMode = detectNodeMode();
const binaryName = "relay";
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** `relay serve` of `version` on loopback with a memory store, relay.toml's [logging] level `tomlLevel`, and `env`. */
async function serve(
  version: string,
  opts: { tomlLevel?: string; env?: NodeJS.ProcessEnv; pid1?: boolean } = {},
): Promise<Running> {
  const { binary } = await ensureRelayServer(version);
  const dir = tempDir("relay-version-");
  dirs.push(dir);
  const [port] = await freePorts(1);
  writeFileSync(
    join(dir, "relay.toml"),
    [
      "[server]",
      'host = "127.0.0.1"',
      `port = ${port}`,
      "[store]",
      'type = "memory"',
      ...(opts.tomlLevel ? ["[logging]", `level = "${opts.tomlLevel}"`] : []),
    ].join("\n"),
  );
  // Without RUST_LOG unless a test sets it: the level then comes from relay.toml or the default.
  const env = { PATH: process.env.PATH, NO_COLOR: "1", ...opts.env };
  // As PID 1 of a PID namespace of its own, as in a container: the kernel then drops a signal it has no handler for.
  const child = opts.pid1
    ? spawn("unshare", ["--pid", "--fork", "--kill-child", binary, "serve"], {
        cwd: dir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      })
    : spawn(binary, ["serve"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  return { child, url: `http://127.0.0.1:${port}`, output: () => output, exited };
}

async function ready(r: Running): Promise<Response> {
  let gone = false;
  void r.exited.then(() => (gone = true));
  return waitFor("the server to answer /ready", 30_000, async () => {
    if (gone) throw new Error(`it exited: ${r.output().slice(-500)}`);
    const res = await fetch(`${r.url}/ready`).catch(() => undefined);
    return res?.status === 200 ? res : undefined;
  });
}

async function stop(r: Running): Promise<void> {
  if (r.child.exitCode === null) r.child.kill("SIGKILL");
  await r.exited;
}

/** Whether the server wrote DEBUG lines once a request gave it something to say at debug. */
async function logsDebug(r: Running): Promise<boolean> {
  await ready(r);
  // A WebSocket upgrade with mismatched ids: both versions log it at debug, and it creates nothing.
  await fetch(`${r.url}/d/a/ws/b`).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return / DEBUG /.test(r.output());
}

// Log filters as RUST_LOG or relay.logging.level takes them: tracing's EnvFilter syntax.
const validFilters = ["info", "debug", "warn,relay=debug", "info,hyper=warn,y_sweet_core=trace", "ERROR", "off"];
const invalidFilters = ["info=nonsense", "relay=verbose", "=debug", "info,hyper=lots"];

describe.each(supportedServerVersions())("the server binary %s", (version) => {
  // [logging] level is applied from 0.9.9 (upstream 2ad9069b); before, only RUST_LOG sets the level.
  const tomlLevelApplies = compareVersions(version, "0.9.9") >= 0;

  it("reports its release in the relay-server-version header", async () => {
    const r = await serve(version);
    try {
      expect((await ready(r)).headers.get("relay-server-version")).toBe(version);
    } finally {
      await stop(r);
    }
  }, 900_000);

  it(`${tomlLevelApplies ? "applies" : "ignores"} relay.toml's [logging] level, and applies RUST_LOG`, async () => {
    const fromToml = await serve(version, { tomlLevel: "debug" });
    const fromEnv = await serve(version, { env: { RUST_LOG: "debug" } });
    try {
      expect(await logsDebug(fromToml)).toBe(tomlLevelApplies);
      expect(await logsDebug(fromEnv)).toBe(true);
    } finally {
      await Promise.all([stop(fromToml), stop(fromEnv)]);
    }
  }, 120_000);

  // It installs a handler for SIGINT only (crates/relay/src/main.rs:964 of 0.10.0, 643 of 0.9.6): as a
  // container's PID 1 it ignores SIGTERM. Needs root for the PID namespace, as the node does.
  it.runIf(nodeMode.node || process.env.CI === "true")(
    "stops on SIGINT, not on SIGTERM, as a container's PID 1 (the chart's preStop hook sends SIGINT)",
    async () => {
      const r = await serve(version, { pid1: true });
      try {
        await ready(r);
        const server = childProcesses(r.child.pid!, binaryName)[0];
        expect(server, "the server under unshare").toBeGreaterThan(0);
        process.kill(server!, "SIGTERM");
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        expect((await fetch(`${r.url}/ready`)).status, "still serving after SIGTERM").toBe(200);
        process.kill(server!, "SIGINT");
        await waitFor("the server to exit on SIGINT", 30_000, async () =>
          r.child.exitCode !== null ? true : undefined,
        );
      } finally {
        await stop(r);
      }
    },
    120_000,
  );
});

describe("log filters: the chart's schema refuses exactly what the default server refuses at start", () => {
  const [defaultVersion] = supportedServerVersions();

  it.each([...validFilters.map((f) => [f, true] as const), ...invalidFilters.map((f) => [f, false] as const)])(
    "%s: starts %s",
    async (filter, valid) => {
      const r = await serve(defaultVersion!, { env: { RUST_LOG: filter } });
      try {
        if (valid) {
          await ready(r);
        } else {
          expect(await r.exited).not.toBe(0);
          expect(r.output()).toContain("Invalid logging.level/RUST_LOG filter");
        }
      } finally {
        await stop(r);
      }
      // A values file, as an operator writes it (helm's --set would split the filter at its commas).
      const values = join(tempDir("relay-filter-"), "values.yaml");
      dirs.push(join(values, ".."));
      // JSON (which YAML reads): every filter stays a string, where plain YAML would make `off` a boolean for helm.
      writeFileSync(
        values,
        JSON.stringify({ ...requiredValues, relay: { ...requiredValues.relay, logging: { level: filter } } }),
      );
      const rendered = await helm(["template", "relay", "libs/relay-server", "-f", values]);
      expect(rendered.code, rendered.stderr).toBe(valid ? 0 : 1);
      if (!valid) expect(rendered.stderr).toMatch(/relay\.logging\.level/);
    },
    120_000,
  );
});

describe("a server version with no source here", () => {
  it("fails its image build in one line naming the missing source and the ones there are", () => {
    const message = (() => {
      try {
        relaySourceTarball("9.9.9");
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message.split("\n")).toHaveLength(1);
    expect(message).toMatch(
      /^expected the source of relay-server 9\.9\.9 at \S+relay-server-9\.9\.9\.tar\.gz to build image tag v9\.9\.9; there is none \(sources here: [^)]*0\.10\.0[^)]*\)/,
    );
  });
});
