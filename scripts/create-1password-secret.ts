// `moon run docs-prod:create-1password-secret`: reads the 1Password Connect
// credentials and the operator token from 1Password and writes them as Secrets
// into the tenant cluster, by server-side apply (updated in place, never deleted).
import { applyAll, summary } from "./lib/apply.ts";
import { commonHelp, newListr, OperatorError, parseFlowArgs, runMain, say, step, type CommonOptions, isEntryPoint, type Step } from "./lib/cli.ts";
import { tenantClient } from "./lib/clusters.ts";
import type { KubeClient, Manifest } from "./lib/kube.ts";
import { onePassword, tenant } from "./lib/names.ts";
import { secretSource, secretSourceHelp, secretSourceOptionSpecs, type SecretSource } from "./lib/onepassword.ts";

export interface SecretOptions {
  credentialsRef: string;
  tokenRef: string;
}

export interface SecretCtx {
  tenant?: KubeClient;
  credentials?: string;
  token?: string;
}

const optionSpecs = {
  ...secretSourceOptionSpecs,
  "credentials-ref": { type: "string" },
  "token-ref": { type: "string" },
} as const;

const help = `Usage: moon run docs-prod:create-1password-secret -- [options]

Writes Secret ${onePassword.namespace}/${onePassword.credentialsSecret.name} (key ${onePassword.credentialsSecret.key}, the base64 of the
Connect credentials JSON) and Secret ${onePassword.namespace}/${onePassword.tokenSecret.name} (key ${onePassword.tokenSecret.key}) into ${tenant.app}.

  --credentials-ref REF          Connect credentials file (env OP_CONNECT_CREDENTIALS_REF;
                                 default ${onePassword.credentialsReference})
  --token-ref REF                operator token (env OP_OPERATOR_TOKEN_REF;
                                 default ${onePassword.tokenReference})
${secretSourceHelp}

${commonHelp}`;

/** The fields 1Password Connect reads from its credentials file. */
const credentialFields = ["verifier", "encCredentials", "version", "deviceUuid", "uniqueKey"];

export function checkCredentials(json: string, reference: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new OperatorError(`expected ${reference} to hold the Connect credentials file as JSON; it does not parse as JSON; re-export 1password-credentials.json into that field`);
  }
  const missing = credentialFields.filter((f) => !(parsed && typeof parsed === "object" && f in parsed));
  if (missing.length > 0) {
    throw new OperatorError(`expected the Connect credentials JSON at ${reference} to have ${credentialFields.join(", ")}; missing ${missing.join(", ")}; re-export 1password-credentials.json into that field`);
  }
}

export function connectSecrets(credentials: string, token: string): Manifest[] {
  const secret = (name: string, key: string, value: string): Manifest => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: onePassword.namespace },
    type: "Opaque",
    data: { [key]: Buffer.from(value).toString("base64") },
  });
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: onePassword.namespace } },
    // Connect reads OP_SESSION as base64-encoded JSON, so the value is the base64 of the file.
    secret(onePassword.credentialsSecret.name, onePassword.credentialsSecret.key, Buffer.from(credentials).toString("base64")),
    secret(onePassword.tokenSecret.name, onePassword.tokenSecret.key, token),
  ];
}

/** The steps after the tenant is resolved; bootstrap runs them in-process. */
export function secretSteps<Ctx extends SecretCtx>(refs: SecretOptions, secrets: () => SecretSource, dryRun: boolean): Step<Ctx>[] {
  return [
    step(`Read the Connect credentials from 1Password (${refs.credentialsRef})`, async (ctx) => {
      ctx.credentials = await secrets().resolve(refs.credentialsRef);
      checkCredentials(ctx.credentials, refs.credentialsRef);
    }),
    step(`Read the operator token from 1Password (${refs.tokenRef})`, async (ctx) => {
      ctx.token = (await secrets().resolve(refs.tokenRef)).trim();
      if (!ctx.token) throw new OperatorError(`expected a non-empty operator token at ${refs.tokenRef}; it is empty; set the field's value in 1Password`);
    }),
    step(`Apply namespace ${onePassword.namespace} and the Connect Secrets to ${tenant.app}`, async (ctx, task) => {
      const results = await applyAll(ctx.tenant!, connectSecrets(ctx.credentials!, ctx.token!), { dryRun }, (a) =>
        say(task, `${a.ref} ${a.action}${a.note ? ` (${a.note})` : ""}`),
      );
      task.title = `Apply namespace ${onePassword.namespace} and the Connect Secrets to ${tenant.app}: ${summary(results, dryRun)}`;
    }),
  ];
}

export function secretRefs(values: { "credentials-ref"?: string; "token-ref"?: string }): SecretOptions {
  return {
    credentialsRef: values["credentials-ref"] ?? process.env.OP_CONNECT_CREDENTIALS_REF ?? onePassword.credentialsReference,
    tokenRef: values["token-ref"] ?? process.env.OP_OPERATOR_TOKEN_REF ?? onePassword.tokenReference,
  };
}

/** One secret source per run, created on first use (the 1Password client is costly). */
export function lazySecretSource(values: { "secrets-from"?: string; "local-secrets"?: string }): () => SecretSource {
  let source: SecretSource | undefined;
  return () => (source ??= secretSource({ from: values["secrets-from"], localSecrets: values["local-secrets"] }));
}

export function tenantStep<Ctx extends { tenant?: KubeClient }>(common: CommonOptions, secrets: () => SecretSource): Step<Ctx> {
  const from = common.tenantKubeconfig ?? (common.tenantKubeconfigFrom === "1password" ? tenant.kubeconfigTemplate : `${tenant.kubeconfigSecret.namespace}/${tenant.kubeconfigSecret.name}`);
  return step(`Read the tenant kubeconfig from ${from}`, async (ctx, task) => {
    const access = await tenantClient(common, secrets);
    ctx.tenant = access.client;
    say(task, `${tenant.app} at ${access.client.server}`);
  });
}

export async function main(argv: string[]): Promise<void> {
  const { common, values, help: wantsHelp } = parseFlowArgs(argv, optionSpecs);
  if (wantsHelp) return void console.log(help);
  const secrets = lazySecretSource(values);
  await newListr<SecretCtx>([tenantStep(common, secrets), ...secretSteps(secretRefs(values), secrets, common.dryRun)]).run({});
}

if (isEntryPoint("create-1password-secret")) process.exitCode = await runMain(() => main(process.argv.slice(2)));
