// Proves the local control plane is a real Kubernetes API: server-side apply,
// CRD validation, Pod Security admission, and isolation between servers.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  ApiException,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { type ApiServers, fluxCrds, startApiServers } from "../platform/index.ts";

let cp: ApiServers;

beforeAll(async () => {
  cp = await startApiServers([{ name: "first" }, { name: "second", crds: fluxCrds }]);
});
afterAll(async () => cp?.stop());

const apply = (server: number, obj: KubernetesObject) =>
  KubernetesObjectApi.makeApiClient(cp.servers[server]!.kubeConfig).patch(
    obj,
    undefined,
    undefined,
    "harness-test",
    true,
    PatchStrategy.ServerSideApply,
  );

const gitRepository = (spec: Record<string, unknown>) => ({
  apiVersion: "source.toolkit.fluxcd.io/v1",
  kind: "GitRepository",
  metadata: { name: "setup", namespace: "flux-system" },
  spec,
});

function statusMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message: string }).message;
  } catch {
    return body;
  }
}

async function rejection(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiException) return { code: error.code, message: statusMessage(String(error.body)) };
    throw error;
  }
  throw new Error("expected the API server to reject the request; it accepted it");
}

describe("local control plane", () => {
  it("applies a Namespace and a GitRepository by server-side apply and reads them back", async () => {
    await apply(0, { apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } });
    await apply(
      0,
      gitRepository({ url: "https://github.com/vgijssel/setup", interval: "5m", ref: { branch: "main" } }),
    );
    const client = KubernetesObjectApi.makeApiClient(cp.servers[0]!.kubeConfig);
    const read = (await client.read({
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: "setup", namespace: "flux-system" },
    })) as KubernetesObject & { spec: { url: string } };
    expect(read.spec.url).toBe("https://github.com/vgijssel/setup");
    expect(read.metadata?.managedFields?.[0]?.manager).toBe("harness-test");
  });

  it("rejects a GitRepository without spec.url by the CRD's schema", async () => {
    const { code, message } = await rejection(apply(0, gitRepository({ interval: "5m" })));
    expect(code).toBe(422);
    expect(message).toMatch(/spec\.url: Required value/);
  });

  it("rejects a number for spec.interval by the CRD's schema", async () => {
    const client = KubernetesObjectApi.makeApiClient(cp.servers[0]!.kubeConfig);
    const { code, message } = await rejection(
      client.create(gitRepository({ url: "https://example.org/x", interval: 5 })),
    );
    expect(code).toBe(422);
    expect(message).toMatch(/spec\.interval: Invalid value: "integer"/);
  });

  it("rejects a privileged Pod in a namespace that enforces the restricted profile", async () => {
    await apply(0, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "restricted", labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
    });
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "root", namespace: "restricted" },
      spec: { containers: [{ name: "c", image: "busybox:1.36.1", securityContext: { privileged: true } }] },
    };
    const { code, message } = await rejection(apply(0, pod));
    expect(code).toBe(403);
    expect(message).toMatch(/violates PodSecurity "restricted:latest": privileged/);
  });

  it("keeps the servers independent: the second sees none of the first's objects", async () => {
    const core = cp.servers[1]!.kubeConfig.makeApiClient(CoreV1Api);
    const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
    expect(names).toContain("default");
    expect(names).not.toContain("flux-system");
  });

  it("installs only the CRDs a server asks for", async () => {
    const item = {
      apiVersion: "onepassword.com/v1",
      kind: "OnePasswordItem",
      metadata: { name: "x", namespace: "default" },
      spec: { itemPath: "vaults/v/items/i" },
    };
    const { code } = await rejection(apply(1, item));
    expect(code).toBe(404);
    await apply(0, item);
  });

  it("leaves no process and no state directory when the test process is killed", async () => {
    const script = join(repoRoot, "test/platform/programs/start-api-server-and-wait.ts");
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
    const kubeconfigPath = await new Promise<string>((resolve) =>
      child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())),
    );
    expect(existsSync(kubeconfigPath)).toBe(true);
    child.kill("SIGKILL");
    await vi.waitFor(() => expect(existsSync(kubeconfigPath)).toBe(false), { timeout: 10_000 });
  });

  it("removes a stopped server's state directory", async () => {
    const extra = await startApiServers([{ name: "short-lived" }]);
    const path = extra.servers[0]!.kubeconfigPath;
    expect(existsSync(path)).toBe(true);
    await extra.stop();
    expect(existsSync(path)).toBe(false);
  });
});
