// The real Flux controllers (source, kustomize, helm) against a local API server,
// reading this repository's working tree from a local git server: what Flux
// would deploy from this checkout, without a cluster or GitHub. API-only: no Pods.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import type { KubeClient, Manifest } from "../../scripts/lib/kube.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import {
  type ApiServers,
  client,
  fluxControllers,
  type FluxRun,
  type GitServer,
  startApiServers,
  startFlux,
  startGitServer,
} from "../platform/index.ts";

const ns = "flux-system";
const fieldManager = "flux-test";

// Files that exist only in the published commit, never on disk.
const fixture = (configValue: string): Record<string, string> => ({
  "local-flux/app/kustomization.yaml": stringify({
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: ["namespace.yaml", "configmap.yaml"],
  }),
  "local-flux/app/namespace.yaml": stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-demo" } }),
  "local-flux/app/configmap.yaml": stringify({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "demo", namespace: "flux-demo" },
    data: { value: configValue },
  }),
  "local-flux/1password-secrets-values.yaml": stringify({
    items: [{ name: "demo-s3-credentials", itemPath: "vaults/setup-docs-prod/items/demo-s3-credentials" }],
  }),
});

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
type FluxObject = Manifest & {
  status?: { conditions?: Condition[]; artifact?: { revision?: string }; lastAppliedRevision?: string };
};

let planes: ApiServers;
let git: GitServer;
let flux: FluxRun;
let kube: KubeClient;
let commit: string;
const timings: Record<string, number> = {};

/** A process that exists and is not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function ready(obj: FluxObject | undefined): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === "Ready");
}

/** Polls an object until `done` holds, for at most `seconds`; the error shows the last status and the controller logs' tail. */
async function waitFor(
  ref: Manifest,
  done: (obj: FluxObject | undefined) => boolean,
  seconds = 90,
): Promise<FluxObject> {
  const deadline = Date.now() + seconds * 1000;
  let last: FluxObject | undefined;
  while (Date.now() < deadline) {
    last = await kube.get<FluxObject>(ref);
    if (done(last)) return last!;
    await new Promise((r) => setTimeout(r, 250));
  }
  const logs = fluxControllers.map((c) => `--- ${c}\n${flux.log(c).split("\n").slice(-8).join("\n")}`).join("\n");
  throw new Error(
    `expected ${ref.kind} ${ref.metadata.namespace}/${ref.metadata.name} to reach the awaited state within ${seconds} s; its status is ${JSON.stringify(last?.status)}\n${logs}`,
  );
}

const gitRepository = (requestedAt?: string): Manifest => ({
  apiVersion: "source.toolkit.fluxcd.io/v1",
  kind: "GitRepository",
  metadata: {
    name: "setup",
    namespace: ns,
    ...(requestedAt ? { annotations: { "reconcile.fluxcd.io/requestedAt": requestedAt } } : {}),
  },
  spec: { interval: "10m", url: git.url, ref: { branch: "main" }, timeout: "30s" },
});

const helmRelease = (name: string, valuesFiles: string[]): Manifest => ({
  apiVersion: "helm.toolkit.fluxcd.io/v2",
  kind: "HelmRelease",
  metadata: { name, namespace: ns },
  spec: {
    interval: "10m",
    releaseName: name,
    targetNamespace: "flux-helm",
    storageNamespace: "flux-helm",
    install: { createNamespace: true },
    chart: {
      spec: {
        chart: "./libs/1password-secrets",
        reconcileStrategy: "Revision",
        sourceRef: { kind: "GitRepository", name: "setup" },
        valuesFiles,
      },
    },
  },
});

beforeAll(async () => {
  planes = await startApiServers([{ name: "flux-local" }]);
  const server = planes.servers[0]!;
  kube = client(server);
  git = await startGitServer();
  commit = await git.publish(fixture("first"));
  flux = await startFlux(server, (line) => console.log(`[flux] ${line}`));
  await kube.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, { fieldManager });
});

