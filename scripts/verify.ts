// `moon run docs-prod:verify`: after every change, one line per check of what the
// PRDs verify by hand: Flux reconciled, the relays available with their Secrets
// and addresses, the CCM mirrors and the ingress, TLS, and /ready over HTTPS.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { parseAllDocuments, parseDocument } from "yaml";
import { buildApp, parseDuration } from "./bootstrap.ts";
import { commonHelp, isEntryPoint, OperatorError, parseFlowArgs, redact, runMain, type CommonOptions } from "./lib/cli.ts";
import { managementClient, tenantClient } from "./lib/clusters.ts";
import { KubeApiError, type KubeClient, type Manifest } from "./lib/kube.ts";
import { instances, management, onePassword, relayNamespace, tenant, type RelayInstance } from "./lib/names.ts";
import { secretSourceHelp, secretSourceOptionSpecs } from "./lib/onepassword.ts";
import { repoRoot } from "./lib/paths.ts";
import { renderInstance } from "./lib/relay-services.ts";
import { checkIngress, displayPath, resolveIngressFiles } from "./sync-ingress.ts";
import { lazySecretSource } from "./create-1password-secret.ts";

export type Scope = "tenant" | "management" | "network";

export interface Check {
  scope: Scope;
  name: string;
  ok: boolean;
  /** Why it passed or failed. */
  detail: string;
  /** For a failure: what to do next. */
  next?: string;
  /** Not applicable here (e.g. cert-manager not installed): neither pass nor fail. */
  skipped?: boolean;
}

const optionSpecs = {
  ...secretSourceOptionSpecs,
  json: { type: "boolean", default: false },
  only: { type: "string", multiple: true },
  "ingress-file": { type: "string", multiple: true },
  "ca-file": { type: "string" },
  timeout: { type: "string", default: "10s" },
  "connect-to": { type: "string", multiple: true },
} as const;

const help = `Usage: moon run docs-prod:verify -- [options]

One line per check, ✓ or ✗ with the reason and, for ✗, what to do next. Exit code 1 when any fails.
  tenant      Kustomization ${tenant.kustomization} and every HelmRelease of ${tenant.appPath} Ready; each relay
              Deployment available (restarts); the Secrets the instances need (key names only);
              each relay LoadBalancer Service has an address
  management  each mirror exists and the ingress file's backends match (as sync-ingress --check);
              the Ingresses in ${management.tenantNamespace} match the file; TLS Secrets; cert-manager Certificates
  network     GET https://<host>/ready returns 200 with valid TLS; the relay-server-version header

  --only SCOPE                   tenant, management or network (repeatable)
  --json                         the checks as JSON
  --ingress-file PATH            ingress file (default ${management.ingressFile})
  --ca-file PATH                 CA bundle for the HTTPS checks (default: the system's)
  --timeout DURATION             per HTTPS request (default 10s)
  --connect-to HOST=ADDR:PORT    reach HOST at ADDR:PORT (TLS name and Host header stay HOST)
${secretSourceHelp}

${commonHelp}`;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
type Live = Manifest & { status?: Record<string, unknown> & { conditions?: Condition[] }; spec?: Record<string, unknown> };

const ready = (obj: Live | undefined) => obj?.status?.conditions?.find((c) => c.type === "Ready");

/** The Secrets each part needs and the keys each must hold (instance values decide names and keys). */
export function requiredSecrets(): { namespace: string; name: string; keys: string[]; why: string }[] {
  const relay = instances.flatMap((i) => {
    const values = parseDocument(readFileSync(`${repoRoot}/${i.valuesFile}`, "utf8"));
    const name = values.getIn(["storage", "s3", "existingSecret"]);
    if (values.getIn(["storage", "type"]) === "filesystem" || typeof name !== "string" || !name) return [];
    const keys = [values.getIn(["storage", "s3", "existingSecretKeys", "accessKeyId"]), values.getIn(["storage", "s3", "existingSecretKeys", "secretAccessKey"])].map(String);
    return [{ namespace: relayNamespace, name, keys, why: `${i.release}'s S3 credentials` }];
  });
  return [
    ...relay,
    { namespace: onePassword.namespace, name: onePassword.credentialsSecret.name, keys: [onePassword.credentialsSecret.key], why: "1Password Connect" },
    { namespace: onePassword.namespace, name: onePassword.tokenSecret.name, keys: [onePassword.tokenSecret.key], why: "the 1Password operator" },
  ];
}

