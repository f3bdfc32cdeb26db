// The listr2 steps several flows run the same way: reaching each cluster, and
// writing the 1Password Connect Secrets (create-1password-secret and bootstrap).
import { applyAll, summary } from "./apply.ts";
import { type CommonOptions, say, step, type Step } from "./cli.ts";
import { managementClient, tenantClient } from "./clusters.ts";
import { checkCredentials, connectSecrets, type SecretRefs } from "./connect-secrets.ts";
import { OperatorError } from "./errors.ts";
import type { KubeClient } from "./kube.ts";
import { onePassword, tenant } from "./names.ts";
import type { SecretSource } from "./onepassword.ts";

export interface TenantCtx {
  tenant?: KubeClient;
}

export interface ManagementCtx {
  management?: KubeClient;
}

export interface SecretCtx extends TenantCtx {
  credentials?: string;
  token?: string;
}

export function tenantStep<Ctx extends TenantCtx>(common: CommonOptions, secrets: () => SecretSource): Step<Ctx> {
  const from = common.tenantKubeconfig ?? (common.tenantKubeconfigFrom === "1password" ? tenant.kubeconfigTemplate : `${tenant.kubeconfigSecret.namespace}/${tenant.kubeconfigSecret.name}`);
  return step(`Read the tenant kubeconfig from ${from}`, async (ctx, task) => {
    const access = await tenantClient(common, secrets);
    ctx.tenant = access.client;
    say(task, `${tenant.app} at ${access.client.server}`);
  });
}

export function managementStep<Ctx extends ManagementCtx>(common: CommonOptions): Step<Ctx> {
  return step(`Read the management kubeconfig${common.managementContext ? ` (context ${common.managementContext})` : ""}`, async (ctx, task) => {
    ctx.management = await managementClient(common);
    say(task, `${ctx.management.label} at ${ctx.management.server}`);
  });
}

/** The steps after the tenant is resolved: read both values, then apply the Secrets. */
export function secretSteps<Ctx extends SecretCtx>(refs: SecretRefs, secrets: () => SecretSource, dryRun: boolean): Step<Ctx>[] {
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
