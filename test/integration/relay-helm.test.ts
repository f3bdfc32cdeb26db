// Direct Helm deploys: upgrade --no-wait installs an instance into a real local
// API server with the real helm binary, and diff then reports no change.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { type ApiServer, type ApiServers, client, startApiServers } from "../platform/index.ts";
import { childProcesses, runFlow, runMoon, startFlow } from "../support/flows.ts";
import { tempDir } from "../support/files.ts";

let cp: ApiServers;
let server: ApiServer;
const onTenant = () => ["--tenant-kubeconfig", server.kubeconfigPath];

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
    const result = await runFlow("relay-helm", ["upgrade", "--instance", "personal", "--no-wait", "--dry-run", ...onTenant()]);
    expect(result.code, result.all).toBe(0);
    expect(await client(server).get({ apiVersion: "v1", kind: "Namespace", metadata: { name: relayNamespace } })).toBeUndefined();
  });

  it("installs with upgrade --no-wait through moon, where the HelmRelease would, and diff then reports no change", async () => {
    const up = await runMoon(["run", "relay-server:upgrade", "--", "--instance", "personal", "--no-wait", ...onTenant()]);
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
    await c.request("PATCH", `/api/v1/namespaces/${relayNamespace}/services/${svc!.metadata!.name}`, { spec: { ports: [{ name: "http", port: 9999, targetPort: "http", protocol: "TCP" }] } }, "application/merge-patch+json");
    const diff = await runFlow("relay-helm", ["diff", "--instance", "personal", ...onTenant()]);
    expect(diff.code, diff.all).toBe(1);
    expect(diff.stdout).toMatch(/Service relay\/\S+: would change/);
    expect(diff.stdout).toMatch(/-\s+port: 9999/);
  });

  it("on Ctrl-C stops helm and waits for it, removes the temporary kubeconfig, says so in one line and exits 130", async () => {
    const tmp = tempDir("relay-helm-interrupt-");
    // helm waits for a Pod that never runs here (no controllers): the interrupt comes while it waits.
    const flow = startFlow("relay-helm", ["upgrade", "--instance", "family", "--timeout", "5m", ...onTenant()], { TMPDIR: tmp });
    const pid = flow.process.pid!;
    let helm: number[] = [];
    for (let i = 0; i < 300 && helm.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      helm = childProcesses(pid, "helm");
    }
    expect(helm).toHaveLength(1);
    expect(readdirSync(tmp)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1500));
    flow.process.kill("SIGINT");
    const result = await flow.result;
    expect(result.code, result.all).toBe(130);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^✖ interrupted by SIGINT during "helm upgrade --install relay-family .*"; stopped helm and waited for it to exit, removed the temporary kubeconfig \S+; the rest was not done; run the same command again to complete the job$/);
    expect(readdirSync(tmp)).toEqual([]);
    expect(existsSync(`/proc/${helm[0]}`)).toBe(false);
    // helm finished its own rollback before the flow exited: a re-run does not find an operation in progress.
    const again = await runFlow("relay-helm", ["upgrade", "--instance", "family", "--no-wait", ...onTenant()]);
    expect(again.code, again.all).toBe(0);
  });

  it("renders --values on top of the instance's values, and names the schema's reason when they are refused", async () => {
    const dir = tempDir("relay-helm-values-");
    writeFileSync(join(dir, "tag.yaml"), "image:\n  tag: v9.9.9\n");
    writeFileSync(join(dir, "two.yaml"), "replicaCount: 2\n");
    const tagged = await runFlow("relay-helm", ["template", "--instance", "family", "--values", join(dir, "tag.yaml")]);
    expect(tagged.code, tagged.all).toBe(0);
    expect(tagged.stdout).toMatch(/image: "?docker\.system3\.md\/relay-server:v9\.9\.9"?/);
    expect(tagged.stdout).toMatch(/https:\/\/family\.relay\.enigma\.vgijssel\.nl/);
    const refused = await runFlow("relay-helm", ["template", "--instance", "family", "--values", join(dir, "two.yaml")]);
    expect(refused.code).toBe(3);
    // helm's reason follows its "in the following chart(s):" on the same line.
    expect(refused.stderr).toMatch(/in the following chart\(s\): relay-server: .*replicaCount/);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("refuses an unknown instance", async () => {
    const result = await runFlow("relay-helm", ["template", "--instance", "work"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/expected an instance name \(personal or family\); got "work"/);
  });
});