async function tenantChecks(client: KubeClient): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Omit<Check, "scope">) => checks.push({ scope: "tenant", ...c });
  const fluxObjects = (await buildApp(tenant.appPath)).filter((o) => o.kind === "Kustomization" || o.kind === "HelmRelease");
  for (const ref of fluxObjects) {
    const live = (await client.get(ref)) as Live | undefined;
    const cond = ready(live);
    const name = `${ref.kind} ${ref.metadata.namespace}/${ref.metadata.name} Ready`;
    if (cond?.status === "True") add({ name, ok: true, detail: cond.message ?? "Ready" });
    else add({ name, ok: false, detail: !live ? "not found" : cond ? `${cond.reason ?? "not Ready"}: ${cond.message ?? ""}` : "no Ready condition yet", next: !live ? `run moon run docs-prod:bootstrap` : `see Flux's events: flux get ${ref.kind === "HelmRelease" ? "helmreleases" : "kustomizations"} -n ${ref.metadata.namespace}` });
  }
  for (const instance of instances) {
    const rendered = await renderInstance(instance);
    const deployment = rendered.find((o) => o.kind === "Deployment");
    if (deployment) checks.push(await deploymentCheck(client, deployment, instance));
    const service = rendered.find((o) => o.kind === "Service");
    if (service) {
      const live = (await client.get(service)) as Live | undefined;
      const ingress = (live?.status?.loadBalancer as { ingress?: { ip?: string; hostname?: string }[] } | undefined)?.ingress?.[0];
      const name = `Service ${relayNamespace}/${service.metadata.name} has a LoadBalancer address`;
      if (!live) add({ name, ok: false, detail: "not found", next: `check HelmRelease ${instance.release}` });
      else if ((live.spec as { type?: string }).type !== "LoadBalancer") add({ name, ok: false, detail: `type ${(live.spec as { type?: string }).type}`, next: "set service.type LoadBalancer in the values file; KubeVirt CCM mirrors only LoadBalancer Services" });
      else if (!ingress) add({ name, ok: false, detail: "no address yet", next: "check that KubeVirt CCM runs for this tenant cluster" });
      else add({ name, ok: true, detail: ingress.ip ?? ingress.hostname ?? "" });
    }
  }
  for (const s of requiredSecrets()) {
    const live = (await client.get({ apiVersion: "v1", kind: "Secret", metadata: { namespace: s.namespace, name: s.name } })) as { data?: Record<string, string> } | undefined;
    const name = `Secret ${s.namespace}/${s.name} (${s.why}) has keys ${s.keys.join(", ")}`;
    const present = Object.keys(live?.data ?? {});
    const missing = s.keys.filter((k) => !present.includes(k));
    if (!live) add({ name, ok: false, detail: "not found", next: s.namespace === onePassword.namespace ? "run moon run docs-prod:create-1password-secret" : "check the OnePasswordItem and the 1Password operator (HelmRelease 1password-secrets)" });
    else if (missing.length > 0) add({ name, ok: false, detail: `missing ${missing.join(", ")}; has ${present.join(", ") || "no keys"}`, next: "add the field to the 1Password item (its label becomes the key)" });
    else add({ name, ok: true, detail: "all keys present" });
  }
  return checks;
}

