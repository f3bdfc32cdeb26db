// sync-ingress end to end against two real local API servers: the tenant runs the
// chart's relay Services, the management cluster holds KubeVirt CCM's mirrors
// (played by test/platform/played/ccm.ts), and the flow runs as an operator would.
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { management, relayNamespace, tenant, type RelayInstance } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import type { Manifest } from "../../scripts/lib/kube.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import {
  type ApiServer,
  type ApiServers,
  client,
  deleteService,
  installRelayServices,
  mirrorManifest,
  playCcm,
  seedCozystack,
  startApiServers,
} from "../platform/index.ts";
import { checkIngress } from "../../scripts/lib/ingress-sync.ts";
import { type FlowResult, runFlow, runMoon } from "../support/flows.ts";
import { localSecretsFile, tempDir } from "../support/files.ts";
import { runFlowWithStdoutClosed } from "../support/terminal.ts";
import { renderedService } from "../support/manifests.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

let cp: ApiServers;
let mgmt: ApiServer, tenantServer: ApiServer;
let dir: string;
/** Tenant Service "relay/<name>" -> its mirror, as CCM last synced. */
let mirrors: Map<string, string>;
const outputs: FlowResult[] = [];

const [personal, family] = instances as [RelayInstance, RelayInstance];
// The Services the chart renders, rendered once for the whole file.
const serviceNames = new Map(
  await Promise.all(instances.map(async (i) => [i.release, (await renderedService(i)).metadata.name] as const)),
);
const serviceName = (i: RelayInstance) => serviceNames.get(i.release)!;
const mirrorOf = (i: RelayInstance) => mirrors.get(`${relayNamespace}/${serviceName(i)}`)!;

async function sync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<FlowResult> {
  const result = await runFlow("sync-ingress", args, { KUBECONFIG: mgmt.kubeconfigPath, ...env });
  outputs.push(result);
  return result;
}

const onTenant = () => ["--tenant-kubeconfig", tenantServer.kubeconfigPath];

/** A fresh copy of an ingress file in the temp folder. */
function copyOf(source: string, name: string): string {
  const path = join(dir, name);
  copyFileSync(join(repoRoot, source), path);
  return path;
}

const repoIngress = management.ingressFile;

function syncedRepoIngress(): string {
  const original = readFileSync(join(repoRoot, repoIngress), "utf8");
  const backendNames = [...original.matchAll(/^ {16}name: (\S+)$/gm)].map((m) => m[1]!);
  expect(backendNames).toHaveLength(2);
  return original
    .replace(`name: ${backendNames[0]}\n`, `name: ${mirrorOf(personal)}\n`)
    .replace(`name: ${backendNames[1]}\n`, `name: ${mirrorOf(family)}\n`);
}

async function adminRequestsDuring(
  run: () => Promise<FlowResult>,
): Promise<{ result: FlowResult; requests: string[] }> {
  const settle = async () => {
    // The audit log is written as requests finish; wait until it stops growing.
    let last = -1;
    for (;;) {
      const n = mgmt.adminRequests().length;
      if (n === last) return n;
      last = n;
      await new Promise((r) => setTimeout(r, 300));
    }
  };
  const before = await settle();
  const result = await run();
  await settle();
  return {
    result,
    requests: mgmt
      .adminRequests()
      .slice(before)
      .map((e) => `${e.verb} ${e.requestURI}`),
  };
}

beforeAll(async () => {
  cp = await startApiServers([
    { name: management.cluster, audit: true, crds: [] },
    { name: tenant.app, crds: [] },
  ]);
  [mgmt, tenantServer] = cp.servers as [ApiServer, ApiServer];
  dir = tempDir("sync-ingress-");
  await seedCozystack(mgmt, tenantServer);
  await installRelayServices(tenantServer);
  mirrors = await playCcm(tenantServer, mgmt);
});

afterAll(async () => {
  await cp?.stop();
});

