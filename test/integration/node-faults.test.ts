// Faults on the whole local system (real node, real Flux), each met with two
// collaborating clients editing or with the operator's flows: what each costs, and
// nothing lost beyond one checkpoint. The scenarios are test/support/faults.ts (data
// plane) and flow-faults.ts (control plane), shared with `npm run faults`, which runs
// them full length into docs/reliability.md. Here they run short: one system for all,
// a checkpoint every second, and outages shortened where the behaviour does not depend
// on their length (S3 10 s, not 60; the node off 5 s; 350 reconnecting clients, not 2,000).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceByName } from "../../scripts/lib/instances.ts";
import { relayNamespace } from "../../scripts/lib/names.ts";
import { detectNodeMode, type LocalSystem, startSystem } from "../platform/index.ts";
import { FaultBench, type FaultRow } from "../support/faults.ts";
import { FlowFaults } from "../support/flow-faults.ts";

const mode = detectNodeMode();
const rows: FaultRow[] = [];
let system: LocalSystem;
let bench: FaultBench;
let flowFaults: FlowFaults;

/** A row, kept for the read-back and the figures printed at the end. */
function kept(row: FaultRow): FaultRow {
  rows.push(row);
  console.log(
    `[faults] ${row.fault}: ${JSON.stringify({ made: row.made, inS3: row.inS3, stallMs: row.stallMs, facts: row.facts })}\n  operator: ${row.operator.join("\n  ")}\n  notes: ${row.notes.join("; ")}`,
  );
  return row;
}

