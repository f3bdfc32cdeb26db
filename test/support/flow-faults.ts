// The control-plane faults, met by the operator's flows on the whole local system
// (real Flux on the real node): the tenant's API server restarted or paused during
// bootstrap and relay-server:upgrade, helm-controller killed mid-upgrade, the Git
// server down during a reconcile, the management cluster unreachable during
// sync-ingress. Each returns what the flow did, what it said and what a re-run did;
// the fault test asserts them, `npm run faults` writes them to docs/reliability.md.
import type { ChildProcess } from "node:child_process";
import { copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Patch } from "../../scripts/lib/apps.ts";
import { type Live, readyCondition } from "../../scripts/lib/kube.ts";
import { instanceByName } from "../../scripts/lib/instances.ts";
import { management, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { runTool } from "../../scripts/lib/tools.ts";
import { client, type LocalSystem, localNofile, localPatches } from "../platform/index.ts";
import { type FlowResult, runFlow, startFlow, writeOnePasswordSecrets } from "./flows.ts";
import { waitFor } from "./wait.ts";

/** One control-plane fault: what the flow did and said, and what a re-run did. */
export interface FlowFaultRow {
  fault: string;
  expectation: string;
  /** The flow under the fault: exit code, time, its last line. */
  outcome: string;
  /** The same flow run again after the fault. */
  rerun: string;
  /** What the operator saw: the flow's lines that matter, verify's, helm's. */
  operator: string[];
  met: boolean;
  notes: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const personal = instanceByName("personal");

/** The flow's error line, or its last line. */
function lastLine(result: FlowResult): string {
  const lines = (result.stderr.trim() || result.stdout.trim()).split("\n");
  return lines[lines.length - 1] ?? "";
}

function describe(result: FlowResult, ms: number): string {
  return `exit ${result.code} after ${seconds(ms)}: ${lastLine(result)}`;
}

/** A running flow's output so far, and a wait for a line in it (its steps print "❯ <title>" as they start). */
function watchOutput(child: ChildProcess): { until(pattern: RegExp, timeoutMs?: number): Promise<void> } {
  let text = "";
  child.stdout?.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return {
    until: async (pattern, timeoutMs = 120_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline)
          throw new Error(
            `expected the flow to print ${pattern} within ${timeoutMs / 1000} s; it printed: ${text.slice(-500)}`,
          );
        await sleep(50);
      }
    },
  };
}

export class FlowFaults {
  constructor(
    private readonly system: LocalSystem,
    private readonly log: (line: string) => void = () => {},
  ) {}

  private bootstrapArgs(patchesFile: string, timeout: string): string[] {
    const s = this.system;
    return [
      "--app",
      "docs-prod",
      "--tenant-kubeconfig",
      s.tenant.kubeconfigPath,
      "--skip-secrets",
      "--git-url",
      s.git.url,
      "--patches",
      patchesFile,
      "--timeout",
      timeout,
    ];
  }

  /** A patches file: the machine's own patches and `extra`. */
  private patches(name: string, extra: Patch[] = []): string {
    const file = join(this.system.dir, `${name}.yaml`);
    writeFileSync(file, stringify([...localPatches(this.system.cluster.node.s3.podUrl), ...extra]));
    return file;
  }

