// Plays Flux's status writes on API servers where no Flux controller runs: the
// Ready condition a controller would set, through the status subresource.
import { type ApiServer, client } from "../components/api-server.ts";

/**
 * Plays Flux's kustomize-controller: marks a Kustomization Ready (or not) through its
 * status, for the object's current generation unless `observedGeneration` says otherwise.
 */
export async function setFluxReady(
  server: ApiServer,
  kind: string,
  apiVersion: string,
  namespace: string,
  name: string,
  ready: boolean,
  message: string,
  observedGeneration?: number,
): Promise<void> {
  const c = client(server);
  const ref = { apiVersion, kind, metadata: { name, namespace } };
  const live = (await c.get(ref)) as { metadata: { generation?: number } } | undefined;
  const observed = observedGeneration ?? live?.metadata.generation ?? 1;
  await c.patchStatus(ref, {
    observedGeneration: observed,
    conditions: [
      {
        type: "Ready",
        observedGeneration: observed,
        status: ready ? "True" : "False",
        reason: ready ? "ReconciliationSucceeded" : "ReconciliationFailed",
        message,
        lastTransitionTime: new Date().toISOString(),
      },
    ],
  });
}
