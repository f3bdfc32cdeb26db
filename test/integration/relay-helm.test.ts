// Direct Helm deploys: upgrade --no-wait installs an instance into a real local
// API server with the real helm binary, and diff then reports no change.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { type ApiServer, type ApiServers, client, startApiServers } from "../platform/index.ts";
import { childProcesses, runFlow, runMoon, startFlow } from "../support/flows.ts";
import { tempDir } from "../support/files.ts";
import { releaseHistory } from "../../scripts/lib/relay-release.ts";
import { runTool, toolPath } from "../../scripts/lib/tools.ts";
import { waitFor } from "../support/wait.ts";

let cp: ApiServers;
let server: ApiServer;
const onTenant = () => ["--tenant-kubeconfig", server.kubeconfigPath];

/** Flows a test started in the background: a failed test must not leave one working on a release the next test uses. */
const started: ChildProcess[] = [];
function start(args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof startFlow> {
  const flow = startFlow("relay-helm", args, env);
  started.push(flow.process);
  return flow;
}
afterEach(async () => {
  for (const flow of started.splice(0)) {
    if (flow.exitCode !== null || flow.signalCode !== null) continue;
    const exited = new Promise((r) => flow.once("exit", r));
    // A second signal makes the flow kill its helm at once.
    flow.kill("SIGTERM");
    setTimeout(() => flow.kill("SIGTERM"), 1000).unref();
    await exited;
  }
});

/** The pid of the helm a flow runs, once it runs. */
async function helmOf(flow: ChildProcess): Promise<number> {
  const [helm] = await waitFor("the flow to start helm", 60_000, async () => {
    // The helm the flows run (the pinned one, or TOOLS_HELM's helm 4); the kubeconfig's
    // watchdog has "relay-helm" in its command line, not this path.
    const found = childProcesses(flow.pid!, toolPath("helm"));
    return found.length > 0 ? found : undefined;
  });
  return helm!;
}

/** relay-family deployed at a revision (`installed`), or not installed at all, whatever an earlier test left. */
async function familyRelease(installed: boolean): Promise<void> {
  await runTool("helm", [
    "uninstall",
    "relay-family",
    "--namespace",
    relayNamespace,
    "--ignore-not-found",
    "--kubeconfig",
    server.kubeconfigPath,
  ]);
  if (installed)
    expect((await runFlow("relay-helm", ["upgrade", "--instance", "family", "--no-wait", ...onTenant()])).code).toBe(0);
}

const pendingNow = async (release: string) =>
  ((await releaseHistory(client(server), release))[0]?.status ?? "").startsWith("pending-") ? true : undefined;

/** Resolves once the flow's stderr has a line matching `pattern`. */
function stderrLine(flow: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    flow.stderr!.on("data", (c: Buffer) => {
      text += c.toString();
      const line = text.split("\n").find((l) => pattern.test(l));
      if (line) resolve(line);
    });
  });
}

beforeAll(async () => {
  cp = await startApiServers([{ name: tenant.app, crds: [] }]);
  server = cp.servers[0]!;
});
afterAll(async () => cp?.stop());