async function deploymentCheck(client: KubeClient, deployment: Manifest, instance: RelayInstance): Promise<Check> {
  const name = `Deployment ${relayNamespace}/${deployment.metadata.name} available`;
  const live = (await client.get(deployment)) as Live | undefined;
  if (!live) return { scope: "tenant", name, ok: false, detail: "not found", next: `check HelmRelease ${instance.release}` };
  const selector = Object.entries(((live.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels) ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  const pods = (await client.list("v1", "Pod", relayNamespace, selector)) as Live[];
  type Status = { restartCount?: number; state?: { waiting?: { reason?: string } } };
  const statuses = pods.flatMap((p) => ((p.status?.containerStatuses as Status[] | undefined) ?? []).map((s) => ({ pod: p.metadata.name, ...s })));
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  const available = live.status?.conditions?.find((c) => c.type === "Available");
  if (available?.status === "True") return { scope: "tenant", name, ok: true, detail: `${pods.length} pod(s), ${restarts} restart(s)` };
  const crashing = statuses.find((s) => s.state?.waiting?.reason === "CrashLoopBackOff");
  let logs = "";
  if (crashing) {
    try {
      const text = await client.requestText(`/api/v1/namespaces/${relayNamespace}/pods/${crashing.pod}/log?tailLines=200&previous=true`);
      logs = text.split("\n").filter((l) => /store|s3|bucket/i.test(l)).slice(-5).join("\n    ");
    } catch {
      logs = "";
    }
  }
  return {
    scope: "tenant",
    name,
    ok: false,
    detail: `${available ? `${available.reason}: ${available.message}` : "not available"}; ${pods.length} pod(s), ${restarts} restart(s)${crashing ? `, ${crashing.pod} in CrashLoopBackOff` : ""}${logs ? `; store lines of its log:\n    ${logs}` : ""}`,
    next: crashing ? "read the pod's log; a failing bucket listing at start means S3 credentials, endpoint or path style" : `kubectl -n ${relayNamespace} describe deployment ${deployment.metadata.name}`,
  };
}

async function managementChecks(tenantClient: KubeClient | undefined, mgmt: KubeClient, ingressFiles: string[]): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (c: Omit<Check, "scope">) => checks.push({ scope: "management", ...c });
  if (tenantClient) {
    const report = await checkIngress({ tenant: tenantClient, management: mgmt, ingressFiles });
    for (const i of report.instances) {
      const name = `mirror of Service ${i.service} in ${management.tenantNamespace}`;
      if (i.problem) add({ name, ok: false, detail: i.problem, next: "see the reason; once the mirror exists run sync-ingress" });
      else add({ name, ok: true, detail: `Service ${i.mirror} port ${i.backend!.port.number}` });
    }
    for (const f of report.files) {
      const name = `${f.display} backends match the mirrors`;
      if (f.problem) add({ name, ok: false, detail: f.problem, next: "fix the file" });
      else if (!f.upToDate) add({ name, ok: false, detail: `stale: ${f.changes.map((c) => `${c.host} ${c.from} → ${c.to}`).join("; ")}`, next: "run moon run docs-infra-prod:sync-ingress and commit the file" });
      else add({ name, ok: true, detail: "up to date" });
    }
  }
  let certificatesServed = true;
  try {
    await mgmt.path("cert-manager.io/v1", "Certificate");
  } catch (error) {
    if (!(error instanceof KubeApiError) || error.code !== 404) throw error;
    certificatesServed = false;
  }
  for (const path of ingressFiles) {
    const docs = parseAllDocuments(readFileSync(path, "utf8")).map((d) => d.toJS() as Live | null).filter((d): d is Live => d?.kind === "Ingress");
    for (const want of docs) {
      const ns = want.metadata.namespace ?? management.tenantNamespace;
      const live = (await mgmt.get({ ...want, metadata: { ...want.metadata, namespace: ns } })) as Live | undefined;
      const name = `Ingress ${ns}/${want.metadata.name} matches ${displayPath(path)}`;
      const spec = (o: Live) => JSON.stringify({ rules: o.spec?.rules, tls: o.spec?.tls, ingressClassName: o.spec?.ingressClassName });
      if (!live) add({ name, ok: false, detail: "not found", next: "check Kustomization docs-infra-prod in the management cluster (moon run docs-infra-prod:bootstrap)" });
      else if (spec(live) !== spec(want)) add({ name, ok: false, detail: "the live rules or TLS differ from the file", next: "commit and push the file; Flux applies it (or check that Kustomization docs-infra-prod is Ready)" });
      else add({ name, ok: true, detail: "rules and TLS as in the file" });
      for (const tls of (want.spec?.tls as { hosts?: string[]; secretName?: string }[] | undefined) ?? []) {
        if (!tls.secretName) continue;
        const hosts = (tls.hosts ?? []).join(", ");
        const secret = await mgmt.get({ apiVersion: "v1", kind: "Secret", metadata: { namespace: ns, name: tls.secretName } });
        add(secret ? { name: `TLS Secret ${ns}/${tls.secretName} for ${hosts}`, ok: true, detail: "present" } : { name: `TLS Secret ${ns}/${tls.secretName} for ${hosts}`, ok: false, detail: "not found", next: "check cert-manager's Certificate and its ClusterIssuer letsencrypt-prod" });
        const certName = `Certificate ${ns}/${tls.secretName} Ready`;
        if (!certificatesServed) {
          add({ name: certName, ok: true, skipped: true, detail: "cert-manager's CRD is not installed here: not checked" });
          continue;
        }
        const cert = (await mgmt.get({ apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { namespace: ns, name: tls.secretName } })) as Live | undefined;
        const cond = ready(cert);
        if (cond?.status === "True") add({ name: certName, ok: true, detail: cond.message ?? "Ready" });
        else add({ name: certName, ok: false, detail: !cert ? "not found" : `${cond?.reason ?? "not Ready"}: ${cond?.message ?? ""}`, next: `kubectl -n ${ns} describe certificate ${tls.secretName}` });
      }
    }
  }
  return checks;
}

interface HttpsOptions {
  ca?: string;
  timeoutMs: number;
  connectTo: Map<string, { address: string; port: number }>;
}

export function getReady(host: string, opts: HttpsOptions): Promise<{ status: number; version?: string }> {
  const target = opts.connectTo.get(host);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target?.address ?? host, port: target?.port ?? 443, path: "/ready", method: "GET", servername: host, headers: { host }, ca: opts.ca, timeout: opts.timeoutMs },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, version: res.headers["relay-server-version"] as string | undefined });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${opts.timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end();
  });
}