describe.runIf(mode.node || process.env.CI === "true")("faults on the real node", () => {
  beforeAll(async () => {
    if (!mode.node) throw new Error(`expected a machine that can run a node under CI; ${mode.reason}`);
    const warn = console.warn;
    // The y-sweet client warns on every reconnect attempt; the rows say what happened.
    console.warn = (...args: unknown[]) => void (String(args[0]).includes("connect loop") || warn(...args));
    system = await startSystem();
    flowFaults = new FlowFaults(system);
    const first = await flowFaults.bootstrap();
    expect(first.code, first.all).toBe(0);
    // A release of our own beside Flux's, in the namespace verify reads: relay-personal's values and bucket.
    bench = new FaultBench({
      cluster: system.cluster,
      namespace: relayNamespace,
      instance: { ...instanceByName("personal"), release: "relay-faults" },
      checkpointSeconds: 1,
    });
    await bench.prepare();
  }, 900_000);

  afterAll(async () => {
    await system?.stop();
  }, 120_000);

  describe("the data plane: relay-faults, checkpointFreqSeconds 1, two clients editing every 200 ms each", () => {
    it("keeps serving while S3 is unreachable, saves every edit made meanwhile once S3 is back, and verify names the documents it could not save", async () => {
      const row = kept(await bench.s3Outage(10_000));
      // Collaboration went on: no edit waited for S3.
      expect(row.stallMs).toBeLessThan(5000);
      expect(row.inS3).toMatchObject({ saved: row.inS3!.of });
      expect(row.made.during).toBeGreaterThan(50);
      expect(row.operator.join("\n")).toMatch(
        /✗ relay-faults saves documents to S3: \d+ document\(s\) whose last save failed .*s3-outage-/,
      );
      expect(row.operator.join("\n")).toMatch(
        /\/metrics: relay_server_s3_requests_total .*PUT connection_error: [1-9]/,
      );
      // The server's own loss: a document unloaded while its save fails is dropped with its unsaved edits, and verify says so.
      expect(row.facts.leaverLost).toBeGreaterThan(0);
      expect(row.operator.join("\n")).toMatch(/1 document\(s\) unloaded while their save failed .*: s3-outage-leaver-/);
    }, 300_000);

    it("has every edit the server held longer than one checkpoint in S3 when the server is killed with SIGKILL", async () => {
      const row = kept(await bench.sigkill());
      expect(row.inS3!.of).toBeGreaterThan(10);
      expect(row.inS3!.oldestLostHeldMs).toBeLessThanOrEqual(bench.lossWindowMs);
      expect(row.operator[1]).toMatch(/Ready, [1-9]\d* restart\(s\), last run ended Error \(exit 137\)/);
    }, 300_000);

    it("has every edit the server held longer than one checkpoint in S3 when the server is OOM-killed under load; verify names OOMKilled", async () => {
      const row = kept(await bench.oom("48Mi"));
      expect(row.inS3!.oldestLostHeldMs).toBeLessThanOrEqual(bench.lossWindowMs);
      expect(row.operator.join("\n")).toMatch(/last run ended OOMKilled \(exit 137\)/);
    }, 400_000);

    it("keeps the clients' WebSockets open through a kubelet restart (the Pod reads not Ready until the kubelet's next readiness probe)", async () => {
      const row = kept(await bench.restart("kubelet"));
      expect(row.facts.drops).toBe(0);
    }, 300_000);

    it("keeps the clients' WebSockets open and the Pod Ready through a containerd restart", async () => {
      const row = kept(await bench.restart("containerd"));
      expect(row.facts.drops).toBe(0);
      expect(row.facts.notReadySamples).toBe(0);
    }, 300_000);

    it("has every edit the server held longer than one checkpoint in S3 when the node stops, and the relay Ready once it starts again", async () => {
      const row = kept(await bench.powerCycle(5_000));
      expect(row.inS3!.oldestLostHeldMs).toBeLessThanOrEqual(bench.lossWindowMs);
    }, 600_000);

    it("crash-loops while S3 is unreachable at start, with verify naming S3, and is Ready by itself once S3 is back", async () => {
      const row = kept(await bench.s3AtStart(15_000));
      expect(row.operator[0]).toMatch(
        /✗ Deployment relay\/relay-faults-relay-server available: .*(CrashLoopBackOff|Error).*last lines of its log:.*(ConnectionError|error sending request).*bucket/,
      );
      expect(row.operator[1]).toMatch(/not Ready, [1-9]\d* restart\(s\)/);
    }, 400_000);

    it("reads back every edit of every fault above from S3 after a rollout restart, the editing clients gone", async () => {
      await bench.readBackAfterRestart();
      expect(
        rows.map((r) => [
          r.fault,
          r.readBack.back === r.readBack.of ? "all" : `${r.readBack.back} of ${r.readBack.of}`,
        ]),
      ).toEqual(rows.map((r) => [r.fault, "all"]));
      expect(rows.filter((r) => !r.met).map((r) => r.fault)).toEqual([]);
    }, 300_000);

    it("brings every client back after a restart with none refused and no Too many open files, and verify names every document split meanwhile", async () => {
      const row = kept(await bench.reconnectStorm({ sockets: 250, docs: 25, perDoc: 4 }));
      expect(row.facts, row.notes.join("; ")).toMatchObject({
        socketsBack: 250,
        docClientsBack: 100,
        refused: 0,
        tooManyOpenFiles: false,
        editsBeforeLost: 0,
      });
      expect(row.facts.namedByVerify).toBe(row.facts.splitDocs);
    }, 600_000);
  });

  describe("the control plane and the flows", () => {
    it("bootstrap completes through a restart of the tenant's API server during its apply and a pause during its wait; a re-run completes", async () => {
      const row = await flowFaults.bootstrapThroughApiFaults(3_000, 10_000);
      console.log(`[faults] ${JSON.stringify(row)}`);
      expect(row.outcome).toMatch(/^exit 0/);
      expect(row.rerun).toMatch(/^exit 0/);
    }, 600_000);

    it("relay-server:upgrade through a restart of the tenant's API server completes, or fails naming the cluster; a re-run deploys the release", async () => {
      const row = await flowFaults.upgradeThroughApiRestart(3_000);
      console.log(`[faults] ${JSON.stringify(row)}`);
      expect(row.met, JSON.stringify(row)).toBe(true);
    }, 600_000);

    it("names the HelmRelease while helm-controller is killed mid-upgrade, and completes once it runs again: the release does not stay pending-upgrade", async () => {
      const row = await flowFaults.helmControllerKilled(20_000);
      console.log(`[faults] ${JSON.stringify(row)}`);
      expect(row.met, JSON.stringify(row)).toBe(true);
    }, 600_000);

    it("fails bootstrap's wait with the GitRepository's own message while the Git server is down, and completes on the new commit once it is back", async () => {
      const row = await flowFaults.gitServerDown(15_000);
      console.log(`[faults] ${JSON.stringify(row)}`);
      expect(row.outcome).toMatch(/GitRepository flux-system\/setup .*(connection refused|unable to clone)/);
      expect(row.met, JSON.stringify(row)).toBe(true);
    }, 600_000);

    it("writes nothing and says one line when the management cluster is unreachable during sync-ingress", async () => {
      const row = await flowFaults.managementUnreachable();
      console.log(`[faults] ${JSON.stringify(row)}`);
      expect(row.met, JSON.stringify(row)).toBe(true);
    }, 120_000);
  });
});
