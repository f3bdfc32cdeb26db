// verify's tenant checks: Flux reconciled apps/docs-prod, each relay Deployment is
// available with its LoadBalancer address, and the Secrets the parts need exist.
import { buildApp, type Patch } from "../apps.ts";
import { type KubeClient, type Live, type Manifest, readyCondition } from "../kube.ts";
import { onePassword, relayNamespace, tenant, type RelayInstance } from "../names.ts";
import { podLabels, podTrouble } from "../pods.ts";
import { renderInstance } from "../relay-services.ts";
import { instanceStorage } from "../relay-storage.ts";
import { documentSaves } from "../document-saves.ts";
import { splitDocuments } from "../split-documents.ts";
import { fail, pass, type Result, skip } from "./checks.ts";
import { relayInstances } from "../instances.ts";

export interface RequiredSecret {
  namespace: string;
  name: string;
  keys: string[];
  why: string;
}

/** The Secrets each part needs and the keys each must hold (instance values decide names and keys). */
export function requiredSecrets(): RequiredSecret[] {
  const relay = relayInstances().flatMap((i) => {
    const { type, s3 } = instanceStorage(i);
    if (type === "filesystem" || !s3.existingSecret) return [];
    return [
      {
        namespace: relayNamespace,
        name: s3.existingSecret,
        keys: [s3.existingSecretKeys.accessKeyId, s3.existingSecretKeys.secretAccessKey].map(String),
        why: `${i.release}'s S3 credentials`,
      },
    ];
  });
  return [
    ...relay,
    {
      namespace: onePassword.namespace,
      name: onePassword.credentialsSecret.name,
      keys: [onePassword.credentialsSecret.key],
      why: "1Password Connect",
    },
    {
      namespace: onePassword.namespace,
      name: onePassword.tokenSecret.name,
      keys: [onePassword.tokenSecret.key],
      why: "the 1Password operator",
    },
  ];
}

/** A Kustomization or HelmRelease of apps/docs-prod is Ready. */
export async function fluxObjectReady(client: KubeClient, ref: Manifest): Promise<Result> {
  const live = (await client.get(ref)) as Live | undefined;
  const cond = readyCondition(live);
  const name = `${ref.kind} ${ref.metadata.namespace}/${ref.metadata.name} Ready`;
  if (cond?.status === "True") return pass(name, cond.message ?? "Ready");
  const detail = !live
    ? "not found"
    : cond
      ? `${cond.reason ?? "not Ready"}: ${cond.message ?? ""}`
      : "no Ready condition yet";
  const next = !live
    ? "run moon run docs-prod:bootstrap"
    : `see Flux's events: flux get ${ref.kind === "HelmRelease" ? "helmreleases" : "kustomizations"} -n ${ref.metadata.namespace}`;
  return fail(name, detail, next);
}

/** A relay Deployment is available; when not, why (restarts, a crash loop and the store lines of its log). */
export async function deploymentAvailable(
  client: KubeClient,
  deployment: Manifest,
  instance: RelayInstance,
): Promise<Result> {
  const name = `Deployment ${relayNamespace}/${deployment.metadata.name} available`;
  const live = (await client.get(deployment)) as Live | undefined;
  if (!live) return fail(name, "not found", `check HelmRelease ${instance.release}`);
  const trouble = await podTrouble(client, relayNamespace, podLabels(live));
  const available = live.status?.conditions?.find((c) => c.type === "Available");
  const ended = trouble.lastEnded ? `, the last run ended ${trouble.lastEnded}` : "";
  if (available?.status === "True") return pass(name, `${trouble.pods} pod(s), ${trouble.restarts} restart(s)${ended}`);
  const waiting = trouble.waiting ? `, ${trouble.waiting}` : "";
  const logs = trouble.logLines.length ? `; last lines of its log:\n    ${trouble.logLines.join("\n    ")}` : "";
  const detail = `${available ? `${available.reason}: ${available.message}` : "not available"}; ${trouble.pods} pod(s), ${trouble.restarts} restart(s)${waiting}${ended}${logs}`;
  return fail(
    name,
    detail,
    trouble.crashLoop || trouble.logLines.length > 0
      ? "read the pod's log; a failing bucket listing at start means S3 credentials, endpoint or path style"
      : `kubectl -n ${relayNamespace} describe deployment ${deployment.metadata.name}`,
  );
}

