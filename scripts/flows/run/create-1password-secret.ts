// create-1password-secret's steps, loaded once its command line is parsed (scripts/flows/create-1password-secret.ts).
import { type CommonOptions, newSteps } from "../../lib/cli.ts";
import type { SecretRefs } from "../../lib/connect-secrets.ts";
import { lazySecretSource, type SecretSourceOptions } from "../../lib/onepassword.ts";
import { readTenant, writeConnectSecrets } from "../../lib/steps.ts";

/** What create-1password-secret does, as its command line asked. */
export interface CreateSecretOptions {
  cluster: CommonOptions;
  secrets: SecretSourceOptions;
  /** Where the Connect credentials and the operator token are read in 1Password. */
  refs: SecretRefs;
}

export async function run(opts: CreateSecretOptions): Promise<void> {
  const steps = newSteps();
  const secrets = lazySecretSource(opts.secrets);
  const tenant = await readTenant(steps, opts.cluster, secrets);
  await writeConnectSecrets(steps, tenant, opts.refs, secrets, opts.cluster.dryRun);
}
