// `npm run faults`: every fault of the suite at full length on the whole local
// system (the real node, real Flux), written to docs/reliability.md: one row per
// fault with what was made, what S3 held, what was read back, how long clients were
// without service and what the operator saw, each beside its expectation. The fault
// test (test/integration/node-faults.test.ts) runs the same scenarios short and
// asserts them. `--short` runs them at the test's lengths and only prints the tables.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { detectNodeMode, startSystem } from "../index.ts";
import { instanceByName } from "../../../scripts/lib/instances.ts";
import { relayNamespace } from "../../../scripts/lib/names.ts";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { defaultServerTag, versionOfTag } from "../../../scripts/lib/server-versions.ts";
import { FaultBench, type FaultRow, saveMarginMs } from "../../support/faults.ts";
import { type FlowFaultRow, FlowFaults } from "../../support/flow-faults.ts";

const short = process.argv.includes("--short");
const mode = detectNodeMode();
if (!mode.node) {
  console.error(`npm run faults needs a machine that runs a real node; ${mode.reason}`);
  process.exit(2);
}
const started = Date.now();
const log = (line: string) => console.log(`[faults ${((Date.now() - started) / 1000).toFixed(0)} s] ${line}`);
// The production checkpoint (the chart's default) for the figures; the test's 1 s with --short.
const checkpointSeconds = short ? 1 : 10;
const lengths = short
  ? {
      outageMs: 10_000,
      atStartMs: 15_000,
      offMs: 5_000,
      storm: { sockets: 250, docs: 25, perDoc: 4 },
      downMs: 3_000,
      pauseMs: 10_000,
      helmDownMs: 20_000,
      gitWaitMs: 15_000,
    }
  : {
      outageMs: 60_000,
      atStartMs: 60_000,
      offMs: 30_000,
      storm: { sockets: 1600, docs: 100, perDoc: 4 },
      downMs: 10_000,
      pauseMs: 20_000,
      helmDownMs: 60_000,
      gitWaitMs: 60_000,
    };

// The y-sweet client warns on every reconnect attempt; the figures say what happened.
const warn = console.warn;
console.warn = (...args: unknown[]) => void (String(args[0]).includes("connect loop") || warn(...args));

