// create-1password-secret and bootstrap end to end against real local API
// servers: a management cluster seeded as Cozystack would, and a tenant cluster.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { management, onePassword, tenant } from "../../scripts/lib/names.ts";
import {
  type ApiServer,
  type ApiServers,
  client,
  readCrd,
  seedCozystack,
  setFluxReady,
  startApiServers,
} from "../platform/index.ts";
import { type FlowResult, runFlow, runMoon, startFlow } from "../support/flows.ts";
import { localSecretsFile, tempDir } from "../support/files.ts";
import { waitFor } from "../support/wait.ts";

const canary = "canary-7f3a9e-never-print-me";
const credentials = JSON.stringify({
  verifier: { salt: canary, localHash: "h" },
  encCredentials: { data: canary },
  version: "2",
  deviceUuid: "d",
  uniqueKey: { k: canary },
});
const token = `${canary}-token`;

let cp: ApiServers;
let mgmt: ApiServer, tenantServer: ApiServer, bare: ApiServer, gone: ApiServer;
let dir: string;
let secretsFile: string;
const outputs: FlowResult[] = [];

async function flow(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<FlowResult> {
  const result = await runFlow(script, args, { KUBECONFIG: mgmt.kubeconfigPath, ...env });
  outputs.push(result);
  return result;
}

const local = () => ["--secrets-from", "local", "--local-secrets", secretsFile];
const onTenant = () => ["--tenant-kubeconfig", tenantServer.kubeconfigPath];

const fluxKinds = [
  ["source.toolkit.fluxcd.io/v1", "GitRepository"],
  ["source.toolkit.fluxcd.io/v1", "HelmRepository"],
  ["kustomize.toolkit.fluxcd.io/v1", "Kustomization"],
  ["helm.toolkit.fluxcd.io/v2", "HelmRelease"],
] as const;

/** Every Namespace, Secret and Flux object with its resourceVersion: any write shows. */
async function snapshot(server: ApiServer): Promise<string> {
  const c = client(server);
  const namespaces = await c.list("v1", "Namespace");
  const secrets = (await Promise.all(namespaces.map((n) => c.list("v1", "Secret", n.metadata!.name)))).flat();
  const flux = (
    await Promise.all(
      fluxKinds.map(([apiVersion, kind]) =>
        c.list(apiVersion, kind, "flux-system").then(
          (items) => items.map((o) => ({ ...o, kind })),
          () => [],
        ),
      ),
    )
  ).flat();
  return JSON.stringify(
    [
      ...namespaces.map((n) => ({ ...n, kind: "Namespace" })),
      ...secrets.map((n) => ({ ...n, kind: "Secret" })),
      ...flux,
    ]
      .map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}@${o.metadata?.resourceVersion}`)
      .sort(),
  );
}

beforeAll(async () => {
  cp = await startApiServers([
    { name: management.cluster },
    { name: tenant.app },
    { name: "no-flux", crds: [] },
    { name: "stopped" },
  ]);
  [mgmt, tenantServer, bare, gone] = cp.servers as [ApiServer, ApiServer, ApiServer, ApiServer];
  dir = tempDir("flows-bootstrap-");
  copyFileSync(gone.kubeconfigPath, join(dir, "gone.kubeconfig"));
  await gone.stop();
  await seedCozystack(mgmt, tenantServer);
  const { namespace, name } = tenant.kubeconfigSecret;
  await client(mgmt).request(
    "PATCH",
    `/api/v1/namespaces/${namespace}/secrets/${name}`,
    { data: { "empty.conf": "" } },
    "application/merge-patch+json",
  );
  writeFileSync(
    join(dir, "refused.kubeconfig"),
    readFileSync(mgmt.kubeconfigPath, "utf8").replace(/token: \S+/, "token: not-the-token"),
  );
  secretsFile = localSecretsFile(dir, {
    [onePassword.credentialsReference]: credentials,
    [onePassword.tokenReference]: token,
    "op://setup-docs-prod/kubeconfig.yaml/kubeconfig.yaml": readFileSync(tenantServer.kubeconfigPath, "utf8"),
  });
});
afterAll(async () => {
  await cp?.stop();
});

describe("create-1password-secret", () => {
  it("changes nothing with --dry-run", async () => {
    const before = await snapshot(tenantServer);
    const result = await flow("create-1password-secret", [...onTenant(), ...local(), "--dry-run"]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/Secret 1password\/1password-credentials created \(namespace 1password is new/);
    expect(await snapshot(tenantServer)).toBe(before);
  });

  it("writes both Connect Secrets, the credentials as base64 of the JSON", async () => {
    const result = await flow("create-1password-secret", [...onTenant(), ...local()]);
    expect(result.code, result.all).toBe(0);
    const c = client(tenantServer);
    const creds = (await c.get({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: "1password", name: "1password-credentials" },
    })) as { data: Record<string, string> };
    const stored = Buffer.from(creds.data["1password-credentials.json"]!, "base64").toString();
    expect(JSON.parse(Buffer.from(stored, "base64").toString())).toEqual(JSON.parse(credentials));
    const tok = (await c.get({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: "1password", name: "1password-operator-token" },
    })) as { data: Record<string, string> };
    expect(Buffer.from(tok.data.token!, "base64").toString()).toBe(token);
  });

  it("reports no change on a second run and keeps the Secrets in place", async () => {
    const before = await snapshot(tenantServer);
    const result = await flow("create-1password-secret", [...onTenant(), ...local()]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/0 created, 0 configured, 3 unchanged/);
    expect(JSON.parse(await snapshot(tenantServer))).toEqual(JSON.parse(before));
  });

  it("runs through its moon task", async () => {
    const result = await runMoon(["run", "docs-prod:create-1password-secret", "--", ...onTenant(), ...local()], {
      KUBECONFIG: mgmt.kubeconfigPath,
    });
    outputs.push(result);
    expect(result.code, result.all).toBe(0);
    expect(result.all).toMatch(/3 unchanged/);
  });

  it.each([
    [
      "a reference that does not resolve",
      ["--token-ref", "op://setup-docs-prod/missing-item/credential"],
      /expected the local secrets file .* to hold op:\/\/setup-docs-prod\/missing-item\/credential; no item matched/,
    ],
    [
      "malformed credentials JSON",
      ["--credentials-ref", "op://setup-docs-prod/bad/json"],
      /to hold the Connect credentials file as JSON; it does not parse/,
    ],
    [
      "an empty token",
      ["--token-ref", "op://setup-docs-prod/empty/token"],
      /expected a non-empty operator token at op:\/\/setup-docs-prod\/empty\/token/,
    ],
  ])("refuses %s with a clear message and changes nothing", async (_name, args, message) => {
    const file = localSecretsFile(tempDir("bad-secrets-"), {
      ...JSON.parse(readFileSync(secretsFile, "utf8")),
      "op://setup-docs-prod/bad/json": `{"verifier": ${canary}`,
      "op://setup-docs-prod/empty/token": "  ",
    });
    const before = await snapshot(tenantServer);
    const result = await flow("create-1password-secret", [
      ...onTenant(),
      "--secrets-from",
      "local",
      "--local-secrets",
      file,
      ...args,
    ]);
    expect(result.code).toBe(3);
    expect(result.all).toMatch(message);
    expect(await snapshot(tenantServer)).toBe(before);
  });
  it.each([
    [
      "not valid JSON, starting with a secret",
      `${canary}", "op://x/y/z": 1}`,
      /expected a JSON object of op:\/\/ references in \S+secrets.json; it is not valid JSON; fix the file \(its content is not shown: it holds secrets\)/,
    ],
    [
      "valid JSON that is not an object (null)",
      "null",
      /in \S+secrets.json; found null; write it as \{ "op:\/\/vault\/item\/field": "value" \}/,
    ],
    ["valid JSON that is not an object (an array)", `["${canary}"]`, /in \S+secrets.json; found an array; write it as/],
    ["valid JSON that is not an object (a number)", "42", /in \S+secrets.json; found a number; write it as/],
  ])(
    "refuses a local secrets file that is %s in one line without its content, and changes nothing",
    async (_name, content, message) => {
      const file = join(tempDir("malformed-secrets-"), "secrets.json");
      writeFileSync(file, content, { mode: 0o600 });
      const before = await snapshot(tenantServer);
      const result = await flow("create-1password-secret", [
        ...onTenant(),
        "--secrets-from",
        "local",
        "--local-secrets",
        file,
      ]);
      expect(result.code).toBe(3);
      // listr2 marks the failed step; runMain's last line is the message itself, on one line.
      expect(result.stderr.trim().split("\n").at(-1)).toMatch(message);
      expect(result.all).not.toContain(canary);
      expect(await snapshot(tenantServer)).toBe(before);
    },
  );
});