afterAll(async () => {
  console.log(`[flux] time from apply to Ready: ${JSON.stringify(timings)}`);
  await flux?.stop();
  await git?.stop();
  await planes?.stop();
});

describe("Flux against a local API server and the working tree", () => {
  it("makes a GitRepository on the local git server Ready with the published commit", async () => {
    const started = Date.now();
    await kube.apply(gitRepository(), { fieldManager });
    const repo = await waitFor(gitRepository(), (o) => ready(o)?.status === "True");
    timings.GitRepository = Date.now() - started;
    expect(repo.status?.artifact?.revision).toBe(`main@sha1:${commit}`);
  });

  it("applies the objects of a published path with a Kustomization, and a re-published change reaches the cluster", async () => {
    const kustomization: Manifest = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: "local-app", namespace: ns },
      spec: {
        interval: "10m",
        path: "./local-flux/app",
        prune: true,
        sourceRef: { kind: "GitRepository", name: "setup" },
        timeout: "1m",
      },
    };
    const configMap: Manifest = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "demo", namespace: "flux-demo" },
    };
    const started = Date.now();
    await kube.apply(kustomization, { fieldManager });
    const applied = await waitFor(kustomization, (o) => ready(o)?.status === "True");
    timings.Kustomization = Date.now() - started;
    expect(applied.status?.lastAppliedRevision).toBe(`main@sha1:${commit}`);
    expect(((await kube.get(configMap)) as { data?: Record<string, string> } | undefined)?.data).toEqual({
      value: "first",
    });

    const second = await git.publish(fixture("second"));
    await kube.apply(gitRepository(new Date().toISOString()), { fieldManager });
    const reapplied = await waitFor(
      kustomization,
      (o) => o?.status?.lastAppliedRevision === `main@sha1:${second}` && ready(o)?.status === "True",
    );
    expect(reapplied.status?.lastAppliedRevision).toBe(`main@sha1:${second}`);
    expect(((await kube.get(configMap)) as { data?: Record<string, string> } | undefined)?.data).toEqual({
      value: "second",
    });
  });

  it("installs the 1password-secrets chart from the GitRepository with a values file, and the HelmRelease becomes Ready", async () => {
    const release = helmRelease("1password-secrets", ["local-flux/1password-secrets-values.yaml"]);
    const started = Date.now();
    await kube.apply(release, { fieldManager });
    const installed = await waitFor(release, (o) => ready(o)?.status === "True", 120);
    timings.HelmRelease = Date.now() - started;
    expect(ready(installed)?.reason).toBe("InstallSucceeded");
    const item = await kube.get<Manifest & { spec?: { itemPath?: string } }>({
      apiVersion: "onepassword.com/v1",
      kind: "OnePasswordItem",
      metadata: { name: "demo-s3-credentials", namespace: "flux-helm" },
    });
    expect(item?.spec?.itemPath).toBe("vaults/setup-docs-prod/items/demo-s3-credentials");
  });

  it("reports a values file that is not in the repository on the HelmRelease, with Flux's own message", async () => {
    const release = helmRelease("missing-values", ["local-flux/no-such-values.yaml"]);
    const started = Date.now();
    await kube.apply(release, { fieldManager });
    // helm-controller re-checks a HelmChart that is not ready after --requeue-dependency (30 s).
    const failed = await waitFor(
      release,
      (o) => ready(o)?.status === "False" && /no-such-values\.yaml/.test(ready(o)?.message ?? ""),
      120,
    );
    timings["HelmRelease not Ready (missing values file)"] = Date.now() - started;
    expect(ready(failed)?.message).toContain(
      "HelmChart 'flux-system/flux-system-missing-values' is not ready: values files merge error",
    );
    expect(ready(failed)?.message).toContain(
      "no values file found at path '/local-flux/no-such-values.yaml' (reference 'local-flux/no-such-values.yaml')",
    );
  });

  it("keeps each controller's resident memory under 512 MiB", () => {
    const rss = flux.rss();
    console.log(
      `[flux] resident memory (MiB): ${JSON.stringify(Object.fromEntries(Object.entries(rss).map(([c, b]) => [c, Math.round(b / 2 ** 20)])))}`,
    );
    for (const c of fluxControllers) {
      expect(rss[c], c).toBeGreaterThan(0);
      expect(rss[c], c).toBeLessThan(512 * 2 ** 20);
    }
  });

  it("leaves no controller and no state directory when the test process is killed", async () => {
    const script = join(repoRoot, "test/platform/programs/start-flux-and-wait.ts");
    const child = spawn(process.execPath, ["--import", "tsx", script, planes.servers[0]!.kubeconfigPath], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()));
      child.once("exit", (code) =>
        reject(new Error(`expected start-flux-and-wait.ts to print its controllers; it exited with code ${code}`)),
      );
    });
    const { pids, dirs } = JSON.parse(line) as { pids: number[]; dirs: string[] };
    expect(pids.filter(running)).toHaveLength(3);
    expect(dirs.filter((d) => existsSync(d))).toHaveLength(3);
    child.kill("SIGKILL");
    await vi.waitFor(
      () => {
        expect(pids.filter(running)).toEqual([]);
        expect(dirs.filter((d) => existsSync(d))).toEqual([]);
      },
      { timeout: 30_000, interval: 250 },
    );
  });

  it("removes the controllers' state directories when stopped", async () => {
    const dirs = flux.stateDirs;
    const pids = Object.values(flux.pids());
    expect(dirs.filter((d) => existsSync(d))).toHaveLength(3);
    await flux.stop();
    expect(pids.filter(running)).toEqual([]);
    expect(dirs.filter((d) => existsSync(d))).toEqual([]);
  });
});

