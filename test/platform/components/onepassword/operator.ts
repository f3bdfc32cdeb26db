// Runs 1Password's chain on a local tenant: the played Connect (../../played/connect.ts) and
// the real operator (built by ../../build/onepassword-operator.ts), out of cluster, each started
// as its Pod would be: once the Secret it reads exists (create-1password-secret
// writes them), with the env and RBAC the Connect chart renders for apps/docs-prod's
// HelmRelease (./connect-chart.ts). The operator talks to the tenant API server as
// the chart's ServiceAccount (a TokenRequest token), so a permission the chart does
// not grant fails here as in production.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { KubeClient, Manifest } from "../../../../scripts/lib/kube.ts";
import { onePassword } from "../../../../scripts/lib/names.ts";
import { type ApiServer, client, freePorts } from "../api-server.ts";
import { type Running, spawnWatched, stopOne, waitHealthy } from "../flux.ts";
import { type LocalConnect, readSource, startLocalConnect } from "../../played/connect.ts";
import { renderConnectChart } from "./connect-chart.ts";
import { ensureOperatorBinary } from "../../build/onepassword-operator.ts";

interface EnvVar {
  name: string;
  value?: string | null;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}

interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
}

type Deployment = Manifest & { spec: { template: { spec: { containers: Container[] } } } };

export interface OnePasswordOptions {
  /** The operator's POLLING_INTERVAL here, in seconds (a chart value override); production's comes from the chart. */
  pollingSeconds?: number;
  log?: (line: string) => void;
}

export interface OnePasswordSettings {
  /** WATCH_NAMESPACE as the chart renders it: "" is every namespace. */
  watchNamespace: string;
  pollingSeconds: number;
  /** POLLING_INTERVAL of the chart with the HelmRelease's values alone, as production runs it. */
  productionPollingSeconds: number;
  /** AUTO_RESTART, the operator-wide default; a Deployment's operator.1password.io/auto-restart annotation wins over it. */
  autoRestart: string;
  version: string;
}

export interface OnePassword {
  /** Resolves once Connect serves and the operator is healthy; rejects with the reason it could not start. */
  ready: Promise<void>;
  settings: OnePasswordSettings;
  connect(): LocalConnect | undefined;
  /** The operator's recent output (it never logs Secret values). */
  operatorLog(): string;
  /** Stops the operator, as a deleted Pod (Connect keeps serving). */
  stopOperator(): Promise<void>;
  /** Starts it again: it reads its token Secret anew and reconciles every item, as a new Pod would. */
  startOperator(): Promise<void>;
  /** What is played and what is real, one line each, for the demo's output. */
  played: string[];
  stop(): Promise<void>;
}