/** The log of the relay's running Pod, for the checks that read it; undefined when none runs. */
async function runningPodLog(
  client: KubeClient,
  deployment: Manifest,
): Promise<{ pod: string; log: string } | undefined> {
  const live = (await client.get(deployment)) as Live | undefined;
  const selector = Object.entries(podLabels(live))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const pod = ((await client.list("v1", "Pod", relayNamespace, selector)) as Live[]).find(
    (p) => (p.status as { phase?: string } | undefined)?.phase === "Running",
  );
  if (!pod) return undefined;
  return {
    pod: pod.metadata.name,
    log: await client.requestText(
      `/api/v1/namespaces/${relayNamespace}/pods/${pod.metadata.name}/log?tailLines=200000`,
    ),
  };
}

/**
 * No document of the relay is split into two copies since its Pod started (read
 * from the Pod's log): the server loads a document twice when two devices open it
 * at the same moment, and their edits then never meet (see split-documents.ts).
 */
export async function noSplitDocuments(
  client: KubeClient,
  deployment: Manifest,
  instance: RelayInstance,
): Promise<Result> {
  const name = `${instance.release} holds one copy of each open document`;
  const running = await runningPodLog(client, deployment);
  if (!running) return skip(name, "no running Pod to read the log of");
  const { pod, log } = running;
  const { seesLoads, split } = splitDocuments(log);
  if (!seesLoads)
    return skip(
      name,
      `the Pod logs below info (relay.logging.level in ${instance.valuesFile}), so it shows no document loads`,
    );
  if (split.length === 0) return pass(name, `no document loaded twice since ${pod} started`);
  const shown = split.slice(0, 3).join(", ") + (split.length > 3 ? ` and ${split.length - 3} more` : "");
  return fail(
    name,
    `${split.length} document(s) loaded twice since ${pod} started (two devices opened them at the same moment; server up to 0.10.0): ${shown}; the devices on the older copy do not see the others' edits`,
    "the edits are kept by the devices; they meet again when the devices on the older copy reconnect (runbook: Split documents)",
  );
}

/**
 * The relay has saved what it holds to its store (read from the Pod's log): the
 * server keeps serving while S3 is unreachable and retries a failed save every
 * checkpoint, but drops the unsaved edits of a document it unloads meanwhile (see
 * document-saves.ts). Nothing else shows an S3 outage: /ready stays 200.
 */
export async function documentsSaved(
  client: KubeClient,
  deployment: Manifest,
  instance: RelayInstance,
): Promise<Result> {
  const name = `${instance.release} saves documents to S3`;
  const running = await runningPodLog(client, deployment);
  if (!running) return skip(name, "no running Pod to read the log of");
  const { pod, log } = running;
  const { failures, unsaved, dropped, lastError } = documentSaves(log);
  if (failures === 0) return pass(name, `no failed save since ${pod} started`);
  if (unsaved.length === 0 && dropped.length === 0)
    return pass(name, `${failures} failed save(s) since ${pod} started; every document saved since`);
  const shown = (docs: string[]) =>
    docs.slice(0, 3).join(", ") + (docs.length > 3 ? ` and ${docs.length - 3} more` : "");
  const parts = [
    ...(unsaved.length
      ? [
          `${unsaved.length} document(s) whose last save failed (retried every checkpoint; their newest edits are in memory only): ${shown(unsaved)}`,
        ]
      : []),
    ...(dropped.length
      ? [
          `${dropped.length} document(s) unloaded while their save failed (edits since their last save are gone from the server): ${shown(dropped)}`,
        ]
      : []),
  ];
  return fail(
    name,
    `${parts.join("; ")}; last error: ${lastError ?? "unknown"}`,
    "check that the relay reaches S3 (the S3 service, endpoint, credentials); failed requests count on /metrics as relay_server_s3_requests_total (relay.metrics.enabled); edits of an unloaded document come back when a device that made them reconnects (runbook: S3 unreachable)",
  );
}