async function networkChecks(opts: HttpsOptions): Promise<Check[]> {
  return Promise.all(instances.map(async (i): Promise<Check> => {
    const name = `GET https://${i.host}/ready`;
    try {
      const { status, version } = await getReady(i.host, opts);
      if (status === 200) {
        return { scope: "network", name, ok: true, detail: `200 with valid TLS, relay-server-version ${version ?? "not reported"}; S3 reachable (a ready relay has listed its bucket at start)` };
      }
      return { scope: "network", name, ok: false, detail: `HTTP ${status}`, next: "check the ingress backend (sync-ingress --check) and the relay Deployment" };
    } catch (error) {
      const err = error as NodeJS.ErrnoException;
      const tls = /certificate|self.signed|CERT|altnames/i.test(`${err.code} ${err.message}`);
      return {
        scope: "network",
        name,
        ok: false,
        detail: `${tls ? "TLS not valid: " : "no answer: "}${err.code ?? ""} ${err.message}`.trim(),
        next: tls ? "check the TLS Secret and cert-manager's Certificate for this host" : "check DNS for the host, the ingress controller, and that the relay listens",
      };
    }
  }));
}

function parseConnectTo(values: readonly string[] | undefined): Map<string, { address: string; port: number }> {
  return new Map((values ?? []).map((v) => {
    const match = /^([^=]+)=([^:]+):(\d+)$/.exec(v);
    if (!match) throw new OperatorError(`expected --connect-to HOST=ADDR:PORT; got "${v}"`);
    return [match[1]!, { address: match[2]!, port: Number(match[3]) }];
  }));
}

export function formatChecks(checks: readonly Check[]): string {
  return checks.map((c) => `${c.skipped ? "-" : c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}${!c.ok && c.next ? `\n    next: ${c.next}` : ""}`).join("\n");
}

/** A cluster that cannot be reached is a failed check, not a crash: the other scopes still run. */
async function guarded(scope: Scope, name: string, run: () => Promise<Check[]>): Promise<Check[]> {
  try {
    return await run();
  } catch (error) {
    return [{ scope, name, ok: false, detail: redact((error as Error).message), next: "fix access to the cluster, then run verify again" }];
  }
}

export async function runChecks(common: CommonOptions, values: Record<string, unknown>): Promise<Check[]> {
  const only = (values.only as string[] | undefined) ?? ["tenant", "management", "network"];
  for (const s of only) if (!["tenant", "management", "network"].includes(s)) throw new OperatorError(`expected --only tenant, management or network; got "${s}"`);
  const secrets = lazySecretSource(values as { "secrets-from"?: string; "local-secrets"?: string });
  const https: HttpsOptions = {
    ca: values["ca-file"] ? readFileSync(values["ca-file"] as string, "utf8") : undefined,
    timeoutMs: parseDuration(values.timeout as string),
    connectTo: parseConnectTo(values["connect-to"] as string[] | undefined),
  };
  const checks: Check[] = [];
  let tenantAccess: KubeClient | undefined;
  if (only.includes("tenant") || only.includes("management")) {
    checks.push(...(await guarded("tenant", `${tenant.app} reachable`, async () => {
      tenantAccess = (await tenantClient(common, secrets)).client;
      await tenantAccess.request("GET", "/version");
      return [];
    })));
  }
  if (only.includes("tenant") && tenantAccess) checks.push(...(await guarded("tenant", `${tenant.app} checks`, () => tenantChecks(tenantAccess!))));
  if (only.includes("management")) {
    const files = resolveIngressFiles(values["ingress-file"] as string[] | undefined);
    checks.push(...(await guarded("management", `${management.cluster} checks`, async () => managementChecks(tenantAccess, await managementClient(common), files))));
  }
  if (only.includes("network")) checks.push(...(await networkChecks(https)));
  return checks;
}

export async function main(argv: string[]): Promise<void> {
  const { common, values, help: wantsHelp } = parseFlowArgs(argv, optionSpecs);
  if (wantsHelp) return void console.log(help);
  const checks = await runChecks(common, values);
  console.log(redact(values.json ? JSON.stringify({ ok: checks.every((c) => c.ok), checks }, null, 2) : formatChecks(checks)));
  const failed = checks.filter((c) => !c.ok).length;
  if (failed > 0) {
    if (!values.json) console.log(`${failed} of ${checks.length} checks failed`);
    process.exitCode = 1;
  } else if (!values.json) console.log(`all ${checks.length} checks passed`);
}

if (isEntryPoint("verify")) await runMain(() => main(process.argv.slice(2))).then((code) => (process.exitCode ||= code));
