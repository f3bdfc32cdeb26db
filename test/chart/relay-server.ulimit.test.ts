// Runs the container command the chart renders in a real /bin/sh, with a
// stand-in run.sh, to prove the `sh -c` wrapper hands the URL to run.sh as $1
// and applies the open-files limit, or fails at once when it cannot.
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { V1Deployment } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { only, render } from "../support/chart.ts";

const run = promisify(execFile);

// The hard limit the tests run under. As root a process may raise its hard limit,
// so the check must not depend on that: the shell lowers it first, as a node does for a pod.
const hardLimit = 4096;
const url = "https://personal.relay.enigma.vgijssel.nl";

let workDir = "";

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "relay-ulimit-"));
  // Stands in for the image's /app/run.sh: reports what it was given and the limits it runs under.
  await writeFile(
    join(workDir, "run.sh"),
    ["#!/bin/sh", 'echo "argc=$#"', 'echo "url=$1"', 'echo "soft=$(ulimit -Sn)"', 'echo "hard=$(ulimit -Hn)"', ""].join(
      "\n",
    ),
  );
  await chmod(join(workDir, "run.sh"), 0o755);
});

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** The Deployment's command + args for the given nofile, as the kubelet would exec them. */
async function containerArgv(nofile: number | null): Promise<string[]> {
  const d = only<V1Deployment>(await render({ values: { relay: { url }, ulimits: { nofile } } }), "Deployment");
  const c = d.spec?.template.spec?.containers[0];
  return [...(c?.command ?? ["./run.sh"]), ...(c?.args ?? [])];
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Execs argv in the stand-in /app (cwd) with the hard limit lowered to hardLimit. */
async function exec(argv: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(
      "/bin/sh",
      ["-c", `ulimit -Sn ${hardLimit} && ulimit -Hn ${hardLimit} && exec "$@"`, "lower-hard-limit", ...argv],
      {
        cwd: workDir,
        timeout: 10_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === "number" ? e.code : -1,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? String(error),
    };
  }
}

describe("relay-server open-files wrapper in a real shell", () => {
  it("hands run.sh the URL as $1 (and nothing else) and applies the configured soft limit", async () => {
    const argv = await containerArgv(2048);
    expect(argv[0]).toBe("/bin/sh");
    const out = await exec(argv);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`url=${url}\n`);
    expect(out.stdout).toContain("argc=1\n");
    expect(out.stdout).toContain("soft=2048\n");
  });

  it("accepts a limit equal to the hard limit", async () => {
    const out = await exec(await containerArgv(hardLimit));
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`soft=${hardLimit}\n`);
  });

  it("fails at once, naming the requested and the hard limit, when the limit is above the hard limit", async () => {
    const out = await exec(await containerArgv(8192));
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(
      `cannot set the open-files limit (ulimits.nofile) to 8192: the hard limit is ${hardLimit}`,
    );
    // run.sh, and so the server, never started.
    expect(out.stdout).not.toContain("url=");
  });

  it("runs run.sh directly with the URL as $1 when nofile is null", async () => {
    const argv = await containerArgv(null);
    expect(argv).toEqual(["./run.sh", url]);
    const out = await exec(argv);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`url=${url}\n`);
    expect(out.stdout).toContain("argc=1\n");
  });
});