/** A relay Service is a LoadBalancer with an address (KubeVirt CCM gives it one). */
export async function loadBalancerAddress(
  client: KubeClient,
  service: Manifest,
  instance: RelayInstance,
): Promise<Result> {
  const live = (await client.get(service)) as Live | undefined;
  const ingress = (live?.status?.loadBalancer as { ingress?: { ip?: string; hostname?: string }[] } | undefined)
    ?.ingress?.[0];
  const name = `Service ${relayNamespace}/${service.metadata.name} has a LoadBalancer address`;
  const type = (live?.spec as { type?: string } | undefined)?.type;
  if (!live) return fail(name, "not found", `check HelmRelease ${instance.release}`);
  if (type !== "LoadBalancer")
    return fail(
      name,
      `type ${type}`,
      "set service.type LoadBalancer in the values file; KubeVirt CCM mirrors only LoadBalancer Services",
    );
  if (!ingress) return fail(name, "no address yet", "check that KubeVirt CCM runs for this tenant cluster");
  return pass(name, ingress.ip ?? ingress.hostname ?? "");
}

/** A Secret exists with the keys a part reads (names only, never values). */
export async function secretHasKeys(client: KubeClient, s: RequiredSecret): Promise<Result> {
  const live = (await client.get({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { namespace: s.namespace, name: s.name },
  })) as { data?: Record<string, string> } | undefined;
  const name = `Secret ${s.namespace}/${s.name} (${s.why}) has keys ${s.keys.join(", ")}`;
  const present = Object.keys(live?.data ?? {});
  const missing = s.keys.filter((k) => !present.includes(k));
  if (!live)
    return fail(
      name,
      "not found",
      s.namespace === onePassword.namespace
        ? "run moon run docs-prod:create-1password-secret"
        : "check the OnePasswordItem and the 1Password operator (HelmRelease 1password-secrets)",
    );
  if (missing.length > 0)
    return fail(
      name,
      `missing ${missing.join(", ")}; has ${present.join(", ") || "no keys"}`,
      "add the field to the 1Password item (its label becomes the key)",
    );
  return pass(name, "all keys present");
}

export async function tenantChecks(client: KubeClient): Promise<Result[]> {
  const results: Result[] = [];
  // What Flux deploys here: the app as its root Kustomization builds it, with the patches it carries.
  const root = (await client.get({
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: { namespace: tenant.fluxNamespace, name: tenant.kustomization },
  })) as Live | undefined;
  const patches = (root?.spec?.patches as Patch[] | undefined) ?? [];
  const fluxObjects = (await buildApp(tenant.appPath, patches)).filter(
    (o) => o.kind === "Kustomization" || o.kind === "HelmRelease",
  );
  for (const ref of fluxObjects) results.push(await fluxObjectReady(client, ref));
  for (const instance of relayInstances()) {
    const rendered = await renderInstance(instance);
    const deployment = rendered.find((o) => o.kind === "Deployment");
    if (deployment)
      results.push(
        await deploymentAvailable(client, deployment, instance),
        await noSplitDocuments(client, deployment, instance),
        await documentsSaved(client, deployment, instance),
      );
    const service = rendered.find((o) => o.kind === "Service");
    if (service) results.push(await loadBalancerAddress(client, service, instance));
  }
  for (const s of requiredSecrets()) results.push(await secretHasKeys(client, s));
  return results;
}
