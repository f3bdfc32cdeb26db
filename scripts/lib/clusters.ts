// The two clusters a flow talks to: the management cluster from the operator's
// kubeconfig, and the tenant cluster from a file, the Cozystack Secret, or 1Password.
// A kubeconfig from the operator's disk is theirs, taken as kubectl takes it; one read
// from a cluster or a secret store is checked field by field before anything uses it.
import { existsSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { parseDocument } from "yaml";
import type { CommonOptions } from "./cli.ts";
import { describeFsError, OperatorError, registerSecret } from "./errors.ts";
import { KubeApiError, KubeClient } from "./kube.ts";
import { management, tenant } from "./names.ts";
import { injectSecrets, type SecretSource } from "./onepassword.ts";
import { repoRoot } from "./paths.ts";

/** client-node takes a while to load: only flows that talk to a cluster pay for it. */
async function newKubeConfig(): Promise<KubeConfig> {
  const { KubeConfig } = await import("./kubeconfig-class.ts");
  return new KubeConfig();
}

/** Parses a kubeconfig of the operator's own (a file they pass) and checks that it names a usable current context. */
export async function parseKubeconfig(text: string, origin: string): Promise<KubeConfig> {
  if (text.trim() === "") throw new OperatorError(`expected a kubeconfig in ${origin}; it is empty; fix or replace it`);
  const kc = await newKubeConfig();
  try {
    kc.loadFromString(text);
  } catch (error) {
    throw new OperatorError(
      `expected a kubeconfig in ${origin}; it does not parse (${(error as Error).message.split("\n")[0]}); fix or replace it`,
    );
  }
  checkUsable(kc, origin, true);
  return kc;
}

/** `show` false: the server URL came from a secret store and is not printed. */
function checkUsable(kc: KubeConfig, origin: string, show: boolean): void {
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context) {
    throw new OperatorError(
      `expected a kubeconfig with a current context in ${origin}; found contexts [${kc
        .getContexts()
        .map((c) => c.name)
        .join(", ")}] and current-context "${kc.getCurrentContext()}"; set current-context`,
    );
  }
  const cluster = kc.getCluster(context.cluster);
  if (!cluster?.server) {
    throw new OperatorError(
      `expected cluster "${context.cluster}" with a server URL in ${origin}; found none; fix the kubeconfig`,
    );
  }
  if (!URL.canParse(cluster.server)) {
    throw new OperatorError(
      `expected cluster "${context.cluster}" in ${origin} to have a server URL such as https://api.example.com:6443; found ${show ? `"${cluster.server}"` : "a value that is not a URL (not shown: it comes from the secret)"}; fix the kubeconfig`,
    );
  }
  const user = kc.getUser(context.user);
  for (const value of [user?.token, user?.password, user?.keyData, user?.certData]) if (value) registerSecret(value);
}

/** What each field a kubeconfig from a cluster or secret store may hold is; anything else is refused. */
const untrustedFields: Record<string, Record<string, "string" | "false" | "empty" | "list">> = {
  "": {
    apiVersion: "string",
    kind: "string",
    clusters: "list",
    users: "list",
    contexts: "list",
    "current-context": "string",
    preferences: "empty",
  },
  cluster: { server: "string", "certificate-authority-data": "string", "insecure-skip-tls-verify": "false" },
  user: { token: "string", "client-certificate-data": "string", "client-key-data": "string" },
  context: { cluster: "string", user: "string", namespace: "string", name: "string" },
};

/** Why a field outside the allowed ones is refused, for the fields that matter most. */
const refusedFields: Record<string, string> = {
  exec: "a credential plugin: a program this machine would run",
  "auth-provider": "an auth provider plugin",
  "insecure-skip-tls-verify": "it turns TLS verification off",
  "token-file": "a file on this machine read as the token",
  "client-certificate": "a file on this machine",
  "client-key": "a file on this machine",
  "certificate-authority": "a file on this machine",
  "proxy-url": "a proxy the requests would go through",
  "tls-server-name": "a TLS name other than the server's",
  as: "impersonation",
  username: "basic authentication",
  password: "basic authentication",
};

/**
 * A kubeconfig read from a cluster (the Cozystack Secret) or a secret store (1Password):
 * whoever can write there writes it, so it may hold only a server (https://), the CA,
 * and a token or a client certificate, given inline. Anything else (an exec plugin or
 * auth provider that would run code on this machine, which holds the operator's
 * credentials; a file path; a proxy; TLS checks turned off) is refused with one line
 * naming where it came from. client-node never parses the text: the KubeConfig is built
 * from the checked fields alone. `show` false: the server URL is not printed.
 */