  /** A change for the apply to write: an annotation on the relay namespace. */
  private change(name: string): Patch {
    return {
      patch: stringify({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: relayNamespace, annotations: { [`example.com/${name}`]: String(Date.now()) } },
      }),
    };
  }

  private async helmRelease(name: string): Promise<Live | undefined> {
    return (await client(this.system.tenant).get({
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { namespace: tenant.fluxNamespace, name },
    })) as Live | undefined;
  }

  /** `helm status` of a release in the tenant, in one word (deployed, pending-upgrade, failed). */
  private async helmStatus(release: string): Promise<string> {
    const out = await runTool("helm", [
      "--kubeconfig",
      this.system.tenant.kubeconfigPath,
      "status",
      release,
      "-n",
      relayNamespace,
      "-o",
      "json",
    ]);
    return (JSON.parse(out) as { info: { status: string } }).info.status;
  }

  /**
   * The first bootstrap: the two Secrets Connect and the operator read, as an operator
   * writes them first (the relays' S3 credentials come from the operator), then Flux
   * installs everything.
   */
  async bootstrap(): Promise<FlowResult> {
    const secrets = await writeOnePasswordSecrets(this.system);
    if (secrets.code !== 0) return secrets;
    return runFlow("bootstrap", this.bootstrapArgs(this.system.patchesFile, "5m"));
  }

  /**
   * 8a. bootstrap while the tenant's API server crashes and restarts (down `downMs`)
   * as the apply starts, and is paused (SIGSTOP) for `pauseMs` during the wait.
   */
  async bootstrapThroughApiFaults(downMs: number, pauseMs: number): Promise<FlowFaultRow> {
    const row: FlowFaultRow = {
      fault: `tenant API server restarted (down ${seconds(downMs)}) as bootstrap applies, then paused ${seconds(pauseMs)} while it waits`,
      expectation:
        "bootstrap waits the restart and the pause out (requests retried with backoff for up to a minute) and completes; a re-run completes",
      outcome: "",
      rerun: "",
      operator: [],
      met: false,
      notes: [],
    };
    const file = this.patches("api-faults", [this.change("api-faults")]);
    const started = Date.now();
    const run = startFlow("bootstrap", this.bootstrapArgs(file, "5m"));
    const output = watchOutput(run.process);
    await output.until(/❯ Apply the objects to/);
    await this.system.tenant.restart(downMs);
    await output.until(/❯ Wait for Kustomization/);
    this.system.tenant.pause();
    await sleep(pauseMs);
    this.system.tenant.resume();
    const result = await run.result;
    row.outcome = describe(result, Date.now() - started);
    row.operator.push(...result.stdout.split("\n").filter((l) => /^✔ Apply|Ready:/.test(l)));
    const again = await runFlow("bootstrap", this.bootstrapArgs(file, "5m"));
    row.rerun = `exit ${again.code}: ${again.stdout.split("\n").find((l) => l.startsWith("✔ Apply")) ?? lastLine(again)}`;
    row.met = result.code === 0 && again.code === 0;
    return row;
  }

  /**
   * 8b. relay-server:upgrade while the tenant's API server crashes and restarts (down
   * `downMs`) during helm's wait. Flux's HelmRelease is suspended meanwhile, as an
   * operator does before upgrading by hand.
   */
  async upgradeThroughApiRestart(downMs: number): Promise<FlowFaultRow> {
    const row: FlowFaultRow = {
      fault: `tenant API server restarted (down ${seconds(downMs)}) while relay-server:upgrade waits for helm`,
      expectation:
        "the upgrade completes, or fails naming the cluster and helm's error; a re-run completes and the release is deployed",
      outcome: "",
      rerun: "",
      operator: [],
      met: false,
      notes: [],
    };
    const t = client(this.system.tenant);
    const hr = await t.path("helm.toolkit.fluxcd.io/v2", "HelmRelease", tenant.fluxNamespace, personal.release);
    await t.request("PATCH", hr, { spec: { suspend: true } }, "application/merge-patch+json");
    const values = join(this.system.dir, "upgrade-values.yaml");
    const args = (stamp: string) => {
      writeFileSync(
        values,
        stringify({
          storage: { s3: { endpoint: this.system.cluster.node.s3.podUrl } },
          ulimits: { nofile: localNofile },
          podAnnotations: { "example.com/upgrade": stamp },
        }),
      );
      return [
        "upgrade",
        "--instance",
        "personal",
        "--values",
        values,
        "--tenant-kubeconfig",
        this.system.tenant.kubeconfigPath,
        "--timeout",
        "4m",
      ];
    };
    try {
      const started = Date.now();
      const run = startFlow("relay-helm", args(String(Date.now())));
      await watchOutput(run.process).until(/❯ helm upgrade --install/);
      // helm has applied the new Deployment and waits for its Pod (the old one stops first).
      await sleep(3000);
      await this.system.tenant.restart(downMs);
      const result = await run.result;
      row.outcome = describe(result, Date.now() - started);
      row.operator.push(`helm status ${personal.release}: ${await this.helmStatus(personal.release)}`);
      const again = await runFlow("relay-helm", args(String(Date.now())));
      row.rerun = describe(again, 0).replace(" after 0.0 s", "");
      const status = await this.helmStatus(personal.release);
      row.operator.push(`after the re-run: helm status ${status}`);
      row.met =
        again.code === 0 && status === "deployed" && (result.code === 0 || /cluster-docs-infra-prod/.test(result.all));
    } finally {
      await t.request("PATCH", hr, { spec: { suspend: false } }, "application/merge-patch+json");
    }
    return row;
  }

  /**
   * 9. helm-controller killed while it upgrades relay-personal (a change committed,
   * bootstrap --no-wait), held down `downMs`, then started again as its Deployment would.
   */
  async helmControllerKilled(downMs: number): Promise<FlowFaultRow> {
    const row: FlowFaultRow = {
      fault: `helm-controller killed during an upgrade of relay-personal and down ${seconds(downMs)}`,
      expectation:
        "bootstrap's wait and verify name the HelmRelease's state while it is down; once it runs again the release does not stay pending-upgrade and bootstrap completes (the runbook's recovery)",
      outcome: "",
      rerun: "",
      operator: [],
      met: false,
      notes: [],
    };
    const values: Patch = {
      patch: stringify({
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: { name: personal.release },
        spec: { values: { podAnnotations: { "example.com/helm-controller-killed": String(Date.now()) } } },
      }),
    };
    const file = this.patches("helm-controller-killed", [values]);
    const applied = await runFlow("bootstrap", [...this.bootstrapArgs(file, "1m"), "--no-wait"]);
    if (applied.code !== 0) throw new Error(`expected bootstrap --no-wait to apply the change; ${applied.all}`);
    // As `flux reconcile helmrelease`: now, not at the next interval.
    const t = client(this.system.tenant);
    await t.request(
      "PATCH",
      await t.path("helm.toolkit.fluxcd.io/v2", "HelmRelease", tenant.fluxNamespace, personal.release),
      { metadata: { annotations: { "reconcile.fluxcd.io/requestedAt": new Date().toISOString() } } },
      "application/merge-patch+json",
    );
    await waitFor("helm-controller to start the upgrade (release pending-upgrade)", 120_000, async () =>
      (await this.helmStatus(personal.release)) === "pending-upgrade" ? true : undefined,
    );
    await this.system.flux.kill("helm-controller");
    const killed = Date.now();
    row.operator.push(`helm status ${personal.release} after the kill: ${await this.helmStatus(personal.release)}`);
    const waitMs = Math.max(10_000, downMs - 10_000);
    const during = await runFlow("bootstrap", this.bootstrapArgs(file, `${Math.round(waitMs / 1000)}s`));
    row.outcome = `bootstrap while it is down: ${describe(during, waitMs)}`;
    const verify = await runFlow("verify", [
      "--only",
      "tenant",
      "--tenant-kubeconfig",
      this.system.tenant.kubeconfigPath,
    ]);
    row.operator.push(
      ...verify.stdout.split("\n").filter((l) => l.includes(`HelmRelease flux-system/${personal.release}`)),
    );
    await sleep(Math.max(0, killed + downMs - Date.now()));
    await this.system.flux.start("helm-controller");
    const started = Date.now();
    const again = await runFlow("bootstrap", this.bootstrapArgs(file, "5m"));
    row.rerun = describe(again, Date.now() - started);
    const status = await this.helmStatus(personal.release);
    const history = await runTool("helm", [
      "--kubeconfig",
      this.system.tenant.kubeconfigPath,
      "history",
      personal.release,
      "-n",
      relayNamespace,
      "--max",
      "3",
      "-o",
      "json",
    ]);
    row.operator.push(
      `helm status ${personal.release} after helm-controller started again: ${status}; last revisions: ${(JSON.parse(history) as { revision: number; status: string; description: string }[]).map((h) => `${h.revision} ${h.status} (${h.description})`).join("; ")}`,
    );
    row.met =
      during.code !== 0 &&
      /HelmRelease flux-system\/relay-personal/.test(during.stderr) &&
      again.code === 0 &&
      status === "deployed" &&
      readyCondition(await this.helmRelease(personal.release))?.status === "True";
    return row;
  }

  /** 10. The Git server down while Flux fetches a new commit; back after the failed bootstrap. */
  async gitServerDown(waitMs: number): Promise<FlowFaultRow> {
    const row: FlowFaultRow = {
      fault: "the Git server down while a new commit is to be reconciled",
      expectation:
        "bootstrap's wait fails naming the GitRepository's own message (never Ready on the old revision); once the server is back, bootstrap completes on the new commit",
      outcome: "",
      rerun: "",
      operator: [],
      met: false,
      notes: [],
    };
    const { git } = this.system;
    await git.down();
    let commit = "";
    try {
      commit = await git.publish();
      const during = await runFlow(
        "bootstrap",
        this.bootstrapArgs(this.system.patchesFile, `${Math.round(waitMs / 1000)}s`),
      );
      row.outcome = describe(during, waitMs);
      row.operator.push(
        ...during.stdout
          .split("\n")
          .filter((l) => /waiting: .*GitRepository/.test(l))
          .slice(0, 1),
      );
      row.met = during.code === 3 && /GitRepository flux-system\/setup/.test(during.stderr);
    } finally {
      await git.up();
    }
    const started = Date.now();
    const again = await runFlow("bootstrap", this.bootstrapArgs(this.system.patchesFile, "5m"));
    row.rerun = describe(again, Date.now() - started);
    row.met &&= again.code === 0 && again.stdout.includes(commit);
    return row;
  }

  /** 11. The management cluster unreachable (its API server down) while sync-ingress runs. */
  async managementUnreachable(): Promise<FlowFaultRow> {
    const row: FlowFaultRow = {
      fault: "management cluster unreachable during sync-ingress",
      expectation: "nothing written; one line naming the cluster",
      outcome: "",
      rerun: "",
      operator: [],
      met: false,
      notes: [],
    };
    const file = join(this.system.dir, "ingress-relay.yaml");
    copyFileSync(join(repoRoot, management.ingressFile), file);
    const before = { text: readFileSync(file, "utf8"), mtime: statSync(file).mtimeMs };
    const args = ["--tenant-kubeconfig", this.system.tenant.kubeconfigPath, "--ingress-file", file];
    const env = { KUBECONFIG: this.system.mgmt.kubeconfigPath };
    const down = this.system.mgmt.restart(15_000);
    await sleep(1000);
    const started = Date.now();
    const result = await runFlow("sync-ingress", args, env);
    row.outcome = describe(result, Date.now() - started);
    const unchanged = readFileSync(file, "utf8") === before.text && statSync(file).mtimeMs === before.mtime;
    // listr2 also echoes the failed step's title with the same message ("✖ <step> [FAILED: …]"): the error itself is the other line.
    const errorLines = result.stderr
      .trim()
      .split("\n")
      .filter((l) => !/ \[FAILED: /.test(l));
    row.operator.push(`stderr: ${errorLines.join(" | ")}`, `ingress file ${unchanged ? "unchanged" : "CHANGED"}`);
    await down;
    const again = await runFlow("sync-ingress", args, env);
    row.rerun = describe(again, 0).replace(" after 0.0 s", "");
    row.met =
      result.code === 3 &&
      unchanged &&
      errorLines.length === 1 &&
      errorLines[0]!.includes(management.cluster) &&
      again.code === 0;
    this.log(`sync-ingress with the management cluster down: ${row.outcome}`);
    return row;
  }
}