const fieldManager = "connect-chart-local";
// The operator reads the namespace it runs in from the ServiceAccount mount and exits
// without it, also out of cluster (onepassword-operator 1.9.1 cmd/main.go:125-129,
// pkg/utils/k8sutil.go:46-60). A private mount namespace gives it that file alone: a
// tmpfs over /var/run there, never on the host.
const inPodNamespace = `
ns=$1; shift
mount -t tmpfs -o size=64k,mode=0755 tmpfs /var/run &&
mkdir -p /var/run/secrets/kubernetes.io/serviceaccount &&
printf %s "$ns" > /var/run/secrets/kubernetes.io/serviceaccount/namespace &&
exec "$@"
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function envValue(env: EnvVar[] | undefined, name: string): EnvVar | undefined {
  return env?.find((e) => e.name === name);
}

function containerOf(objects: Manifest[], name: string): Container {
  const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === name) as Deployment | undefined;
  const container = deployment?.spec.template.spec.containers[0];
  if (!container)
    throw new Error(
      `expected the Connect chart to render Deployment ${name}; it did not (operator.create false in the HelmRelease?)`,
    );
  return container;
}

/** Reads a Secret key once it exists, as the kubelet starts a container only then (CreateContainerConfigError before). */
async function waitForSecretKey(
  k: KubeClient,
  namespace: string,
  ref: { name: string; key: string },
  stopped: () => boolean,
): Promise<string> {
  for (;;) {
    if (stopped()) throw new Error("stopped");
    const secret = (await k
      .get({ apiVersion: "v1", kind: "Secret", metadata: { namespace, name: ref.name } })
      .catch(() => undefined)) as { data?: Record<string, string> } | undefined;
    const value = secret?.data?.[ref.key];
    if (value !== undefined) return Buffer.from(value, "base64").toString();
    await sleep(1000);
  }
}

export async function startOnePassword(
  server: ApiServer,
  secretsFile: string,
  opts: OnePasswordOptions = {},
): Promise<OnePassword> {
  const log = opts.log ?? (() => {});
  const { binary, version } = await ensureOperatorBinary(log);
  const local = await renderConnectChart(
    opts.pollingSeconds ? { operator: { pollingInterval: opts.pollingSeconds } } : {},
  );
  const production = await renderConnectChart();
  const { namespace } = local;
  const operatorName =
    (production.release.spec.values?.operator as { applicationName?: string } | undefined)?.applicationName ??
    "onepassword-connect-operator";
  const connectName =
    (production.release.spec.values?.connect as { applicationName?: string } | undefined)?.applicationName ??
    "onepassword-connect";
  const operatorContainer = containerOf(local.objects, operatorName);
  const sessionRef = envValue(containerOf(local.objects, connectName).env, "OP_SESSION")?.valueFrom?.secretKeyRef;
  const tokenRef = envValue(operatorContainer.env, "OP_CONNECT_TOKEN")?.valueFrom?.secretKeyRef;
  if (!sessionRef || !tokenRef)
    throw new Error(
      "expected the Connect chart to read OP_SESSION and OP_CONNECT_TOKEN from Secrets; it does not (authMethod not connect?)",
    );
  const plain = (c: Container, name: string) => String(envValue(c.env, name)?.value ?? "");
  const settings: OnePasswordSettings = {
    watchNamespace: plain(operatorContainer, "WATCH_NAMESPACE"),
    pollingSeconds: Number(plain(operatorContainer, "POLLING_INTERVAL")),
    productionPollingSeconds: Number(plain(containerOf(production.objects, operatorName), "POLLING_INTERVAL")),
    autoRestart: plain(operatorContainer, "AUTO_RESTART"),
    version,
  };

  const k = client(server);
  let stopped = false;
  let connect: LocalConnect | undefined;
  let running: Running | undefined;
  const output = { text: "" };

  // What 1Password holds: Connect's credentials file and the token it issued for this Connect.
  const source = readSource(secretsFile);
  const credentials = source[onePassword.credentialsReference];
  const issuedToken = source[onePassword.tokenReference];
  if (!credentials || !issuedToken)
    throw new Error(
      `expected ${secretsFile} to hold ${onePassword.credentialsReference} and ${onePassword.tokenReference}; one is missing`,
    );

  const startConnect = async () => {
    const session = await waitForSecretKey(k, namespace, sessionRef, () => stopped);
    // Connect reads OP_SESSION as the base64 of its credentials file: with another file it cannot sign in.
    if (Buffer.from(session, "base64").toString() !== credentials) {
      throw new Error(
        `expected Secret ${namespace}/${sessionRef.name} key ${sessionRef.key} to hold the base64 of the Connect credentials file at ${onePassword.credentialsReference}; it holds something else, so Connect cannot sign in; run create-1password-secret`,
      );
    }
    connect = await startLocalConnect(secretsFile, issuedToken);
    log(
      `1Password Connect (played): ${connect.url}, started once Secret ${namespace}/${sessionRef.name} held its credentials; serves vault ${onePassword.vault} from the local secret source`,
    );
  };

  const serviceAccountKubeconfig = async (dir: string): Promise<string> => {
    // The chart's ServiceAccount and RBAC, as helm-controller would install them.
    for (const o of local.objects.filter((o) =>
      ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "RoleBinding"].includes(o.kind),
    )) {
      await k.apply(
        {
          ...o,
          metadata: {
            ...o.metadata,
            namespace:
              o.kind === "ServiceAccount" || o.kind === "RoleBinding" ? (o.metadata.namespace ?? namespace) : undefined,
          },
        } as Manifest,
        { fieldManager },
      );
    }
    const account = local.objects.find((o) => o.kind === "ServiceAccount")?.metadata.name ?? operatorName;
    const { status } = await k.request<{ status: { token: string } }>(
      "POST",
      `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 86400 } },
    );
    const config = parse(readFileSync(server.kubeconfigPath, "utf8")) as {
      users: { name: string; user: Record<string, unknown> }[];
    };
    for (const u of config.users) u.user = { token: status.token };
    const path = join(dir, "kubeconfig");
    writeFileSync(path, stringify(config), { mode: 0o600 });
    return path;
  };

  const startOperator = async () => {
    const token = await waitForSecretKey(k, namespace, tokenRef, () => stopped);
    // The watchdog removes this dir (the ServiceAccount's kubeconfig) when the operator exits.
    const dir = mkdtempSync(join(tmpdir(), "onepassword-operator-"));
    const kubeconfig = await serviceAccountKubeconfig(dir);
    const [health] = await freePorts(1);
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, TMPDIR: dir, KUBECONFIG: kubeconfig };
    for (const e of operatorContainer.env ?? []) {
      if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = `${operatorName}-local`;
      else if (e.valueFrom?.secretKeyRef)
        env[e.name] =
          e.name === "OP_CONNECT_TOKEN"
            ? token
            : await waitForSecretKey(k, namespace, e.valueFrom.secretKeyRef, () => stopped);
      else env[e.name] = e.value ?? "";
    }
    // The one value this machine changes: the chart's in-cluster Service becomes the local Connect.
    env.OP_CONNECT_HOST = connect!.url;
    const args = [
      ...(operatorContainer.args ?? []),
      "--metrics-bind-address=0",
      `--health-probe-bind-address=127.0.0.1:${health}`,
    ];
    const unshare = [
      "unshare",
      ...(process.getuid?.() === 0 ? [] : ["--user", "--map-root-user"]),
      "--mount",
      "--propagation",
      "private",
    ];
    output.text = "";
    const started = spawnWatched(
      "onepassword-operator",
      [...unshare, "/bin/sh", "-c", inPodNamespace, "onepassword-operator", namespace, binary, ...args],
      dir,
      env,
      output,
    );
    running = started;
    await waitHealthy(`the 1Password operator ${version}`, health!, started);
    // A crash later would otherwise show only as Secrets that never come.
    void started.exited.then((code) => {
      if (running === started && !stopped)
        log(
          `1Password operator: exited with code ${code}; its last lines:\n${output.text.split("\n").slice(-10).join("\n")}`,
        );
    });
  };

  const ready = (async () => {
    await startConnect();
    await startOperator();
    const watching = settings.watchNamespace === "" ? "every namespace" : settings.watchNamespace;
    log(
      `1Password operator ${version} (real, built from source): watching ${watching}, polling every ${settings.pollingSeconds} s (production: ${settings.productionPollingSeconds} s), as the chart's ServiceAccount`,
    );
  })();
  ready.catch((error: Error) => {
    if (!stopped) log(`1Password: ${error.message}`);
  });

  return {
    ready,
    settings,
    connect: () => connect,
    operatorLog: () => output.text,
    stopOperator: async () => {
      const current = running;
      running = undefined;
      if (current) await stopOne(current);
    },
    startOperator,
    played: [
      `1Password Connect: played (a local server on loopback, serving the local secret source with Connect's API and errors, checking the operator's token); 1Password's service cannot be reached`,
      `1Password operator ${version}: real (built from source, run out of cluster with the Connect chart ${production.release.spec.chart.spec.version}'s env and RBAC, polling every ${settings.pollingSeconds} s here, ${settings.productionPollingSeconds} s in production); its Connect chart release is left out (patch)`,
    ],
    stop: async () => {
      stopped = true;
      await ready.catch(() => {});
      const current = running;
      running = undefined;
      if (current) await stopOne(current);
      await connect?.stop();
    },
  };
}
