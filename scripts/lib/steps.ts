// The steps several flows run the same way: reaching each cluster, and writing the
// 1Password Connect Secrets (create-1password-secret and bootstrap). Each returns
// what it found.
import { type Applied, applyAll, summary } from "./apply.ts";
import type { CommonOptions, Steps } from "./cli.ts";
import { managementClient, tenantClient } from "./clusters.ts";
import { checkCredentials, connectSecrets, type SecretRefs } from "./connect-secrets.ts";
import { OperatorError } from "./errors.ts";
import type { KubeClient } from "./kube.ts";
import { onePassword, tenant } from "./names.ts";
import type { SecretSource } from "./onepassword.ts";

/** Where the tenant kubeconfig is read from, as step titles name it. */
function tenantOrigin(cluster: CommonOptions): string {
  if (cluster.tenantKubeconfig) return cluster.tenantKubeconfig;
  return cluster.tenantKubeconfigFrom === "1password"
    ? tenant.kubeconfigTemplate
    : `${tenant.kubeconfigSecret.namespace}/${tenant.kubeconfigSecret.name}`;
}

/** Reads the tenant kubeconfig from the source the options choose; the tenant's client. */
export function readTenant(steps: Steps, cluster: CommonOptions, secrets: () => SecretSource): Promise<KubeClient> {
  return steps.run(`Read the tenant kubeconfig from ${tenantOrigin(cluster)}`, async (task) => {
    const access = await tenantClient(cluster, secrets);
    // A server URL that came from 1Password is part of the secret item: it is not printed.
    task.say(
      `${tenant.app} at ${access.showServer ? access.client.server : "the server named in the 1Password item (not shown)"}`,
    );
    return access.client;
  });
}

/** Reads the management kubeconfig; the management cluster's client. */
export function readManagement(steps: Steps, cluster: CommonOptions): Promise<KubeClient> {
  return steps.run(
    `Read the management kubeconfig${cluster.managementContext ? ` (context ${cluster.managementContext})` : ""}`,
    async (task) => {
      const client = await managementClient(cluster);
      task.say(`${client.label} at ${client.server}`);
      return client;
    },
  );
}

/** Reads both Connect values, then applies the Secrets to the tenant; what the apply did. */
export async function writeConnectSecrets(
  steps: Steps,
  tenantClient: KubeClient,
  refs: SecretRefs,
  secrets: () => SecretSource,
  dryRun: boolean,
): Promise<Applied[]> {
  const credentials = await steps.run(
    `Read the Connect credentials from 1Password (${refs.credentialsRef})`,
    async () => {
      const value = await secrets().resolve(refs.credentialsRef);
      checkCredentials(value, refs.credentialsRef);
      return value;
    },
  );
  const token = await steps.run(`Read the operator token from 1Password (${refs.tokenRef})`, async () => {
    const value = (await secrets().resolve(refs.tokenRef)).trim();
    if (!value)
      throw new OperatorError(
        `expected a non-empty operator token at ${refs.tokenRef}; it is empty; set the field's value in 1Password`,
      );
    return value;
  });
  return steps.run(
    `Apply namespace ${onePassword.namespace} and the Connect Secrets to ${tenant.app}`,
    async (task) => {
      const results = await applyAll(tenantClient, connectSecrets(credentials, token), { dryRun }, (a) =>
        task.say(`${a.ref} ${a.action}${a.note ? ` (${a.note})` : ""}`),
      );
      task.title = `Apply namespace ${onePassword.namespace} and the Connect Secrets to ${tenant.app}: ${summary(results, dryRun)}`;
      return results;
    },
  );
}
