// Starts real kube-apiservers (with embedded etcd) on loopback for tests and the
// demo: free ports, admin kubeconfigs, the real CRDs, and a clean stop.
import { type ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, type Manifest } from "../../../scripts/lib/kube.ts";
import { stringify } from "yaml";
import { ensureKubeBinary } from "../build/kube-binary.ts";
import { allCrds, type CrdName, type CrdObject, readCrd } from "../build/crds.ts";

export { allCrds, fluxCrds, type CrdName, type CrdObject } from "../build/crds.ts";

export interface ServerOptions {
  /** Context and cluster name in the kubeconfig, e.g. "enigma-cluster". */
  name: string;
  /** Real CRDs to install; default all Flux CRDs and OnePasswordItem. */
  crds?: readonly CrdName[];
  /** CRDs of the test's own, installed after the real ones. */
  extraCrds?: readonly CrdObject[];
  /** Write an audit log so a test can count the API requests a client made. */
  audit?: boolean;
  /**
   * Serve a real node (see node/index.ts): the ServiceAccount admission plugin stays on
   * (the controller-manager creates the accounts) and the API server dials kubelets
   * by their InternalIP, since no DNS resolves node names here.
   */
  node?: boolean;
}

export interface AuditEvent {
  verb: string;
  requestURI: string;
  user: { username: string };
  responseStatus?: { code: number };
}

export interface ApiServer {
  name: string;
  url: string;
  /** A kubeconfig file (admin token) for kubectl, helm and the flows. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** The ServiceAccount signing key, for a controller-manager that issues tokens. */
  serviceAccountKeyPath: string;
  /** The API server's self-signed serving certificate: the CA Pods trust. */
  servingCertPath: string;
  installCrds(crds: readonly CrdObject[]): Promise<void>;
  /** Requests made with the admin credentials so far (needs `audit: true`). */
  adminRequests(): AuditEvent[];
  /**
   * A crash and restart: the process is killed (SIGKILL, so its state dir stays) and
   * started again on the same port with the same etcd data and certificates; resolves
   * once it is ready again. `downMs` holds it down that long first.
   */
  restart(downMs?: number): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted by the kernel but nothing answers until resume(). */
  pause(): void;
  resume(): void;
  /** Stops this server alone (e.g. to test an unreachable API). */
  stop(): Promise<void>;
}