describe("bootstrap of apps/docs-prod", () => {
  it("changes nothing in either cluster with --dry-run", async () => {
    const [mBefore, tBefore] = [await snapshot(mgmt), await snapshot(tenantServer)];
    const result = await flow("bootstrap", ["--app", "docs-prod", ...local(), "--dry-run"]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/Kustomization flux-system\/docs-prod created/);
    expect(result.stdout).toMatch(/SKIPPED: dry run/);
    expect([await snapshot(mgmt), await snapshot(tenantServer)]).toEqual([mBefore, tBefore]);
    expect(
      await client(tenantServer).get({
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: { namespace: "flux-system", name: "docs-prod" },
      }),
    ).toBeUndefined();
  });

  it("applies through the Cozystack Secret and waits until Flux reports Ready", async () => {
    const running = flow("bootstrap", ["--app", "docs-prod", ...local(), "--timeout", "60s"]);
    const c = client(tenantServer);
    const ref = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { namespace: "flux-system", name: "docs-prod" },
    };
    while (!(await c.get(ref))) await new Promise((r) => setTimeout(r, 200));
    await setFluxReady(
      tenantServer,
      "Kustomization",
      ref.apiVersion,
      "flux-system",
      "docs-prod",
      true,
      "Applied revision: main@sha1:0123",
    );
    const result = await running;
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(
      /Read the tenant kubeconfig from tenant-root\/kubernetes-cluster-docs-infra-prod-admin-kubeconfig/,
    );
    expect(result.stdout).toMatch(/HelmRelease flux-system\/relay-personal created/);
    // The apply changed something: Flux is asked to reconcile now, as `flux reconcile kustomization --with-source` does, and the output says so.
    expect(result.stdout).toMatch(
      /› asked Flux to reconcile Kustomization flux-system\/docs-prod and GitRepository flux-system\/setup now: wrote the annotation reconcile\.fluxcd\.io\/requestedAt=\S+ on each\n/,
    );
    for (const [apiVersion, kind, name] of [
      ["kustomize.toolkit.fluxcd.io/v1", "Kustomization", "docs-prod"],
      ["source.toolkit.fluxcd.io/v1", "GitRepository", "setup"],
    ]) {
      const live = await c.get({
        apiVersion: apiVersion!,
        kind: kind!,
        metadata: { namespace: "flux-system", name: name! },
      });
      expect(live?.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"], kind).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    expect(result.stdout).toMatch(/Ready: Applied revision: main@sha1:0123/);
  });

  it("--force has every HelmRelease run again, as flux reconcile helmrelease --force does, once kustomize-controller has applied the spec, and waits until helm-controller has handled it", async () => {
    const c = client(tenantServer);
    const ref = (name: string) => ({
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { namespace: "flux-system", name },
    });
    const root = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { namespace: "flux-system", name: "docs-prod" },
    };
    const generation = async () => ((await c.get(root)) as { metadata: { generation: number } }).metadata.generation;
    // kustomize-controller, played, has not yet handled the spec bootstrap applies: its last status is for an earlier generation.
    const played = (ready: boolean, message: string, observed: number) =>
      setFluxReady(tenantServer, root.kind, root.apiVersion, "flux-system", "docs-prod", ready, message, observed);
    await played(false, "Health check failed after 45s (played)", (await generation()) - 1);
    const requestedBefore = (await c.get(root))?.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];
    const running = flow("bootstrap", ["--app", "docs-prod", ...local(), "--force", "--timeout", "60s"]);
    await waitFor("bootstrap to ask Flux to reconcile the root Kustomization", 30_000, async () => {
      const at = (await c.get(root))?.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];
      return at && at !== requestedBefore ? at : undefined;
    });
    // No force before kustomize-controller has applied the spec: helm-controller would run the old values again.
    expect((await c.get(ref("relay-family")))?.metadata.annotations?.["reconcile.fluxcd.io/forceAt"]).toBeUndefined();
    await played(true, "Applied revision: main@sha1:0123", await generation());
    // helm-controller's part, played: once a release's force annotation is there, it reports it handled and the release
    // Ready. The forces come in the order of apps/docs-prod's dependsOn: helm-controller drops a force whose first
    // reconcile waits on a dependency, so a release is forced only once those it depends on have handled theirs.
    const waves = [["1password-operator"], ["1password-secrets"], ["relay-family", "relay-personal"]];
    const forceAt = async (name: string) =>
      (await c.get(ref(name)))?.metadata.annotations?.["reconcile.fluxcd.io/forceAt"];
    let forcedAt: string | undefined;
    for (const [i, wave] of waves.entries()) {
      for (const name of wave)
        forcedAt = await waitFor(`the forceAt annotation on ${name}`, 30_000, () => forceAt(name));
      for (const later of waves.slice(i + 1).flat()) expect(await forceAt(later), later).toBeUndefined();
      for (const name of wave) {
        const live = await c.get(ref(name));
        expect(live?.metadata.annotations?.["reconcile.fluxcd.io/forceAt"], name).toBe(forcedAt);
        expect(live?.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"], name).toBe(forcedAt);
        await setFluxReady(
          tenantServer,
          "HelmRelease",
          "helm.toolkit.fluxcd.io/v2",
          "flux-system",
          name,
          true,
          "Helm upgrade succeeded (played)",
        );
        // The Ready above is still not enough: bootstrap waits for helm-controller to report the force handled.
        await c.patchStatus(ref(name), { lastHandledForceAt: forcedAt, lastHandledReconcileAt: forcedAt });
      }
    }
    const result = await running;
    expect(result.code, result.all).toBe(0);
    const wrote = [
      ...result.stdout.matchAll(
        /wrote reconcile\.fluxcd\.io\/requestedAt and forceAt=\S+ on (.*) \(what flux reconcile helmrelease --force writes\)/g,
      ),
    ].map((m) => m[1]!.split(", ").sort());
    expect(wrote).toEqual(waves);
    expect(result.stdout).toMatch(/kustomize-controller applied generation \d+: Applied revision: main@sha1:0123/);
    for (const name of waves.flat())
      expect(result.stdout).toContain(`HelmRelease ${name}: forced reconcile handled, Ready`);
  });

  it("refuses --force with --no-wait: the force waits for kustomize-controller's apply", async () => {
    const result = await flow("bootstrap", ["--app", "docs-prod", ...local(), "--force", "--no-wait"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/expected --force without --no-wait/);
  });

  // --no-wait: the wait asks Flux to reconcile now (an annotation, as `flux reconcile` writes), which is a write of its own.
  it("reports every object unchanged on the first re-run and its apply writes none (resourceVersions of the Flux objects included)", async () => {
    const before = await snapshot(tenantServer);
    expect(before).toMatch(/HelmRelease\/flux-system\/relay-family@/);
    const result = await flow("bootstrap", ["--app", "docs-prod", ...local(), "--no-wait"]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/ 0 created, 0 configured, \d+ unchanged/);
    expect(await snapshot(tenantServer)).toBe(before);
  });

  it("--json prints one JSON object and nothing else on stdout; the wait's reconcile request is reported as the only write of a run that changed nothing", async () => {
    const before = JSON.parse(await snapshot(tenantServer)) as string[];
    const started = new Date(Math.floor(Date.now() / 1000) * 1000);
    const result = await flow("bootstrap", ["--app", "docs-prod", ...local(), "--timeout", "10s", "--json"]);
    expect(result.code, result.all).toBe(0);
    const report = JSON.parse(result.stdout);
    const requested = ["Kustomization flux-system/docs-prod", "GitRepository flux-system/setup"];
    expect(report).toMatchObject({
      ok: true,
      app: "docs-prod",
      cluster: tenant.app,
      dryRun: false,
      kustomization: { name: "docs-prod", status: "ready", reconcileRequested: requested },
    });
    expect(report.summary).toMatch(/^0 created, 0 configured, \d+ unchanged$/);
    expect(report.objects).toContainEqual({ ref: "HelmRelease flux-system/relay-personal", action: "unchanged" });
    // What changed in the cluster is exactly what the report names: the two objects asked to reconcile, nothing else.
    const after = JSON.parse(await snapshot(tenantServer)) as string[];
    const written = after.filter((o) => !before.includes(o)).map((o) => o.replace(/@\d+$/, ""));
    expect(written.sort()).toEqual(["GitRepository/flux-system/setup", "Kustomization/flux-system/docs-prod"]);
    for (const [apiVersion, kind, name] of [
      ["kustomize.toolkit.fluxcd.io/v1", "Kustomization", "docs-prod"],
      ["source.toolkit.fluxcd.io/v1", "GitRepository", "setup"],
    ]) {
      const live = await client(tenantServer).get({
        apiVersion: apiVersion!,
        kind: kind!,
        metadata: { namespace: "flux-system", name: name! },
      });
      expect(
        Date.parse(live?.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"] ?? ""),
        kind,
      ).toBeGreaterThanOrEqual(started.getTime());
    }
  });

  it("reads the tenant kubeconfig from the 1Password template", async () => {
    const result = await flow("bootstrap", [
      "--app",
      "docs-prod",
      "--tenant-kubeconfig-from",
      "1password",
      ...local(),
      "--no-wait",
      "--skip-secrets",
    ]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toMatch(/Read the tenant kubeconfig from apps\/docs-prod\/kubeconfig.yaml.op.tpl/);
  });

  it("points the GitRepository at a development branch with --branch", async () => {
    const result = await flow("bootstrap", [
      "--app",
      "docs-prod",
      ...onTenant(),
      "--skip-secrets",
      "--no-wait",
      "--branch",
      "feature-x",
    ]);
    expect(result.code, result.all).toBe(0);
    const repo = (await client(tenantServer).get({
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { namespace: "flux-system", name: "setup" },
    })) as { spec: { ref: { branch: string } } };
    expect(repo.spec.ref.branch).toBe("feature-x");
    await flow("bootstrap", ["--app", "docs-prod", ...onTenant(), "--skip-secrets", "--no-wait"]);
  });

  it("fails when the Kustomization is not Ready in time, showing Flux's last status", async () => {
    await setFluxReady(
      tenantServer,
      "Kustomization",
      "kustomize.toolkit.fluxcd.io/v1",
      "flux-system",
      "docs-prod",
      false,
      "kustomize build failed: accumulating resources",
    );
    const result = await flow("bootstrap", ["--app", "docs-prod", ...onTenant(), "--skip-secrets", "--timeout", "2s"]);
    expect(result.code).toBe(3);
    expect(result.all).toMatch(
      /expected Kustomization flux-system\/docs-prod to be Ready within 2 s; Flux's last status: ReconciliationFailed: kustomize build failed: accumulating resources/,
    );
  });

  it("does not take a Ready left from an earlier generation of the Kustomization as Ready", async () => {
    const c = client(tenantServer);
    const ref = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { namespace: "flux-system", name: "docs-prod" },
    };
    // Someone changed the spec: the generation moves on while the status still speaks of generation 1.
    await c.request(
      "PATCH",
      await c.path(ref.apiVersion, ref.kind, "flux-system", "docs-prod"),
      { spec: { interval: "7m" } },
      "application/merge-patch+json",
    );
    await setFluxReady(
      tenantServer,
      ref.kind,
      ref.apiVersion,
      "flux-system",
      "docs-prod",
      true,
      "Applied revision: main@sha1:0123",
      1,
    );
    const result = await flow("bootstrap", ["--app", "docs-prod", ...onTenant(), "--skip-secrets", "--timeout", "2s"]);
    expect(result.code, result.all).toBe(3);
    expect(result.stderr).toMatch(
      /expected Kustomization flux-system\/docs-prod to be Ready within 2 s; Flux's last status: ReconciliationSucceeded for generation 1, but the spec is at generation \d+: Flux has not reconciled the change yet/,
    );
    await setFluxReady(
      tenantServer,
      ref.kind,
      ref.apiVersion,
      "flux-system",
      "docs-prod",
      true,
      "Applied revision: main@sha1:0123",
    );
  });

  it("does not take the Kustomization's Ready on the old revision as Ready while its GitRepository fails to fetch, and names the GitRepository's message", async () => {
    const c = client(tenantServer);
    const kustomization = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { namespace: "flux-system", name: "docs-prod" },
    };
    const source = {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { namespace: "flux-system", name: "setup" },
    };
    // The Git server is down: the Kustomization stays Ready on the revision it applied, the source keeps its old artifact.
    await setFluxReady(
      tenantServer,
      kustomization.kind,
      kustomization.apiVersion,
      "flux-system",
      "docs-prod",
      true,
      "Applied revision: main@sha1:0123",
    );
    await c.patchStatus(kustomization, { lastAppliedRevision: "main@sha1:0123" });
    const failure =
      "failed to checkout and determine revision: unable to clone 'http://127.0.0.1:1/setup.git': dial tcp 127.0.0.1:1: connect: connection refused";
    // Plays source-controller: each reconcile asked of it is handled, and fails.
    let playing = true;
    const player = (async () => {
      while (playing) {
        const live = (await c.get(source)) as {
          metadata: { generation?: number; annotations?: Record<string, string> };
          status?: { lastHandledReconcileAt?: string };
        };
        const asked = live.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];
        if (asked && live.status?.lastHandledReconcileAt !== asked) {
          await c.patchStatus(source, {
            observedGeneration: live.metadata.generation,
            lastHandledReconcileAt: asked,
            artifact: {
              revision: "main@sha1:0123",
              path: "p",
              url: "u",
              digest: "sha256:0",
              lastUpdateTime: new Date().toISOString(),
            },
            conditions: [
              {
                type: "Ready",
                status: "False",
                reason: "GitOperationFailed",
                message: failure,
                lastTransitionTime: new Date().toISOString(),
              },
            ],
          });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const result = await flow("bootstrap", [
        "--app",
        "docs-prod",
        ...onTenant(),
        "--skip-secrets",
        "--timeout",
        "3s",
      ]);
      expect(result.code, result.all).toBe(3);
      expect(result.stderr).toContain(
        `expected Kustomization flux-system/docs-prod to be Ready within 3 s; Flux's last status: Ready for revision main@sha1:0123, but GitRepository flux-system/setup GitOperationFailed: ${failure}`,
      );
    } finally {
      playing = false;
      await player;
      // No status at all again, as where no source-controller runs.
      await c.request(
        "PATCH",
        `${await c.path(source.apiVersion, source.kind, "flux-system", "setup")}/status`,
        { status: null },
        "application/merge-patch+json",
      );
    }
  });

  it.each([
    [
      "no kubeconfig Secret",
      () => ({ KUBECONFIG: bare.kubeconfigPath }),
      [],
      /expected Secret tenant-root\/kubernetes-cluster-docs-infra-prod-admin-kubeconfig in enigma-cluster|expected Secret tenant-root\/kubernetes-cluster-docs-infra-prod-admin-kubeconfig in no-flux/,
    ],
    [
      "a Secret without the key",
      () => ({}),
      ["--tenant-kubeconfig-key", "nope.conf"],
      /expected key "nope.conf" in Secret tenant-root\/kubernetes-cluster-docs-infra-prod-admin-kubeconfig; found keys \[admin.conf, empty.conf, super-admin.conf\]/,
    ],
    [
      "an empty kubeconfig key",
      () => ({}),
      ["--tenant-kubeconfig-key", "empty.conf"],
      /expected key "empty.conf" in Secret tenant-root\/kubernetes-cluster-docs-infra-prod-admin-kubeconfig to hold a kubeconfig; it is empty; check the tenant cluster in Cozystack, or pass another key with --tenant-kubeconfig-key/,
    ],
    [
      "management credentials the cluster refuses",
      () => ({ KUBECONFIG: join(dir, "refused.kubeconfig") }),
      [],
      /^✖ expected enigma-cluster \(context enigma-cluster\) to accept the credentials of user "enigma-cluster-admin" \(context enigma-cluster\); it answered 401 Unauthorized; they are wrong or expired: renew them/m,
    ],
    [
      "a malformed kubeconfig",
      () => ({}),
      ["--tenant-kubeconfig", "MALFORMED"],
      /expected a .*kubeconfig.* in .*malformed.kubeconfig/,
    ],
    [
      "an unreachable tenant API",
      () => ({}),
      ["--tenant-kubeconfig", "GONE"],
      /expected the Kubernetes API of cluster-docs-infra-prod at https:\/\/127.0.0.1:\d+ to answer; ECONNREFUSED/,
    ],
    [
      "missing Flux CRDs",
      () => ({}),
      ["--tenant-kubeconfig", "NOFLUX"],
      /expected cluster-docs-infra-prod to serve every kind the app contains; missing GitRepository \(source.toolkit.fluxcd.io\/v1\), HelmRelease \(helm.toolkit.fluxcd.io\/v2\), HelmRepository \(source.toolkit.fluxcd.io\/v1\), Kustomization/,
    ],
  ])("refuses %s with a clear message and changes nothing", async (_name, env, args, message) => {
    writeFileSync(join(dir, "malformed.kubeconfig"), "apiVersion: v1\nclusters: [ {name: x\n");
    const paths: Record<string, string> = {
      MALFORMED: join(dir, "malformed.kubeconfig"),
      GONE: join(dir, "gone.kubeconfig"),
      NOFLUX: bare.kubeconfigPath,
    };
    const before = [await snapshot(tenantServer), await snapshot(bare)];
    const result = await flow(
      "bootstrap",
      ["--app", "docs-prod", ...local(), "--no-wait", ...args.map((a) => paths[a] ?? a)],
      env(),
    );
    expect(result.code, result.all).toBe(3);
    expect(result.all).toMatch(message);
    expect(result.all).not.toMatch(/\n\s+at /);
    expect([await snapshot(tenantServer), await snapshot(bare)]).toEqual(before);
  });
});

describe("a tenant kubeconfig that is not to be trusted", () => {
  it("is refused, in one line naming the Secret and key, when it carries an exec plugin: the program never runs", async () => {
    const marker = join(dir, "exec-ran");
    const exported = JSON.parse(tenantServer.kubeConfig.exportConfig()) as {
      users: { user: Record<string, unknown> }[];
    };
    exported.users[0]!.user = {
      exec: {
        apiVersion: "client.authentication.k8s.io/v1",
        command: "/bin/sh",
        args: [
          "-c",
          `touch ${marker}; echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x"}}'`,
        ],
      },
    };
    const { namespace, name } = tenant.kubeconfigSecret;
    await client(mgmt).request(
      "PATCH",
      `/api/v1/namespaces/${namespace}/secrets/${name}`,
      { data: { "exec.conf": Buffer.from(JSON.stringify(exported)).toString("base64") } },
      "application/merge-patch+json",
    );
    const before = await snapshot(tenantServer);
    const result = await flow("bootstrap", [
      "--app",
      "docs-prod",
      ...local(),
      "--no-wait",
      "--tenant-kubeconfig-key",
      "exec.conf",
    ]);
    expect(result.code, result.all).toBe(3);
    expect(result.stderr).toBe(
      `✖ expected the kubeconfig in Secret ${namespace}/${name} key exec.conf to hold only a server URL, a CA and a token or client certificate; found users[0].user.exec (a credential plugin: a program this machine would run); refusing it: a kubeconfig from a cluster or a secret store must not run a program, read a file or weaken TLS on this machine; fix it there, or pass a kubeconfig you trust with --tenant-kubeconfig PATH\n`,
    );
    expect(existsSync(marker)).toBe(false);
    expect(await snapshot(tenantServer)).toBe(before);
  });

  it("whose user may not do what bootstrap asks gets a 403 naming the cluster, the user and what to do", async () => {
    // A ServiceAccount with no role at all: the API answers 403 to all but discovery.
    const c = client(tenantServer);
    await c.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "nobody" } }, { fieldManager: "test" });
    await c.apply(
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { namespace: "nobody", name: "nobody" } },
      { fieldManager: "test" },
    );
    const { status } = await c.request<{ status: { token: string } }>(
      "POST",
      "/api/v1/namespaces/nobody/serviceaccounts/nobody/token",
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
    );
    const kubeconfig = readFileSync(tenantServer.kubeconfigPath, "utf8").replace(
      /token: \S+/,
      `token: ${status.token}`,
    );
    writeFileSync(join(dir, "nobody.kubeconfig"), kubeconfig, { mode: 0o600 });
    const result = await flow("bootstrap", [
      "--app",
      "docs-prod",
      "--tenant-kubeconfig",
      join(dir, "nobody.kubeconfig"),
      "--skip-secrets",
      "--no-wait",
    ]);
    expect(result.code, result.all).toBe(3);
    expect(result.stderr).toMatch(
      new RegExp(
        `^✖ expected ${tenant.app} to allow user "[^"]+" \\(context ${tenant.app}\\) this request; it answered 403 Forbidden \\(.*system:serviceaccount:nobody:nobody.*\\); use a kubeconfig whose user may do that, or have the permission granted\n$`,
      ),
    );
    expect(result.all).not.toContain(status.token);
  });
});

