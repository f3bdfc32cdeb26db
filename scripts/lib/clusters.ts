// The two clusters a flow talks to: the management cluster from the operator's
// kubeconfig, and the tenant cluster from a file, the Cozystack Secret, or 1Password.
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import type { CommonOptions } from "./cli.ts";
import { OperatorError, registerSecret } from "./errors.ts";
import { KubeApiError, KubeClient } from "./kube.ts";
import { management, tenant } from "./names.ts";
import { injectSecrets, type SecretSource } from "./onepassword.ts";
import { repoRoot } from "./paths.ts";

/** client-node takes a while to load: only flows that talk to a cluster pay for it. */
async function newKubeConfig(): Promise<KubeConfig> {
  const { KubeConfig } = await import("./kubeconfig-class.ts");
  return new KubeConfig();
}

/** Parses a kubeconfig and checks that it names a usable current context. */
export async function parseKubeconfig(text: string, origin: string): Promise<KubeConfig> {
  const kc = await newKubeConfig();
  try {
    kc.loadFromString(text);
  } catch (error) {
    throw new OperatorError(`expected a kubeconfig in ${origin}; it does not parse (${(error as Error).message.split("\n")[0]}); fix or replace it`);
  }
  checkUsable(kc, origin);
  return kc;
}

function checkUsable(kc: KubeConfig, origin: string): void {
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context) {
    throw new OperatorError(`expected a kubeconfig with a current context in ${origin}; found contexts [${kc.getContexts().map((c) => c.name).join(", ")}] and current-context "${kc.getCurrentContext()}"; set current-context`);
  }
  const cluster = kc.getCluster(context.cluster);
  if (!cluster?.server) {
    throw new OperatorError(`expected cluster "${context.cluster}" with a server URL in ${origin}; found none; fix the kubeconfig`);
  }
  const user = kc.getUser(context.user);
  for (const value of [user?.token, user?.password, user?.keyData, user?.certData]) if (value) registerSecret(value);
}

const managementClients = new Map<string, Promise<KubeClient>>();

/**
 * The management cluster: $KUBECONFIG or ~/.kube/config, at --management-context or
 * the current one. One client per process (one kubeconfig read, one kept-alive
 * connection), however many steps ask for it; a failure is the same for each.
 */
export function managementClient(opts: Pick<CommonOptions, "managementContext">): Promise<KubeClient> {
  const key = `${process.env.KUBECONFIG ?? ""}\0${opts.managementContext ?? ""}`;
  let client = managementClients.get(key);
  if (!client) {
    client = loadManagementClient(opts);
    managementClients.set(key, client);
  }
  return client;
}

async function loadManagementClient(opts: Pick<CommonOptions, "managementContext">): Promise<KubeClient> {
  const kc = await newKubeConfig();
  const origin = process.env.KUBECONFIG ?? "~/.kube/config";
  try {
    kc.loadFromDefault();
  } catch (error) {
    throw new OperatorError(`expected a kubeconfig for the management cluster in ${origin}; it does not parse (${(error as Error).message.split("\n")[0]}); fix it or set KUBECONFIG`);
  }
  if (opts.managementContext) {
    if (!kc.getContextObject(opts.managementContext)) {
      throw new OperatorError(`expected context "${opts.managementContext}" in ${origin}; found [${kc.getContexts().map((c) => c.name).join(", ")}]; pass one of them to --management-context`);
    }
    kc.setCurrentContext(opts.managementContext);
  }
  checkUsable(kc, origin);
  return new KubeClient(kc, `${management.cluster} (context ${kc.getCurrentContext()})`);
}

export interface TenantAccess {
  client: KubeClient;
  /** Where the kubeconfig came from, for step titles. */
  origin: string;
}

/** Resolves the tenant kubeconfig from the source the options choose. */
export async function tenantClient(opts: CommonOptions, secrets: () => SecretSource): Promise<TenantAccess> {
  const label = tenant.app;
  if (opts.tenantKubeconfig) {
    let text: string;
    try {
      text = readFileSync(opts.tenantKubeconfig, "utf8");
    } catch (error) {
      throw new OperatorError(`expected a tenant kubeconfig file at ${opts.tenantKubeconfig}; ${(error as NodeJS.ErrnoException).code ?? "unreadable"}; pass an existing file`);
    }
    return { client: new KubeClient(await parseKubeconfig(text, opts.tenantKubeconfig), label), origin: opts.tenantKubeconfig };
  }
  if (opts.tenantKubeconfigFrom === "1password") {
    const origin = tenant.kubeconfigTemplate;
    const text = await injectSecrets(readFileSync(join(repoRoot, origin), "utf8"), secrets());
    registerSecret(text.trim());
    return { client: new KubeClient(await parseKubeconfig(text, `${origin} (rendered from ${secrets().description})`), label), origin };
  }
  const { namespace, name } = tenant.kubeconfigSecret;
  const origin = `${namespace}/${name}`;
  const mgmt = await managementClient(opts);
  let secret: { data?: Record<string, string> } | undefined;
  try {
    secret = (await mgmt.get({ apiVersion: "v1", kind: "Secret", metadata: { namespace, name } })) as typeof secret;
  } catch (error) {
    if (error instanceof KubeApiError && error.code === 401) throw new OperatorError(error.message);
    if (error instanceof KubeApiError) throw new OperatorError(`expected to read Secret ${origin} in ${mgmt.label}; the API answered ${error.code} ${error.message}`);
    throw error;
  }
  if (!secret) {
    throw new OperatorError(`expected Secret ${origin} in ${mgmt.label} (Cozystack writes it for ${tenant.release}); it does not exist; check --management-context or pass --tenant-kubeconfig PATH`);
  }
  const encoded = secret.data?.[opts.tenantKubeconfigKey];
  if (encoded !== undefined && Buffer.from(encoded, "base64").toString("utf8").trim() === "") {
    throw new OperatorError(`expected key "${opts.tenantKubeconfigKey}" in Secret ${origin} to hold a kubeconfig; it is empty; check the tenant cluster in Cozystack, or pass another key with --tenant-kubeconfig-key`);
  }
  if (!encoded) {
    throw new OperatorError(`expected key "${opts.tenantKubeconfigKey}" in Secret ${origin}; found keys [${Object.keys(secret.data ?? {}).join(", ")}]; pass one with --tenant-kubeconfig-key`);
  }
  const text = Buffer.from(encoded, "base64").toString("utf8");
  registerSecret(text.trim());
  return { client: new KubeClient(await parseKubeconfig(text, `Secret ${origin} key ${opts.tenantKubeconfigKey}`), label), origin: `Secret ${origin}` };
}

/** Writes a kubeconfig for helm or kubectl: mode 0600 (the name is git-ignored). */
export function writeKubeconfig(kc: KubeConfig, path: string): void {
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  chmodSync(path, 0o600);
}