describe("local git server", () => {
  const run = promisify(execFile);
  const inRepo = (cwd: string, ...args: string[]) =>
    run("git", args, {
      cwd,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@t",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@t",
      },
    });

  it("serves the working tree with uncommitted and untracked files, without ignored ones, and serves a new commit after a change", async () => {
    const dir = mkdtempSync(join(tmpdir(), "git-source-"));
    const clones = mkdtempSync(join(tmpdir(), "git-clones-"));
    let server: GitServer | undefined;
    try {
      await inRepo(dir, "init", "--quiet", "--initial-branch=main");
      writeFileSync(join(dir, ".gitignore"), "secret.txt\n");
      writeFileSync(join(dir, "tracked.txt"), "committed\n");
      await inRepo(dir, "add", "-A");
      await inRepo(dir, "commit", "--quiet", "-m", "first");
      writeFileSync(join(dir, "tracked.txt"), "changed on disk\n");
      mkdirSync(join(dir, "new"));
      writeFileSync(join(dir, "new/untracked.txt"), "untracked\n");
      writeFileSync(join(dir, "secret.txt"), "ignored\n");

      server = await startGitServer({ source: dir });
      const first = await server.publish();
      await inRepo(clones, "clone", "--quiet", "--branch", server.branch, server.url, "one");
      expect((await inRepo(join(clones, "one"), "rev-parse", "HEAD")).stdout.trim()).toBe(first);
      expect(readFileSync(join(clones, "one/tracked.txt"), "utf8")).toBe("changed on disk\n");
      expect(readFileSync(join(clones, "one/new/untracked.txt"), "utf8")).toBe("untracked\n");
      expect(existsSync(join(clones, "one/secret.txt"))).toBe(false);

      writeFileSync(join(dir, "tracked.txt"), "changed again\n");
      const second = await server.publish();
      expect(second).not.toBe(first);
      await inRepo(clones, "clone", "--quiet", "--branch", server.branch, server.url, "two");
      expect(readFileSync(join(clones, "two/tracked.txt"), "utf8")).toBe("changed again\n");
      // The source repository itself is left as it was: same HEAD, nothing staged.
      expect((await inRepo(dir, "log", "--format=%s")).stdout.trim()).toBe("first");
      expect((await inRepo(dir, "diff", "--cached", "--name-only")).stdout.trim()).toBe("");
    } finally {
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
      rmSync(clones, { recursive: true, force: true });
    }
  });
});