describe("relay-server direct Helm deploys", () => {
  it("renders an instance with its values file", async () => {
    const result = await runMoon(["run", "relay-server:template", "--", "--instance", "family"]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/kind: Deployment/);
    expect(result.stdout).toMatch(/https:\/\/family\.relay\.enigma\.vgijssel\.nl/);
  });

  it("diff exits 1 (as kubectl diff) and shows what an install would create before there is one", async () => {
    const result = await runFlow("relay-helm", ["diff", "--instance", "personal", ...onTenant()]);
    expect(result.code, result.all).toBe(1);
    expect(result.stdout).toMatch(/Deployment relay\/relay-personal[-\w]*: would be created/);
  });

  it("changes nothing with --dry-run", async () => {
    const result = await runFlow("relay-helm", [
      "upgrade",
      "--instance",
      "personal",
      "--no-wait",
      "--dry-run",
      ...onTenant(),
    ]);
    expect(result.code, result.all).toBe(0);
    expect(
      await client(server).get({ apiVersion: "v1", kind: "Namespace", metadata: { name: relayNamespace } }),
    ).toBeUndefined();
  });

  it("installs with upgrade --no-wait through moon, where the HelmRelease would, and diff then reports no change", async () => {
    const up = await runMoon([
      "run",
      "relay-server:upgrade",
      "--",
      "--instance",
      "personal",
      "--no-wait",
      ...onTenant(),
    ]);
    expect(up.code, up.all).toBe(0);
    expect(up.all).toMatch(/revision 1, deployed/);
    const releases = await client(server).list("v1", "Secret", relayNamespace, "owner=helm,name=relay-personal");
    expect(releases).toHaveLength(1);
    const diff = await runFlow("relay-helm", ["diff", "--instance", "personal", ...onTenant()]);
    expect(diff.code, diff.all).toBe(0);
    expect(diff.stdout).toMatch(/Compare relay-personal with cluster-docs-infra-prod: no change/);
  });

  it("reports a drifted object in diff", async () => {
    const c = client(server);
    const [svc] = await c.list("v1", "Service", relayNamespace, "app.kubernetes.io/instance=relay-personal");
    await c.request(
      "PATCH",
      `/api/v1/namespaces/${relayNamespace}/services/${svc!.metadata!.name}`,
      { spec: { ports: [{ name: "http", port: 9999, targetPort: "http", protocol: "TCP" }] } },
      "application/merge-patch+json",
    );
    const diff = await runFlow("relay-helm", ["diff", "--instance", "personal", ...onTenant()]);
    expect(diff.code, diff.all).toBe(1);
    expect(diff.stdout).toMatch(/Service relay\/\S+: would change/);
    expect(diff.stdout).toMatch(/-\s+port: 9999/);
  });

  it.each(["SIGINT", "SIGHUP"] as const)(
    "on %s (Ctrl-C, a closed terminal) lets helm undo the install, removes the temporary kubeconfig, says so and exits 130",
    async (signal) => {
      const tmp = tempDir("relay-helm-interrupt-");
      await familyRelease(false);
      // helm waits for a Pod that never runs here (no controllers): the interrupt comes while it waits.
      const flow = start(["upgrade", "--instance", "family", "--timeout", "5m", ...onTenant()], { TMPDIR: tmp });
      const helm = await helmOf(flow.process);
      expect(readdirSync(tmp)).toHaveLength(1);
      await waitFor("helm to record the install as pending", 60_000, () => pendingNow("relay-family"));
      flow.process.kill(signal);
      const result = await flow.result;
      expect(result.code, result.all).toBe(130);
      const lines = result.stderr.trim().split("\n");
      expect(lines, result.stderr).toHaveLength(2);
      // At once: what helm does now, and for how long.
      expect(lines[0]).toBe(
        `${signal}: helm stops the upgrade of relay-family and undoes it (--atomic: back to its last deployed revision, or uninstalled if this was its first install); this can take up to 5m (--timeout); waiting for it to finish. A second Ctrl-C kills helm at once, which can leave the release pending`,
      );
      expect(lines[1]).toMatch(
        new RegExp(
          `^✖ interrupted by ${signal} during "helm upgrade --install relay-family .*"; stopped helm and waited for it to exit \\(relay-family has no revision\\), removed the temporary kubeconfig \\S+; the rest was not done; run the same command again to complete the job$`,
        ),
      );
      expect(readdirSync(tmp)).toEqual([]);
      expect(existsSync(`/proc/${helm}`)).toBe(false);
      // helm finished its own undo before the flow exited: a re-run does not find an operation in progress.
      const again = await runFlow("relay-helm", ["upgrade", "--instance", "family", "--no-wait", ...onTenant()]);
      expect(again.code, again.all).toBe(0);
    },
    180_000,
  );

  it("on Ctrl-C says at once that helm rolls the upgrade back and lets the rollback run to its end, past a minute", async () => {
    // The rollback waits for the deployed revision's Pods, which never run here, up to --timeout.
    await familyRelease(true);
    const flow = start(["upgrade", "--instance", "family", "--timeout", "70s", ...onTenant()]);
    const helm = await helmOf(flow.process);
    await waitFor("helm to record the upgrade as pending", 60_000, () => pendingNow("relay-family"));
    const notice = stderrLine(flow.process, /^SIGINT: helm stops the upgrade/);
    flow.process.kill("SIGINT");
    expect(await notice).toContain("this can take up to 70s (--timeout); waiting for it to finish");
    // Told while helm still works on the rollback.
    expect(existsSync(`/proc/${helm}`)).toBe(true);
    const result = await flow.result;
    expect(result.code, result.all).toBe(130);
    // Not killed after a grace period: helm ended the rollback itself, so nothing is left pending.
    expect(result.stderr).not.toContain("killed");
    const [latest] = await releaseHistory(client(server), "relay-family");
    expect(latest!.status).not.toMatch(/^pending-/);
    expect(result.stderr).toContain(
      `stopped helm and waited for it to exit (relay-family is at revision ${latest!.revision}, ${latest!.status})`,
    );
    const again = await runFlow("relay-helm", ["upgrade", "--instance", "family", "--no-wait", ...onTenant()]);
    expect(again.code, again.all).toBe(0);
  }, 300_000);

  it("killed with -9, leaves no kubeconfig on disk; the release helm left pending is named at the next run with the way out, which --recover takes", async () => {
    const tmp = tempDir("relay-helm-kill-");
    await familyRelease(true);
    const flow = start(["upgrade", "--instance", "family", "--timeout", "5m", ...onTenant()], { TMPDIR: tmp });
    const helm = await helmOf(flow.process);
    const deployed = (await releaseHistory(client(server), "relay-family")).find((r) => r.status === "deployed")!;
    await waitFor("helm to record the upgrade as pending", 60_000, () => pendingNow("relay-family"));
    expect(readdirSync(tmp)).toHaveLength(1);
    flow.process.kill("SIGKILL");
    await flow.result;
    // The watchdog saw the flow's end of its pipe close and removed the folder with the tenant admin token.
    await waitFor("the watchdog to remove the temporary kubeconfig", 30_000, async () =>
      readdirSync(tmp).length === 0 ? true : undefined,
    );
    // helm, in a session of its own, is left to finish; killed too (as a lost machine would), it leaves the release pending.
    process.kill(helm, "SIGKILL");
    await waitFor("helm to end", 30_000, async () => (existsSync(`/proc/${helm}`) ? undefined : true));
    const [pending] = await releaseHistory(client(server), "relay-family");
    expect(pending!.status).toBe("pending-upgrade");

    const refused = await runFlow("relay-helm", ["upgrade", "--instance", "family", "--no-wait", ...onTenant()]);
    expect(refused.code, refused.all).toBe(3);
    expect(refused.stderr).toBe(
      `✖ expected release relay-family in ${tenant.app} to have no helm operation under way; its revision ${pending!.revision} is pending-upgrade: a helm that worked on it was interrupted, or one is running now; ` +
        `once no relay-server:upgrade or helm runs against it, run the same command with --recover, which rolls relay-family back to revision ${deployed.revision}, its last deployed one (helm rollback) and then upgrades (runbook: "A release left pending")\n`,
    );
    const recovered = await runFlow("relay-helm", [
      "upgrade",
      "--instance",
      "family",
      "--no-wait",
      "--recover",
      ...onTenant(),
    ]);
    expect(recovered.code, recovered.all).toBe(0);
    expect(recovered.stdout).toContain(
      `--recover: roll relay-family back to revision ${deployed.revision} (revision ${pending!.revision} is pending-upgrade)`,
    );
    expect((await releaseHistory(client(server), "relay-family"))[0]!.status).toBe("deployed");
    const again = await runFlow("relay-helm", ["upgrade", "--instance", "family", "--no-wait", ...onTenant()]);
    expect(again.code, again.all).toBe(0);
  }, 180_000);

  it("renders --values on top of the instance's values, and names the schema's reason when they are refused", async () => {
    const dir = tempDir("relay-helm-values-");
    writeFileSync(join(dir, "tag.yaml"), "image:\n  tag: v9.9.9\n");
    writeFileSync(join(dir, "two.yaml"), "replicaCount: 2\n");
    const tagged = await runFlow("relay-helm", ["template", "--instance", "family", "--values", join(dir, "tag.yaml")]);
    expect(tagged.code, tagged.all).toBe(0);
    expect(tagged.stdout).toMatch(/image: "?docker\.system3\.md\/relay-server:v9\.9\.9"?/);
    expect(tagged.stdout).toMatch(/https:\/\/family\.relay\.enigma\.vgijssel\.nl/);
    const refused = await runFlow("relay-helm", [
      "template",
      "--instance",
      "family",
      "--values",
      join(dir, "two.yaml"),
    ]);
    expect(refused.code).toBe(3);
    // helm's reason follows its "in the following chart(s):" on the same line.
    expect(refused.stderr).toMatch(/in the following chart\(s\): relay-server: .*replicaCount/);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("refuses an unknown instance", async () => {
    const result = await runFlow("relay-helm", ["template", "--instance", "work"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `expected an instance name (personal, family); got "work"; pass --instance personal`,
    );
  });
});