export async function untrustedKubeconfig(text: string, origin: string, show: boolean): Promise<KubeConfig> {
  const refuse = (field: string, why: string) =>
    new OperatorError(
      `expected the kubeconfig in ${origin} to hold only a server URL, a CA and a token or client certificate; found ${field} (${why}); refusing it: a kubeconfig from a cluster or a secret store must not run a program, read a file or weaken TLS on this machine; fix it there, or pass a kubeconfig you trust with --tenant-kubeconfig PATH`,
    );
  if (text.trim() === "")
    throw new OperatorError(
      `expected a kubeconfig in ${origin}; it is empty; fix it there, or pass a kubeconfig you trust with --tenant-kubeconfig PATH`,
    );
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new OperatorError(
      `expected a kubeconfig in ${origin}; it does not parse (${doc.errors[0]!.message.split("\n")[0]}); fix it there`,
    );
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const check = (value: unknown, kind: string, at: string): Record<string, unknown> => {
    if (!isMap(value)) throw refuse(at || "the document", "not a map");
    for (const [key, field] of Object.entries(value)) {
      const path = at ? `${at}.${key}` : key;
      const allowed = untrustedFields[kind]![key];
      const ok =
        allowed === "string"
          ? typeof field === "string"
          : allowed === "false"
            ? field === false
            : allowed === "empty"
              ? isMap(field) && Object.keys(field).length === 0
              : allowed === "list"
                ? Array.isArray(field)
                : false;
      if (!ok)
        throw refuse(path, refusedFields[key] ?? (allowed ? "a value of the wrong kind" : "a field not allowed here"));
    }
    return value;
  };
  let parsed: unknown;
  try {
    // Aliases expand here; a document that expands into a huge one is refused, not built.
    parsed = doc.toJS({ maxAliasCount: 10 });
  } catch (error) {
    throw new OperatorError(
      `expected a kubeconfig in ${origin}; it does not parse (${(error as Error).message.split("\n")[0]}); fix it there`,
    );
  }
  const top = check(parsed, "", "");
  const entries = (list: string, kind: string) =>
    ((top[list] as unknown[] | undefined) ?? []).map((entry, i) => {
      const at = `${list}[${i}]`;
      if (!isMap(entry) || typeof entry.name !== "string") throw refuse(at, "an entry without a name");
      for (const key of Object.keys(entry))
        if (key !== "name" && key !== kind)
          throw refuse(`${at}.${key}`, refusedFields[key] ?? "a field not allowed here");
      return { name: entry.name, fields: check(entry[kind] ?? {}, kind, `${at}.${kind}`) };
    });
  const clusters = entries("clusters", "cluster").map(({ name, fields }) => {
    const server = typeof fields.server === "string" ? fields.server : "";
    if (!URL.canParse(server) || new URL(server).protocol !== "https:") {
      throw new OperatorError(
        `expected cluster "${name}" in the kubeconfig in ${origin} to have an https:// server URL; found ${show ? `"${server}"` : "another value (not shown: it comes from the secret)"}; fix it there`,
      );
    }
    if (!show) registerSecret(server);
    return {
      name,
      server: server.replace(/\/$/, ""),
      caData: fields["certificate-authority-data"] as string | undefined,
      skipTLSVerify: false,
    };
  });
  const users = entries("users", "user").map(({ name, fields }) => ({
    name,
    token: fields.token as string | undefined,
    certData: fields["client-certificate-data"] as string | undefined,
    keyData: fields["client-key-data"] as string | undefined,
  }));
  const contexts = entries("contexts", "context").map(({ name, fields }) => ({
    name,
    cluster: String(fields.cluster ?? ""),
    user: fields.user as string | undefined,
    namespace: fields.namespace as string | undefined,
  }));
  const kc = await newKubeConfig();
  kc.loadFromOptions({ clusters, users, contexts, currentContext: top["current-context"] as string | undefined });
  checkUsable(kc, origin, show);
  return kc;
}

const managementClients = new Map<string, Promise<KubeClient>>();

/**
 * The management cluster: $KUBECONFIG or ~/.kube/config, at --management-context or
 * the current one. One client per process (one kubeconfig read, one kept-alive
 * connection), however many steps ask for it; a failure is the same for each.
 */
export function managementClient(opts: Pick<CommonOptions, "managementContext">): Promise<KubeClient> {
  const key = `${process.env.KUBECONFIG ?? ""}\0${homedir()}\0${opts.managementContext ?? ""}`;
  let client = managementClients.get(key);
  if (!client) {
    client = loadManagementClient(opts);
    managementClients.set(key, client);
  }
  return client;
}

/**
 * The files client-node reads for the management cluster, checked first: without any,
 * client-node would quietly fall back to http://localhost:8080 and fail far later.
 */
function managementKubeconfigFiles(): string[] {
  const fromEnv = (process.env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  const files = fromEnv.length > 0 ? fromEnv : [join(homedir(), ".kube", "config")];
  if (fromEnv.length === 0 && !existsSync(files[0]!) && !process.env.KUBERNETES_SERVICE_HOST) {
    throw new OperatorError(
      `expected a kubeconfig for the management cluster; found none: KUBECONFIG is not set and ${files[0]} does not exist; set KUBECONFIG to the management cluster's kubeconfig (or write it to ~/.kube/config)`,
    );
  }
  for (const file of fromEnv) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new OperatorError(
        `expected the kubeconfig KUBECONFIG names at ${file}; ${describeFsError(error)}; fix KUBECONFIG or the file`,
      );
    }
    if (text.trim() === "")
      throw new OperatorError(
        `expected a kubeconfig for the management cluster in ${file} (KUBECONFIG); it is empty; fix KUBECONFIG or the file`,
      );
  }
  if (fromEnv.length === 0 && existsSync(files[0]!) && readFileSync(files[0]!, "utf8").trim() === "") {
    throw new OperatorError(
      `expected a kubeconfig for the management cluster in ${files[0]}; it is empty; write the management cluster's kubeconfig there, or set KUBECONFIG`,
    );
  }
  return files;
}

