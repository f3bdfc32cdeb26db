// create-1password-secret's steps, loaded once its command line is parsed (scripts/flows/create-1password-secret.ts).
import { newListr } from "../../lib/cli.ts";
import { secretRefs } from "../../lib/connect-secrets.ts";
import { lazySecretSource } from "../../lib/onepassword.ts";
import { type SecretCtx, secretSteps, tenantStep } from "../../lib/steps.ts";
import type { Args } from "../create-1password-secret.ts";

export async function run({ common, values }: Args): Promise<void> {
  const secrets = lazySecretSource(values);
  await newListr<SecretCtx>([tenantStep(common, secrets), ...secretSteps(secretRefs(values), secrets, common.dryRun)]).run({});
}

