// verify's management checks: each relay Service has its KubeVirt CCM mirror and
// the ingress files point at them, the live Ingresses match the files, TLS, and for
// filesystem-store instances the Ingress's body size for attachment uploads.
import { readFileSync } from "node:fs";
import { describeFsError } from "../errors.ts";
import { parseIngressFile } from "../ingress.ts";
import { checkIngress, type IngressFileResult, type InstanceResult, missingRuleProblem } from "../ingress-sync.ts";
import { KubeApiError, type KubeClient, type Live, readyCondition } from "../kube.ts";
import { management, type RelayInstance } from "../names.ts";
import { displayPath } from "../paths.ts";
import { bodySizeAnnotation, instanceStorage, nginxSizeBytes, serverUploadLimitBytes } from "../relay-storage.ts";
import { fail, pass, type Result, skip } from "./checks.ts";
import { relayInstances } from "../instances.ts";

export function mirrorFound(i: InstanceResult): Result {
  const name = `mirror of Service ${i.service} in ${management.tenantNamespace}`;
  return i.problem
    ? fail(name, i.problem, "see the reason; once the mirror exists run sync-ingress")
    : pass(name, `Service ${i.mirror} port ${i.backend!.port.number}`);
}

export function ingressFileUpToDate(f: IngressFileResult): Result {
  const name = `${f.display} backends match the mirrors`;
  if (f.problem) return fail(name, f.problem, "fix the file");
  if (!f.upToDate)
    return fail(
      name,
      `stale: ${f.changes.map((c) => `${c.host} ${c.from} → ${c.to}`).join("; ")}`,
      "run moon run docs-infra-prod:sync-ingress and commit the file",
    );
  return pass(name, "up to date");
}

/** The live Ingress has the rules and TLS of the file. */
export async function ingressMatchesFile(
  mgmt: KubeClient,
  want: Live,
  namespace: string,
  path: string,
): Promise<Result> {
  const live = (await mgmt.get({ ...want, metadata: { ...want.metadata, namespace } })) as Live | undefined;
  const name = `Ingress ${namespace}/${want.metadata.name} matches ${displayPath(path)}`;
  const spec = (o: Live) =>
    JSON.stringify({ rules: o.spec?.rules, tls: o.spec?.tls, ingressClassName: o.spec?.ingressClassName });
  if (!live)
    return fail(
      name,
      "not found",
      "check Kustomization docs-infra-prod in the management cluster (moon run docs-infra-prod:bootstrap)",
    );
  if (spec(live) !== spec(want))
    return fail(
      name,
      "the live rules or TLS differ from the file",
      "commit and push the file; Flux applies it (or check that Kustomization docs-infra-prod is Ready)",
    );
  return pass(name, "rules and TLS as in the file");
}

export async function tlsSecretExists(
  mgmt: KubeClient,
  namespace: string,
  secretName: string,
  hosts: string,
): Promise<Result> {
  const name = `TLS Secret ${namespace}/${secretName} for ${hosts}`;
  const secret = await mgmt.get({ apiVersion: "v1", kind: "Secret", metadata: { namespace, name: secretName } });
  return secret
    ? pass(name, "present")
    : fail(name, "not found", "check cert-manager's Certificate and its ClusterIssuer letsencrypt-prod");
}

/** cert-manager's Certificate of that Secret is Ready; skipped where cert-manager is not installed. */
export async function certificateReady(
  mgmt: KubeClient,
  namespace: string,
  secretName: string,
  served: boolean,
): Promise<Result> {
  const name = `Certificate ${namespace}/${secretName} Ready`;
  if (!served) return skip(name, "cert-manager's CRD is not installed here: not checked");
  const cert = (await mgmt.get({
    apiVersion: "cert-manager.io/v1",
    kind: "Certificate",
    metadata: { namespace, name: secretName },
  })) as Live | undefined;
  const cond = readyCondition(cert);
  if (cond?.status === "True") return pass(name, cond.message ?? "Ready");
  return fail(
    name,
    !cert ? "not found" : `${cond?.reason ?? "not Ready"}: ${cond?.message ?? ""}`,
    `kubectl -n ${namespace} describe certificate ${secretName}`,
  );
}

/**
 * The attachment path of a filesystem-store instance: uploads go through the relay,
 * so the live Ingress serving its host must let bodies up to the server's 250 MB
 * through (ingress-nginx refuses more than 1m unless proxy-body-size says otherwise).
 */