describe("sync-ingress", () => {
  it("points each host at its mirror, and the second run changes nothing", async () => {
    const file = copyOf(repoIngress, "ingress-relay.yaml");
    const first = await sync([...onTenant(), "--ingress-file", file]);
    expect(first.code, first.all).toBe(0);
    if (process.env.SHOW_FLOW_OUTPUT) console.log(first.all);
    expect(readFileSync(file, "utf8")).toBe(syncedRepoIngress());
    expect(first.stdout).toContain(`+                name: ${mirrorOf(personal)}`);
    expect(first.stdout).toContain(
      `${personal.host} → Service ${mirrorOf(personal)} port 8080 (mirror of relay/${serviceName(personal)})`,
    );
    expect(first.stdout).toContain(
      `Read Services relay/${serviceName(personal)}, relay/${serviceName(family)} in ${tenant.app}`,
    );
    expect(first.stdout).toContain(`: updated`);

    const written = statSync(file);
    const second = await sync([...onTenant(), "--ingress-file", file]);
    expect(second.code, second.all).toBe(0);
    expect(second.stdout).toContain(": up to date");
    expect(second.stdout).not.toMatch(/^\+ /m);
    expect(statSync(file).mtimeMs).toBe(written.mtimeMs);
    expect(statSync(file).ino).toBe(written.ino);
  });

  it("checkIngress (for the verify flow) tells the same without output or writes", async () => {
    const file = copyOf(repoIngress, "report.yaml");
    const opts = { tenant: client(tenantServer), management: client(mgmt), ingressFiles: [file] };
    const stale = await checkIngress(opts);
    expect(stale.ok).toBe(false);
    expect(stale.instances.map((i) => [i.host, i.mirror, i.backend?.port.number, i.problem])).toEqual([
      [personal.host, mirrorOf(personal), 8080, undefined],
      [family.host, mirrorOf(family), 8080, undefined],
    ]);
    expect(stale.files.map((f) => [f.upToDate, f.changes.length, f.problem])).toEqual([[false, 2, undefined]]);
    expect(stale.hostsWithoutRule).toEqual([]);

    writeFileSync(file, syncedRepoIngress());
    expect((await checkIngress(opts)).ok).toBe(true);
  });

  it("prints the diff and writes nothing with --dry-run", async () => {
    const file = copyOf(repoIngress, "dry-run.yaml");
    const before = readFileSync(file, "utf8");
    const result = await sync([...onTenant(), "--ingress-file", file, "--dry-run"]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toContain(`+                name: ${mirrorOf(family)}`);
    expect(result.stdout).toContain("would change");
    expect(readFileSync(file, "utf8")).toBe(before);
  });

  it("--check exits 1 on a stale file (as kubectl diff) and 0 on a fresh one, writing nothing", async () => {
    const file = copyOf(repoIngress, "check.yaml");
    const stale = readFileSync(file, "utf8");
    const failed = await sync([...onTenant(), "--ingress-file", file, "--check"]);
    expect(failed.code, failed.all).toBe(1);
    expect(failed.stderr).toMatch(
      /check\.yaml is out of date \(2 backends differ from the CCM mirrors\); run sync-ingress/,
    );
    expect(failed.stdout).toContain(`+                name: ${mirrorOf(personal)}`);
    expect(readFileSync(file, "utf8")).toBe(stale);

    writeFileSync(file, syncedRepoIngress());
    const passed = await sync([...onTenant(), "--ingress-file", file, "--check"]);
    expect(passed.code, passed.all).toBe(0);
    expect(passed.stdout).toContain("up to date");
  });

  it("--check --json prints one JSON object and nothing else on stdout, exit 1 when stale and 0 when fresh", async () => {
    const file = copyOf(repoIngress, "check-json.yaml");
    const failed = await sync([...onTenant(), "--ingress-file", file, "--check", "--json"]);
    expect(failed.code, failed.all).toBe(1);
    const report = JSON.parse(failed.stdout);
    expect(report).toMatchObject({ ok: false, check: true, files: [{ upToDate: false }] });
    expect(report.files[0].file).toMatch(/check-json\.yaml$/);
    expect(report.files[0].changes.map((c: { host: string; to: string }) => [c.host, c.to.split(":")[0]])).toEqual([
      [personal.host, mirrorOf(personal)],
      [family.host, mirrorOf(family)],
    ]);
    expect(report.instances.map((i: { host: string; mirror: string }) => [i.host, i.mirror])).toEqual([
      [personal.host, mirrorOf(personal)],
      [family.host, mirrorOf(family)],
    ]);
    expect(failed.stderr).toMatch(/check-json\.yaml is out of date/);

    writeFileSync(file, syncedRepoIngress());
    const passed = await sync([...onTenant(), "--ingress-file", file, "--check", "--json"]);
    expect(passed.code, passed.all).toBe(0);
    expect(JSON.parse(passed.stdout)).toMatchObject({ ok: true, files: [{ upToDate: true, changes: [] }] });
  });

  it("keeps every comment and every other byte of a comment-rich file, and reports a foreign host", async () => {
    const file = copyOf("test/fixtures/ingress/comments.yaml", "comments.yaml");
    const before = readFileSync(file, "utf8");
    const result = await sync([...onTenant(), "--ingress-file", file]);
    expect(result.code, result.all).toBe(0);
    const expected = before
      .replace("name: OLD-PERSONAL-NAME   #", `name: ${mirrorOf(personal)}   #`)
      .replace("number: 1111 #", "number: 8080 #")
      .replace(
        '{name: "OLD-PERSONAL-NAME-2", port: {number: 2222}}',
        `{name: "${mirrorOf(personal)}", port: {number: 8080}}`,
      )
      .replace("name: 'OLD-FAMILY-NAME'", `name: '${mirrorOf(family)}'`)
      .replace("name: OLD-PORT-NAME   #", "name: http   #")
      .replace("name: OLD-PERSONAL-NAME-3\n", `name: ${mirrorOf(personal)}\n`)
      .replace("number: 3333\n", "number: 8080\n");
    expect(readFileSync(file, "utf8")).toBe(expected);
    expect(result.stdout).toContain(
      "grafana.enigma.vgijssel.nl (Ingress relays, line 44): no relay instance has this host; left as it is",
    );
  });

  it("reads the tenant kubeconfig from the Cozystack Secret and from 1Password, printing no credential", async () => {
    const file = copyOf(repoIngress, "via-secret.yaml");
    const viaSecret = await sync(["--ingress-file", file]);
    expect(viaSecret.code, viaSecret.all).toBe(0);
    expect(viaSecret.stdout).toContain(
      `Read the tenant kubeconfig from ${tenant.kubeconfigSecret.namespace}/${tenant.kubeconfigSecret.name}`,
    );
    expect(readFileSync(file, "utf8")).toBe(syncedRepoIngress());

    const secrets = localSecretsFile(dir, {
      "op://setup-docs-prod/kubeconfig.yaml/kubeconfig.yaml": readFileSync(tenantServer.kubeconfigPath, "utf8"),
    });
    const viaOnePassword = await sync([
      "--ingress-file",
      file,
      "--check",
      "--tenant-kubeconfig-from",
      "1password",
      "--secrets-from",
      "local",
      "--local-secrets",
      secrets,
    ]);
    expect(viaOnePassword.code, viaOnePassword.all).toBe(0);
    // The server URL came from the secret item: not printed.
    expect(viaOnePassword.stdout).toContain(`${tenant.app} at the server named in the 1Password item (not shown)`);
    expect(viaOnePassword.all).not.toContain(tenantServer.url);

    const tokens = [tenantServer, mgmt].map((s) => s.kubeConfig.getCurrentUser()!.token!);
    for (const out of outputs) for (const token of tokens) expect(out.all).not.toContain(token);
  });

  it("makes the same number of API requests with 1000 unrelated Services in tenant-root as with none", async () => {
    const file = copyOf(repoIngress, "count.yaml");
    const args = [...onTenant(), "--ingress-file", file, "--check"];
    writeFileSync(file, syncedRepoIngress());
    const without = await adminRequestsDuring(() => sync(args));
    expect(without.result.code, without.result.all).toBe(0);

    const m = client(mgmt);
    const unrelated = Array.from({ length: 1000 }, (_, i): Manifest => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: `unrelated-${i}`,
        namespace: "tenant-root",
        // Every tenth one looks like a mirror of another tenant cluster.
        labels:
          i % 10 === 0
            ? {
                "cluster.x-k8s.io/cluster-name": "kubernetes-cluster-other",
                "cluster.x-k8s.io/tenant-service-name": serviceName(personal),
                "cluster.x-k8s.io/tenant-service-namespace": relayNamespace,
              }
            : { app: "unrelated" },
      },
      spec: { clusterIP: "None", ports: [{ name: "http", port: 80 + (i % 7) }] },
    }));
    for (let i = 0; i < unrelated.length; i += 50)
      await Promise.all(unrelated.slice(i, i + 50).map((s) => m.apply(s, { fieldManager: "someone-else" })));
    expect((await m.list("v1", "Service", "tenant-root")).length).toBeGreaterThanOrEqual(1000);

    const withMany = await adminRequestsDuring(() => sync(args));
    expect(withMany.result.code, withMany.result.all).toBe(0);
    expect(withMany.requests.length).toBe(without.requests.length);
    expect(withMany.requests.filter((r) => r.includes("/namespaces/tenant-root/services"))).toEqual([
      `list /api/v1/namespaces/tenant-root/services?labelSelector=${encodeURIComponent(`cluster.x-k8s.io/cluster-name=${tenant.release}`)}`,
    ]);
  });

  it("reads the management cluster through one client when the tenant kubeconfig comes from its Secret", async () => {
    const file = copyOf(repoIngress, "one-client.yaml");
    writeFileSync(file, syncedRepoIngress());
    const { result, requests } = await adminRequestsDuring(() => sync(["--ingress-file", file, "--check"]));
    expect(result.code, result.all).toBe(0);
    // One discovery, one read of the Secret, one list of the mirrors: not a second client's discovery.
    expect([...requests].sort()).toEqual([
      "get /api/v1",
      `get /api/v1/namespaces/${tenant.kubeconfigSecret.namespace}/secrets/${tenant.kubeconfigSecret.name}`,
      `list /api/v1/namespaces/tenant-root/services?labelSelector=${encodeURIComponent(`cluster.x-k8s.io/cluster-name=${tenant.release}`)}`,
    ]);
  });

  it("derives the Services from the render cache, and renders again when its key is not that of the chart and values", async () => {
    const file = copyOf(repoIngress, "cache.yaml");
    writeFileSync(file, syncedRepoIngress());
    const cacheFile = join(repoRoot, ".cache/relay-services", `${personal.release}.json`);
    rmSync(cacheFile, { force: true });
    const first = await sync([...onTenant(), "--ingress-file", file, "--check"]);
    expect(first.code, first.all).toBe(0);
    const cached = JSON.parse(readFileSync(cacheFile, "utf8")) as {
      key: string;
      service: { name: string; host: string };
    };
    expect(cached.service).toMatchObject({ name: serviceName(personal) });
    try {
      // A cache entry with the current key is believed: a wrong name in it reaches the tenant lookup.
      writeFileSync(cacheFile, JSON.stringify({ ...cached, service: { ...cached.service, name: "relay-from-cache" } }));
      const believed = await sync([...onTenant(), "--ingress-file", file, "--check"]);
      expect(believed.code, believed.all).toBe(3);
      expect(believed.stderr).toContain("expected Service relay/relay-from-cache");
      // With another key (the chart or values changed since) it is not: helm renders again and the entry is replaced.
      writeFileSync(
        cacheFile,
        JSON.stringify({ key: "0".repeat(64), service: { ...cached.service, name: "relay-from-cache" } }),
      );
      const rendered = await sync([...onTenant(), "--ingress-file", file, "--check"]);
      expect(rendered.code, rendered.all).toBe(0);
      expect(JSON.parse(readFileSync(cacheFile, "utf8"))).toEqual(cached);
    } finally {
      rmSync(cacheFile, { force: true });
    }
  });

  it("reaches a cluster through its kubeconfig's proxy-url (an HTTP CONNECT proxy on loopback)", async () => {
    const tunnels: string[] = [];
    const proxy = createServer();
    proxy.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      tunnels.push(req.url ?? "");
      const [host, port] = (req.url ?? "").split(":");
      const upstream = connect(Number(port), host, () => {
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const kubeconfig = parse(readFileSync(tenantServer.kubeconfigPath, "utf8")) as {
        clusters: { cluster: Record<string, unknown> }[];
      };
      kubeconfig.clusters[0]!.cluster["proxy-url"] = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const viaProxy = join(dir, "proxied.kubeconfig");
      writeFileSync(viaProxy, stringify(kubeconfig), { mode: 0o600 });
      const file = copyOf(repoIngress, "proxied.yaml");
      writeFileSync(file, syncedRepoIngress());
      const result = await sync(["--tenant-kubeconfig", viaProxy, "--ingress-file", file, "--check"]);
      expect(result.code, result.all).toBe(0);
      expect(tunnels.length).toBeGreaterThan(0);
      expect(new Set(tunnels)).toEqual(new Set([new URL(tenantServer.url).host]));
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  it("writes a symlinked ingress file through the link, atomically: the link stays and the file it names gets the mirrors", async () => {
    mkdirSync(join(dir, "real"), { recursive: true });
    const target = copyOf(repoIngress, "real/linked.yaml");
    const link = join(dir, "linked-ingress.yaml");
    symlinkSync("real/linked.yaml", link);
    const result = await sync([...onTenant(), "--ingress-file", link]);
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).toContain(": updated");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toBe(syncedRepoIngress());
    expect((await sync([...onTenant(), "--ingress-file", link, "--check"])).code).toBe(0);
  });

  it("with its stdout closed (| head -1), still writes the file and exits with its own code, without a stack trace", async () => {
    const file = copyOf(repoIngress, "closed-stdout.yaml");
    const { code, stderr } = await runFlowWithStdoutClosed("sync-ingress", [...onTenant(), "--ingress-file", file], {
      KUBECONFIG: mgmt.kubeconfigPath,
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(syncedRepoIngress());
  });

  it("runs through its moon task, resolving a relative --ingress-file against where it was typed", async () => {
    const file = copyOf(repoIngress, "moon.yaml");
    const moonArgs = (cwd: string, args: string[]) =>
      runMoon(["run", "docs-infra-prod:sync-ingress", "--", ...args], { KUBECONFIG: mgmt.kubeconfigPath }, cwd);
    const result = await moonArgs(repoRoot, [...onTenant(), "--ingress-file", file]);
    outputs.push(result);
    expect(result.code, result.all).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(syncedRepoIngress());

    // From a folder inside the repository, a relative path means that folder's file (checked, not written).
    const fixtures = join(repoRoot, "test/fixtures/ingress");
    const relative = await moonArgs(fixtures, [...onTenant(), "--ingress-file", "comments.yaml", "--check"]);
    outputs.push(relative);
    expect(relative.code, relative.all).toBe(1);
    expect(relative.all).toContain("test/fixtures/ingress/comments.yaml is out of date");
  });
});

describe("sync-ingress refuses bad input with a clear message and changes nothing", () => {
  /** Runs the flow on a fresh copy of the repo's ingress file and checks it stayed as it was. */
  let lastStdout = "";
  async function refuses(args: string[] = [], source: string = repoIngress): Promise<string> {
    const file = copyOf(source, "bad-input.yaml");
    const before = readFileSync(file, "utf8");
    const result = await sync([...onTenant(), "--ingress-file", file, ...args]);
    expect(result.code, result.all).toBe(3);
    expect(readFileSync(file, "utf8")).toBe(before);
    // One line on stderr, the message itself (the failed step is marked by its title on stdout).
    const lines = result.stderr.trim().split("\n");
    expect(lines, result.all).toHaveLength(1);
    expect(lines[0]!.startsWith("✖ expected"), result.all).toBe(true);
    expect(result.all).not.toMatch(/\[FAILED/);
    lastStdout = result.stdout;
    return lines[0]!;
  }

  const personalMirrorRef = () => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace: "tenant-root", name: mirrorOf(personal) },
  });

  it("zero mirrors: CCM not running, or the Service is not a LoadBalancer", async () => {
    await deleteService(client(mgmt), "tenant-root", mirrorOf(personal));
    try {
      const message = await refuses();
      expect(message).toContain(
        `expected a Service ${mirrorOf(personal)} in tenant-root of ${management.cluster} labelled for relay/${serviceName(personal)}`,
      );
      expect(message).toContain("no mirror yet: KubeVirt CCM not running, or the Service is not a LoadBalancer");
      expect(lastStdout).toContain(`✖ Find the KubeVirt CCM mirrors in tenant-root of ${management.cluster}\n`);
    } finally {
      mirrors = await playCcm(tenantServer, mgmt);
    }
  });

  it("two mirrors: lists both candidates", async () => {
    const live = (await client(mgmt).get(personalMirrorRef())) as unknown as Parameters<typeof mirrorManifest>[0];
    const tenantSvc = (await client(tenantServer).get({
      apiVersion: "v1",
      kind: "Service",
      metadata: { namespace: relayNamespace, name: serviceName(personal) },
    })) as unknown as Parameters<typeof mirrorManifest>[0];
    await client(mgmt).apply(mirrorManifest(tenantSvc, "a0000stale0000000000000000000000"), {
      fieldManager: "kubevirt-ccm",
    });
    try {
      const message = await refuses();
      expect(message).toContain(`found 2 candidates: `);
      expect(message).toContain("a0000stale0000000000000000000000");
      expect(message).toContain(`${live.metadata.name} (matches the UID)`);
    } finally {
      mirrors = await playCcm(tenantServer, mgmt);
    }
  });

  it("a tenant Service that is not a LoadBalancer", async () => {
    const t = client(tenantServer);
    const svc = await renderedService(family);
    await t.apply(
      {
        ...(svc as unknown as Manifest),
        metadata: { ...svc.metadata, namespace: relayNamespace },
        spec: { ...svc.spec, type: "ClusterIP" },
      },
      { fieldManager: "helm" },
    );
    try {
      const message = await refuses();
      expect(message).toContain(
        `expected Service relay/${serviceName(family)} in ${tenant.app} to be of type LoadBalancer (KubeVirt CCM mirrors only LoadBalancer Services); found type ClusterIP`,
      );
      // Told from the tenant alone, before the management cluster is asked.
      expect(lastStdout).toContain(
        `✖ Read Services relay/${serviceName(personal)}, relay/${serviceName(family)} in ${tenant.app}\n`,
      );
    } finally {
      await installRelayServices(tenantServer, [family]);
      mirrors = await playCcm(tenantServer, mgmt);
    }
  });

  it("a mirror whose port differs from the tenant Service's", async () => {
    const current = (await client(mgmt).get(personalMirrorRef())) as unknown as Parameters<typeof mirrorManifest>[0];
    const tenantSvc = (await client(tenantServer).get({
      apiVersion: "v1",
      kind: "Service",
      metadata: { namespace: relayNamespace, name: serviceName(personal) },
    })) as unknown as Parameters<typeof mirrorManifest>[0];
    const wrong = mirrorManifest(
      { ...tenantSvc, spec: { ...tenantSvc.spec, ports: [{ name: "http", port: 80, protocol: "TCP" }] } },
      current.metadata.name,
    );
    await client(mgmt).apply(wrong, { fieldManager: "kubevirt-ccm" });
    try {
      const message = await refuses();
      expect(message).toContain(
        `expected mirror ${mirrorOf(personal)} to have the ports of relay/${serviceName(personal)} [http:8080]; found [http:80]`,
      );
    } finally {
      mirrors = await playCcm(tenantServer, mgmt);
    }
  });

  it("a recreated tenant Service whose old mirror CCM has not replaced yet", async () => {
    const t = client(tenantServer);
    const oldMirror = mirrorOf(personal);
    await deleteService(t, relayNamespace, serviceName(personal));
    await installRelayServices(tenantServer, [personal]);
    try {
      const message = await refuses();
      expect(message).toContain(`found ${oldMirror} with its labels; the Service was probably recreated`);
    } finally {
      mirrors = await playCcm(tenantServer, mgmt);
      expect(mirrorOf(personal)).not.toBe(oldMirror);
    }
  });

  it("an ingress file with a YAML syntax error: file and line", async () => {
    const message = await refuses([], "test/fixtures/ingress/syntax-error.yaml");
    expect(message).toMatch(
      /^✖ expected valid YAML in \S*bad-input\.yaml; found a syntax error at \S*bad-input\.yaml:10 \(.+\); fix the file and run again, nothing was changed$/,
    );
  });

  it.each([[[]], [["--check"]]])(
    "an ingress file without the instances' rules fails naming each missing host, and writes nothing (%j)",
    async (args) => {
      const file = join(dir, "foreign.yaml");
      const text = readFileSync(join(repoRoot, "test/fixtures/ingress/comments.yaml"), "utf8")
        .split("\n...\n")[0]!
        .replace(/personal\.relay|family\.relay/g, "other.app");
      writeFileSync(file, text);
      const result = await sync([...onTenant(), "--ingress-file", file, ...args]);
      expect(result.code, result.all).toBe(3);
      expect(readFileSync(file, "utf8")).toBe(text);
      const line = result.stderr.trim().split("\n").at(-1)!;
      expect(line).toBe(
        `✖ expected an Ingress rule for ${personal.host} (relay instance ${personal.release}) in ${file}; found none; add a rule for the host, then run sync-ingress to fill its backend; ` +
          `expected an Ingress rule for ${family.host} (relay instance ${family.release}) in ${file}; found none; add a rule for the host, then run sync-ingress to fill its backend`,
      );
      expect(
        (await checkIngress({ tenant: client(tenantServer), management: client(mgmt), ingressFiles: [file] })).ok,
      ).toBe(false);
    },
  );
});