async function loadManagementClient(opts: Pick<CommonOptions, "managementContext">): Promise<KubeClient> {
  const origin = managementKubeconfigFiles().join(delimiter);
  const kc = await newKubeConfig();
  try {
    kc.loadFromDefault();
  } catch (error) {
    throw new OperatorError(
      `expected a kubeconfig for the management cluster in ${origin}; it does not parse (${(error as Error).message.split("\n")[0]}); fix it or set KUBECONFIG`,
    );
  }
  if (opts.managementContext) {
    if (!kc.getContextObject(opts.managementContext)) {
      throw new OperatorError(
        `expected context "${opts.managementContext}" in ${origin}; found [${kc
          .getContexts()
          .map((c) => c.name)
          .join(", ")}]; pass one of them to --management-context`,
      );
    }
    kc.setCurrentContext(opts.managementContext);
  }
  checkUsable(kc, origin, true);
  return new KubeClient(kc, `${management.cluster} (context ${kc.getCurrentContext()})`);
}

export interface TenantAccess {
  client: KubeClient;
  /** Where the kubeconfig came from, for step titles. */
  origin: string;
  /** False when the server URL came from a secret store: it is not printed. */
  showServer: boolean;
}

/** Resolves the tenant kubeconfig from the source the options choose. */
export async function tenantClient(opts: CommonOptions, secrets: () => SecretSource): Promise<TenantAccess> {
  const label = tenant.app;
  if (opts.tenantKubeconfig) {
    let text: string;
    try {
      text = readFileSync(opts.tenantKubeconfig, "utf8");
    } catch (error) {
      throw new OperatorError(
        `expected a tenant kubeconfig file at ${opts.tenantKubeconfig}; ${(error as NodeJS.ErrnoException).code ?? "unreadable"}; pass an existing file`,
      );
    }
    return {
      client: new KubeClient(await parseKubeconfig(text, opts.tenantKubeconfig), label),
      origin: opts.tenantKubeconfig,
      showServer: true,
    };
  }
  if (opts.tenantKubeconfigFrom === "1password") {
    const origin = tenant.kubeconfigTemplate;
    const text = await injectSecrets(readFileSync(join(repoRoot, origin), "utf8"), secrets());
    registerSecret(text.trim());
    return {
      client: new KubeClient(
        await untrustedKubeconfig(text, `${origin} (rendered from ${secrets().description})`, false),
        label,
      ),
      origin,
      showServer: false,
    };
  }
  const { namespace, name } = tenant.kubeconfigSecret;
  const origin = `${namespace}/${name}`;
  const mgmt = await managementClient(opts);
  let secret: { data?: Record<string, string> } | undefined;
  try {
    secret = (await mgmt.get({ apiVersion: "v1", kind: "Secret", metadata: { namespace, name } })) as typeof secret;
  } catch (error) {
    if (error instanceof KubeApiError && error.explained) throw new OperatorError(error.message);
    if (error instanceof KubeApiError)
      throw new OperatorError(
        `expected to read Secret ${origin} in ${mgmt.label}; the API answered ${error.code} ${error.message}`,
      );
    throw error;
  }
  if (!secret) {
    throw new OperatorError(
      `expected Secret ${origin} in ${mgmt.label} (Cozystack writes it for ${tenant.release}); it does not exist; check --management-context or pass --tenant-kubeconfig PATH`,
    );
  }
  const encoded = secret.data?.[opts.tenantKubeconfigKey];
  if (encoded !== undefined && Buffer.from(encoded, "base64").toString("utf8").trim() === "") {
    throw new OperatorError(
      `expected key "${opts.tenantKubeconfigKey}" in Secret ${origin} to hold a kubeconfig; it is empty; check the tenant cluster in Cozystack, or pass another key with --tenant-kubeconfig-key`,
    );
  }
  if (!encoded) {
    throw new OperatorError(
      `expected key "${opts.tenantKubeconfigKey}" in Secret ${origin}; found keys [${Object.keys(secret.data ?? {}).join(", ")}]; pass one with --tenant-kubeconfig-key`,
    );
  }
  const text = Buffer.from(encoded, "base64").toString("utf8");
  registerSecret(text.trim());
  return {
    client: new KubeClient(
      await untrustedKubeconfig(text, `Secret ${origin} key ${opts.tenantKubeconfigKey}`, true),
      label,
    ),
    origin: `Secret ${origin}`,
    showServer: true,
  };
}

/** Writes a kubeconfig for helm or kubectl: mode 0600 (the name is git-ignored). */
export function writeKubeconfig(kc: KubeConfig, path: string): void {
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  chmodSync(path, 0o600);
}