export async function uploadBodySizeAllowed(mgmt: KubeClient, instance: RelayInstance): Promise<Result> {
  const subject = `attachments of ${instance.release} (filesystem store)`;
  const live = (await mgmt.list("networking.k8s.io/v1", "Ingress", management.tenantNamespace)) as Live[];
  const ingress = live.find((o) =>
    ((o.spec?.rules as { host?: string }[] | undefined) ?? []).some((r) => r.host === instance.host),
  );
  if (!ingress)
    return fail(
      `${subject}: Ingress for ${instance.host}`,
      `no Ingress in ${management.tenantNamespace} serves ${instance.host}`,
      "check Kustomization docs-infra-prod in the management cluster (moon run docs-infra-prod:bootstrap)",
    );
  const name = `${subject}: Ingress ${management.tenantNamespace}/${ingress.metadata.name} takes uploads up to 250 MB`;
  const size = ingress.metadata.annotations?.[bodySizeAnnotation];
  const next = `set ${bodySizeAnnotation}: 250m on that Ingress in ${management.ingressFile} and commit it (uploads go through the relay with the filesystem store)`;
  if (size === undefined)
    return fail(
      name,
      `no ${bodySizeAnnotation} annotation: ingress-nginx refuses bodies over 1m, so larger attachment uploads fail with HTTP 413`,
      next,
    );
  const bytes = nginxSizeBytes(size);
  if (Number.isNaN(bytes))
    return fail(name, `${bodySizeAnnotation} is "${size}", not an nginx size (a number with k, m or g)`, next);
  if (bytes < serverUploadLimitBytes)
    return fail(
      name,
      `${bodySizeAnnotation} is ${size}, below the server's 250 MB per file: larger attachment uploads fail with HTTP 413`,
      next,
    );
  return pass(
    name,
    `${bodySizeAnnotation} ${size}${bytes === Number.POSITIVE_INFINITY ? " (no limit)" : ""}, at least the server's 250 MB per file`,
  );
}

async function certificatesServed(mgmt: KubeClient): Promise<boolean> {
  try {
    await mgmt.path("cert-manager.io/v1", "Certificate");
    return true;
  } catch (error) {
    if (!(error instanceof KubeApiError) || error.code !== 404) throw error;
    return false;
  }
}

/** The Ingresses of an ingress file, or the failed check that says why the file cannot be read. */
function ingressesOf(path: string): { ingresses: Live[] } | { failed: Result } {
  const shown = displayPath(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    return {
      failed: fail(
        `ingress file ${shown}`,
        `cannot be read: ${describeFsError(error)}`,
        "pass an existing, readable ingress file with --ingress-file",
      ),
    };
  }
  try {
    return {
      ingresses: parseIngressFile(text, shown)
        .map((d) => d.toJS() as Live | null)
        .filter((d): d is Live => d?.kind === "Ingress"),
    };
  } catch (error) {
    return { failed: fail(`ingress file ${shown}`, (error as Error).message, "fix the file") };
  }
}

export async function managementChecks(
  tenantClient: KubeClient | undefined,
  mgmt: KubeClient,
  paths: string[],
): Promise<Result[]> {
  const results: Result[] = [];
  const files = paths.map((path) => ({ path, ...ingressesOf(path) }));
  for (const f of files) if ("failed" in f) results.push(f.failed);
  const ingressFiles = files.flatMap((f) => ("ingresses" in f ? [f.path] : []));
  if (tenantClient) {
    const report = await checkIngress({ tenant: tenantClient, management: mgmt, ingressFiles });
    results.push(...report.instances.map(mirrorFound), ...report.files.map(ingressFileUpToDate));
    // A rule may be in a file that could not be read: missing rules are told only when every file was.
    const missing =
      ingressFiles.length === paths.length
        ? report.instances.filter((i) => report.hostsWithoutRule.includes(i.host))
        : [];
    for (const i of missing) {
      results.push(
        fail(
          `Ingress rule for ${i.host}`,
          missingRuleProblem(i.host, i.release, report.files),
          "add the rule to the ingress file, run moon run docs-infra-prod:sync-ingress and commit the file",
        ),
      );
    }
  }
  for (const instance of relayInstances().filter((i) => instanceStorage(i).type === "filesystem"))
    results.push(await uploadBodySizeAllowed(mgmt, instance));
  const served = await certificatesServed(mgmt);
  for (const f of files) {
    if (!("ingresses" in f)) continue;
    const path = f.path;
    for (const want of f.ingresses) {
      const namespace = want.metadata.namespace ?? management.tenantNamespace;
      results.push(await ingressMatchesFile(mgmt, want, namespace, path));
      for (const tls of (want.spec?.tls as { hosts?: string[]; secretName?: string }[] | undefined) ?? []) {
        if (!tls.secretName) continue;
        results.push(await tlsSecretExists(mgmt, namespace, tls.secretName, (tls.hosts ?? []).join(", ")));
        results.push(await certificateReady(mgmt, namespace, tls.secretName, served));
      }
    }
  }
  return results;
}