const system = await startSystem(log);
const data: FaultRow[] = [];
const flows: FlowFaultRow[] = [];
const failed: string[] = [];
/** A scenario that throws is a row that failed, with its error; the others still run. */
async function attempt<T>(name: string, run: () => Promise<T>, into: T[]): Promise<void> {
  log(`${name}…`);
  try {
    into.push(await run());
  } catch (error) {
    failed.push(`${name}: ${(error as Error).message}`);
    log(`${name} failed: ${(error as Error).stack}`);
  }
}
try {
  const flowFaults = new FlowFaults(system, log);
  const first = await flowFaults.bootstrap();
  if (first.code !== 0) throw new Error(`expected the first bootstrap to complete; ${first.all}`);
  const bench = new FaultBench({
    cluster: system.cluster,
    namespace: relayNamespace,
    instance: { ...instanceByName("personal"), release: "relay-faults" },
    checkpointSeconds,
    log,
  });
  await bench.prepare();
  await attempt("S3 outage", () => bench.s3Outage(lengths.outageMs), data);
  // The crash-loop of "S3 at start" last: the kubelet's restart back-off would delay the next crash's restart.
  await attempt("SIGKILL", () => bench.sigkill(), data);
  await attempt("OOM", () => bench.oom("48Mi"), data);
  await attempt("kubelet restart", () => bench.restart("kubelet"), data);
  await attempt("containerd restart", () => bench.restart("containerd"), data);
  await attempt("node power cycle", () => bench.powerCycle(lengths.offMs), data);
  await attempt("S3 at start", () => bench.s3AtStart(lengths.atStartMs), data);
  await bench.readBackAfterRestart();
  await attempt("reconnect storm", () => bench.reconnectStorm(lengths.storm), data);
  await attempt(
    "API server during bootstrap",
    () => flowFaults.bootstrapThroughApiFaults(lengths.downMs, lengths.pauseMs),
    flows,
  );
  await attempt(
    "API server during relay-server:upgrade",
    () => flowFaults.upgradeThroughApiRestart(lengths.downMs),
    flows,
  );
  await attempt("helm-controller killed", () => flowFaults.helmControllerKilled(lengths.helmDownMs), flows);
  await attempt("Git server down", () => flowFaults.gitServerDown(lengths.gitWaitMs), flows);
  await attempt("management cluster unreachable", () => flowFaults.managementUnreachable(), flows);
} finally {
  await system.stop();
}

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
const ms = (n: number) => `${(n / 1000).toFixed(1)} s`;
const yes = (met: boolean) => (met ? "yes" : "**no**");
const lines = [
  "# Reliability: faults on the real node",
  "",
  `Made by \`npm run faults\`${short ? " --short" : ""} on ${new Date().toISOString().slice(0, 10)} in ${Math.round((Date.now() - started) / 60_000)} min: the whole local system (real node, real Flux), server ${versionOfTag(defaultServerTag())} (the chart's default), \`relay.checkpointFreqSeconds\` ${checkpointSeconds}, two official y-sweet clients (\`@y-sweet/client\`, as the Relay plugin) editing one document throughout each data-plane fault, one edit each every 200 ms. Re-run it to refresh this file; \`test/integration/node-faults.test.ts\` asserts the same expectations at short lengths.`,
  "",
  "## The data plane",
  "",
  `"In S3 at the fault": what the server had saved when it died (the newest version of the document S3 listed by then, read back through the server), against every edit made before; an edit may be missing only if the server had held it (passed it on to the other client) for less than one checkpoint plus ${saveMarginMs / 1000} s (the save under way): a checkpoint saves what the server holds, and an edit can take longer than that to reach a server under memory pressure. "Read back": a fresh client reads the document after the Pod restarted (a rollout, with the editing clients gone), against every edit the two clients made. "Without service": the longest time an edit of one client took to reach the other around the fault.`,
  "",
  "| fault | edits made before / during / after | in S3 at the fault | read back after a restart | without service | what the operator saw | expectation | met |",
  "|---|---|---|---|---|---|---|---|",
  ...data.map(
    (r) =>
      `| ${cell(r.fault)} | ${r.made.before} / ${r.made.during} / ${r.made.after} | ${r.inS3 ? `${r.inS3.saved} of ${r.inS3.of} (${r.inS3.when}${r.inS3.saved < r.inS3.of ? `; oldest missing ${ms(r.inS3.oldestLostAgeMs)} old, held by the server ${ms(r.inS3.oldestLostHeldMs)}` : ""})` : "–"} | ${r.readBack.back} of ${r.readBack.of} | ${ms(r.stallMs)} | ${cell(r.operator.join("; "))} | ${cell(r.expectation)} | ${yes(r.met)} |`,
  ),
  "",
  ...data.flatMap((r) => (r.notes.length ? [`- **${r.fault}**: ${r.notes.join("; ")}.`] : [])),
  "",
  "## The control plane and the flows",
  "",
  "| fault | the flow under the fault | re-run | what the operator saw | expectation | met |",
  "|---|---|---|---|---|---|",
  ...flows.map(
    (r) =>
      `| ${cell(r.fault)} | ${cell(r.outcome)} | ${cell(r.rerun)} | ${cell(r.operator.join("; "))} | ${cell(r.expectation)} | ${yes(r.met)} |`,
  ),
  "",
  ...flows.flatMap((r) => (r.notes.length ? [`- **${r.fault}**: ${r.notes.join("; ")}.`] : [])),
  ...(failed.length ? ["", "## Scenarios that did not finish", "", ...failed.map((f) => `- ${cell(f)}`)] : []),
  "",
];
const text = lines.join("\n").replace(/\n{3,}/g, "\n\n");
console.log(text);
if (!short) writeFileSync(join(repoRoot, "docs/reliability.md"), text);
process.exit(failed.length ? 1 : 0);
