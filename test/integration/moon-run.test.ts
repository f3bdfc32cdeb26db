// A flow through `moon run` against real local API servers, from a shell where moon
// was installed on its own (no npx, no node_modules/.bin on PATH), as CI and cron
// run `sync-ingress --check --json`: what reaches stdout and which exit code is left.
// moon 2.4 ends every failed task with exit 1 (crates/app/src/commands/exec.rs), so
// the codes 1, 2 and 3 stay apart only in the direct form, which the runbook gives
// for scripts and CI; through moon, stdout is pure JSON.
import { copyFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { management, tenant } from "../../scripts/lib/names.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import {
  type ApiServer,
  type ApiServers,
  installRelayServices,
  playCcm,
  seedCozystack,
  startApiServers,
} from "../platform/index.ts";
import { type FlowResult, runCommand, runMoon } from "../support/flows.ts";
import { tempDir } from "../support/files.ts";

let cp: ApiServers;
let mgmt: ApiServer, tenantServer: ApiServer;
let dir: string;
let synced: string, stale: string, unreachable: string;

const withoutNpx = {
  PATH: (process.env.PATH ?? "")
    .split(delimiter)
    .filter((p) => !p.includes("node_modules"))
    .join(delimiter),
};

/** The runbook's direct form: scripts/build/node scripts/build/flow.mjs <flow> … */
const direct = (args: string[], kubeconfig = mgmt.kubeconfigPath): Promise<FlowResult> =>
  runCommand(
    join(repoRoot, "scripts/build/node"),
    [join(repoRoot, "scripts/build/flow.mjs"), "sync-ingress", ...args],
    { ...withoutNpx, CI: undefined, KUBECONFIG: kubeconfig },
  );

/** The moon task as an operator types it, with moon's own flags before the target. */
const viaMoon = (moonFlags: string[], args: string[], kubeconfig = mgmt.kubeconfigPath): Promise<FlowResult> =>
  runMoon(["run", ...moonFlags, "docs-infra-prod:sync-ingress", "--", ...args], {
    ...withoutNpx,
    KUBECONFIG: kubeconfig,
  });

const check = (file: string, tenantKubeconfig = tenantServer.kubeconfigPath) => [
  "--check",
  "--json",
  "--ingress-file",
  file,
  "--tenant-kubeconfig",
  tenantKubeconfig,
];

beforeAll(async () => {
  cp = await startApiServers([
    { name: management.cluster, crds: [] },
    { name: tenant.app, crds: [] },
  ]);
  [mgmt, tenantServer] = cp.servers as [ApiServer, ApiServer];
  dir = tempDir("moon-run-");
  await seedCozystack(mgmt, tenantServer);
  await installRelayServices(tenantServer);
  await playCcm(tenantServer, mgmt);
  stale = join(dir, "stale.yaml");
  synced = join(dir, "synced.yaml");
  copyFileSync(join(repoRoot, management.ingressFile), stale);
  copyFileSync(join(repoRoot, management.ingressFile), synced);
  const sync = await direct(["--ingress-file", synced, "--tenant-kubeconfig", tenantServer.kubeconfigPath]);
  expect(sync.code, sync.all).toBe(0);
  // A cluster that does not answer: nothing listens on port 1.
  unreachable = join(dir, "unreachable.kubeconfig");
  const config = JSON.parse(mgmt.kubeConfig.exportConfig()) as { clusters: { cluster: { server: string } }[] };
  for (const c of config.clusters) c.cluster.server = "https://127.0.0.1:1";
  writeFileSync(unreachable, JSON.stringify(config), { mode: 0o600 });
}, 600_000);

afterAll(async () => {
  await cp?.stop();
});

describe("sync-ingress --check --json, direct and through moon", () => {
  it("the direct form keeps the flow's exit codes apart: 0 up to date, 1 out of date, 2 a wrong command line, 3 a cluster that does not answer", async () => {
    const results = await Promise.all([
      direct(check(synced)),
      direct(check(stale)),
      direct([...check(synced), "--bogus"]),
      direct(check(synced), unreachable),
    ]);
    expect(
      results.map((r) => r.code),
      results.map((r) => r.all).join("\n"),
    ).toEqual([0, 1, 2, 3]);
    for (const r of [results[0]!, results[1]!, results[3]!]) expect(() => JSON.parse(r.stdout)).not.toThrow();
  });

  it("through moon --quiet, stdout is the same one JSON object; moon leaves exit 1 for every failure and names the flow's code on stderr", async () => {
    const [fresh, old, wrong, down] = await Promise.all([
      viaMoon(["--quiet"], check(synced)),
      viaMoon(["--quiet"], check(stale)),
      viaMoon(["--quiet"], [...check(synced), "--bogus"]),
      viaMoon(["--quiet"], check(synced), unreachable),
    ]);
    expect(fresh.code, fresh.all).toBe(0);
    expect(JSON.parse(fresh.stdout)).toEqual(JSON.parse((await direct(check(synced))).stdout));
    expect(JSON.parse(old.stdout)).toMatchObject({ ok: false });
    expect(JSON.parse(down.stdout)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/127\.0\.0\.1:1 to answer; ECONNREFUSED/),
    });
    expect([old, wrong, down].map((r) => r.code)).toEqual([1, 1, 1]);
    expect([old, wrong, down].map((r) => /failed: exit code (\d)/.exec(r.stderr)?.[1])).toEqual(["1", "2", "3"]);
  });

  it("through moon without --quiet too: moon keeps its own lines off stdout when an argument is --json, and prints them for a run without it", async () => {
    // moon 2.4.6 quiets its console when any argument, passed-through ones included, is
    // --json (crates/common/src/env.rs is_formatted_output, crates/app/src/session.rs).
    const json = await viaMoon([], check(synced));
    expect(json.code, json.all).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true });
    const plain = await viaMoon(
      [],
      ["--check", "--ingress-file", synced, "--tenant-kubeconfig", tenantServer.kubeconfigPath],
    );
    expect(plain.code, plain.all).toBe(0);
    expect(plain.stdout).toMatch(/^▮▮▮▮ docs-infra-prod:sync-ingress/m);
  });
});
