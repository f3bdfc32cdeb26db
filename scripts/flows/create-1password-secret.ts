// `moon run docs-prod:create-1password-secret`: reads the 1Password Connect
// credentials and the operator token from 1Password and writes them as Secrets
// into the tenant cluster, by server-side apply (updated in place, never deleted).
import { clusterOptionSpecs, commonHelp, parseFlowArgs } from "../lib/cli.ts";
import { secretRefs } from "../lib/connect-secrets.ts";
import { onePassword, tenant } from "../lib/names.ts";
import { secretSourceHelp, secretSourceOptions, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import type { CreateSecretOptions } from "./run/create-1password-secret.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
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

Examples:
  moon run docs-prod:create-1password-secret
  moon run docs-prod:create-1password-secret -- --dry-run
  moon run docs-prod:create-1password-secret -- --tenant-kubeconfig ~/tenant.kubeconfig --secrets-from local --local-secrets secrets.json

${commonHelp}`;

export async function main(argv: string[]): Promise<void> {
  const { common, values } = parseFlowArgs(argv, optionSpecs, help);
  const options: CreateSecretOptions = {
    cluster: common,
    secrets: secretSourceOptions(values),
    refs: secretRefs(values),
  };
  return (await import("./run/create-1password-secret.ts")).run(options);
}
