// Plays Cozystack's part in the management cluster: the namespace tenant-root and
// the tenant's admin kubeconfig Secret, as the Kubernetes app's release writes them.
import { tenant } from "../../../scripts/lib/names.ts";
import { type ApiServer, client } from "../components/api-server.ts";

/** Seeds the management cluster as Cozystack does: tenant-root and the tenant's admin kubeconfig Secret. */
export async function seedCozystack(
  mgmt: ApiServer,
  tenantServer: ApiServer,
  data?: Record<string, string>,
): Promise<void> {
  const c = client(mgmt);
  const { namespace, name } = tenant.kubeconfigSecret;
  const kubeconfig = Buffer.from(tenantServer.kubeConfig.exportConfig()).toString("base64");
  await c.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }, { fieldManager: "cozystack" });
  await c.apply(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace },
      data: data ?? { "super-admin.conf": kubeconfig, "admin.conf": kubeconfig },
    },
    { fieldManager: "cozystack" },
  );
}