export interface ApiServers {
  servers: ApiServer[];
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts one independent API server per option, in parallel, each ready with its CRDs. */
export async function startApiServers(options: readonly ServerOptions[]): Promise<ApiServers> {
  const binary = await ensureKubeBinary();
  if (!exitHookInstalled) {
    // Children also stop on their own when our end of their stdin closes; this
    // only makes it immediate when the test process exits abruptly.
    process.once("exit", () => live.forEach((child) => child.kill("SIGKILL")));
    exitHookInstalled = true;
  }
  const ports = await freePorts(options.length * 3);
  const started = await Promise.allSettled(
    options.map((opts, i) => startServer(binary, opts, ports.slice(i * 3, i * 3 + 3))),
  );
  const servers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  const stop = async () => void (await Promise.all(servers.map((s) => s.stop())));
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { servers, stop };
}

async function startServer(
  binary: string,
  opts: ServerOptions,
  [securePort, etcdPort, peerPort]: number[],
): Promise<ApiServer> {
  const dir = mkdtempSync(join(tmpdir(), `kube-${opts.name}-`));
  const token = randomBytes(24).toString("hex");
  const keys = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  writeFileSync(join(dir, "sa.pub"), keys.publicKey);
  writeFileSync(join(dir, "sa.key"), keys.privateKey, { mode: 0o600 });
  writeFileSync(join(dir, "tokens.csv"), `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });
  const args = [
    "apiserver",
    `--state-dir=${dir}`,
    `--etcd-client-port=${etcdPort}`,
    `--etcd-peer-port=${peerPort}`,
    "--",
    `--cert-dir=${join(dir, "certs")}`,
    `--secure-port=${securePort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    "--service-cluster-ip-range=10.96.0.0/16",
    "--allow-privileged=true",
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc",
    `--service-account-key-file=${join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${join(dir, "sa.key")}`,
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    ...(opts.node
      ? ["--kubelet-preferred-address-types=InternalIP"]
      : // No controller-manager creates default ServiceAccounts here (as envtest does).
        ["--disable-admission-plugins=ServiceAccount"]),
  ];
  const auditLog = join(dir, "audit.log");
  if (opts.audit) {
    writeFileSync(
      join(dir, "audit-policy.yaml"),
      stringify({
        apiVersion: "audit.k8s.io/v1",
        kind: "Policy",
        omitStages: ["RequestReceived"],
        rules: [{ level: "Metadata" }],
      }),
    );
    args.push(`--audit-policy-file=${join(dir, "audit-policy.yaml")}`, `--audit-log-path=${auditLog}`);
  }
  const logFile = join(dir, "apiserver.log");
  const url = `https://127.0.0.1:${securePort}`;
  const kubeconfigPath = join(dir, "kubeconfig");
  const kubeConfig = new KubeConfig();

  let child!: ChildProcess;
  let exited!: Promise<number | null>;
  const spawnServer = () => {
    const logFd = openSync(logFile, "a");
    child = spawn(binary, args, { stdio: ["pipe", logFd, logFd] });
    closeSync(logFd);
    live.add(child);
    const current = child;
    exited = new Promise<number | null>((resolve) => current.once("exit", (code) => resolve(code)));
  };
  spawnServer();

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.stdin?.end();
    child.kill("SIGCONT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const restart = async (downMs = 0) => {
    // SIGKILL: our program removes its state dir when it stops of its own accord.
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await exited;
    live.delete(child);
    await new Promise((r) => setTimeout(r, downMs));
    spawnServer();
    await waitReady(url, token, exited, logFile);
  };

  try {
    await waitReady(url, token, exited, logFile);
    // As a real cluster's kubeconfig does, it trusts the server's CA (written by the
    // server at start, beside its serving certificate) rather than skipping TLS checks.
    const kubeconfigYaml = stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: opts.name,
          cluster: {
            server: url,
            "certificate-authority-data": readFileSync(join(dir, "certs", "apiserver.crt")).toString("base64"),
          },
        },
      ],
      users: [{ name: `${opts.name}-admin`, user: { token } }],
      contexts: [{ name: opts.name, context: { cluster: opts.name, user: `${opts.name}-admin` } }],
      "current-context": opts.name,
    });
    writeFileSync(kubeconfigPath, kubeconfigYaml, { mode: 0o600 });
    kubeConfig.loadFromString(kubeconfigYaml);
    await installCrds(kubeConfig, [
      ...(await Promise.all((opts.crds ?? allCrds).map(readCrd))),
      ...(opts.extraCrds ?? []),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    name: opts.name,
    url,
    kubeconfigPath,
    kubeConfig,
    serviceAccountKeyPath: join(dir, "sa.key"),
    servingCertPath: join(dir, "certs", "apiserver.crt"),
    installCrds: (crds) => installCrds(kubeConfig, crds),
    adminRequests: () => readAudit(auditLog, opts.audit),
    restart,
    pause: () => void child.kill("SIGSTOP"),
    resume: () => void child.kill("SIGCONT"),
    stop,
  };
}

function readAudit(path: string, enabled: boolean | undefined): AuditEvent[] {
  if (!enabled)
    throw new Error("expected a server started with `audit: true` to count requests; this one has no audit log");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => e.user.username === "admin");
}

async function waitReady(url: string, token: string, exited: Promise<number | null>, logFile: string): Promise<void> {
  let code: number | null | undefined;
  void exited.then((c) => (code = c ?? -1));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (code !== undefined) {
      const tail = readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n");
      throw new Error(`expected the local kube-apiserver to start; it exited with code ${code}:\n${tail}`);
    }
    if ((await get(`${url}/readyz`, token)) === 200 && (await get(`${url}/api/v1/namespaces/default`, token)) === 200)
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`expected ${url}/readyz to answer 200 within 120 s; it did not (log: ${logFile})`);
}

function get(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function installCrds(kc: KubeConfig, crds: readonly CrdObject[]): Promise<void> {
  const client = new KubeClient(kc, "local control plane");
  await Promise.all(
    crds.map((crd) => client.apply(crd as unknown as Manifest, { fieldManager: "local-control-plane" })),
  );
  for (const crd of crds) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const live = (await client.get(crd as unknown as Manifest)) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      if (live.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline)
        throw new Error(`expected CRD ${crd.metadata.name} to be Established within 30 s; it was not`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Free loopback ports, for the local servers and controllers to listen on. */
export async function freePorts(count: number): Promise<number[]> {
  // Hold every port until all are chosen, so one call never returns a port twice.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** The engine's API client for a local server, as the flows build it from a kubeconfig. */
export function client(server: ApiServer): KubeClient {
  return new KubeClient(server.kubeConfig, server.name);
}