describe("bootstrap, stopped midway", () => {
  it("checks every kind the app contains before it applies anything: HelmRepository too", async () => {
    await bare.installCrds(
      await Promise.all((["GitRepository", "HelmChart", "Kustomization", "HelmRelease"] as const).map(readCrd)),
    );
    const before = await snapshot(bare);
    const result = await flow("bootstrap", [
      "--app",
      "docs-prod",
      "--tenant-kubeconfig",
      bare.kubeconfigPath,
      ...local(),
      "--no-wait",
    ]);
    expect(result.code, result.all).toBe(3);
    expect(result.stderr.trim().split("\n").at(-1)).toMatch(
      /^✖ expected cluster-docs-infra-prod to serve every kind the app contains; missing HelmRepository \(source.toolkit.fluxcd.io\/v1\); install Flux there first/,
    );
    expect(await snapshot(bare)).toBe(before);
  });

  it("on Ctrl-C names the objects it applied before the interrupt, and a re-run completes the job", async () => {
    const c = client(tenantServer);
    const credentialsRef = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: "1password", name: "1password-credentials" },
    };
    const release = {
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { namespace: "flux-system", name: "relay-family" },
    };
    for (const ref of [credentialsRef, release])
      await c.request("DELETE", await c.path(ref.apiVersion, ref.kind, ref.metadata.namespace, ref.metadata.name));
    const running = startFlow("bootstrap", ["--app", "docs-prod", ...onTenant(), ...local(), "--no-wait"], {
      KUBECONFIG: mgmt.kubeconfigPath,
    });
    while (!(await c.get(credentialsRef))) await new Promise((r) => setTimeout(r, 20));
    running.process.kill("SIGINT");
    const result = await running.result;
    outputs.push(result);
    expect(result.code, result.all).toBe(130);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^✖ interrupted by SIGINT during "[^"]+"; applied before the interrupt: Secret 1password\/1password-credentials created(, [^;]+)?; the rest was not done; run the same command again to complete the job$/,
    );
    const again = await flow("bootstrap", ["--app", "docs-prod", ...onTenant(), ...local(), "--no-wait"]);
    expect(again.code, again.all).toBe(0);
    expect(await c.get(release)).toBeDefined();
  });
});

describe("bootstrap of apps/docs-infra-prod", () => {
  it("refuses a management cluster without Flux's namespace", async () => {
    const result = await flow("bootstrap", ["--app", "docs-infra-prod", "--no-wait"]);
    expect(result.code).toBe(3);
    expect(result.all).toMatch(
      /expected namespace flux-system in enigma-cluster \(context enigma-cluster\), where Flux runs; it does not exist/,
    );
  });

  it("applies to the management cluster and reports no change the second time", async () => {
    await client(mgmt).apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "flux-system" } },
      { fieldManager: "flux-install" },
    );
    const first = await flow("bootstrap", [
      "--app",
      "docs-infra-prod",
      "--management-context",
      management.cluster,
      "--no-wait",
    ]);
    expect(first.code, first.all).toBe(0);
    expect(first.stdout).toMatch(/Kustomization flux-system\/docs-infra-prod created/);
    // The second run goes through the moon task, as an operator runs it.
    const second = await runMoon(["run", "docs-infra-prod:bootstrap", "--", "--no-wait"], {
      KUBECONFIG: mgmt.kubeconfigPath,
    });
    outputs.push(second);
    expect(second.code, second.all).toBe(0);
    expect(second.all).toMatch(/ 0 created, 0 configured, \d+ unchanged/);
  });
});

describe("secrets", () => {
  it("never prints a secret value, errors included", () => {
    expect(outputs.length).toBeGreaterThan(10);
    for (const output of outputs) expect(output.all).not.toContain(canary);
  });
});
