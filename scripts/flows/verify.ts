// `moon run docs-prod:verify`: after every change, one line per check: Flux
// reconciled, the relays available with their Secrets and addresses, the CCM
// mirrors and the ingress, TLS, /ready over HTTPS, and the attachment path in use.
import { clusterOptionSpecs, commonHelp, exitCodes, parseDuration, parseFlowArgs, type CommonOptions, UsageError } from "../lib/cli.ts";
import { managementClient, tenantClient } from "../lib/clusters.ts";
import { redact } from "../lib/errors.ts";
import { resolveIngressFiles } from "../lib/ingress-sync.ts";
import type { KubeClient } from "../lib/kube.ts";
import { management, tenant } from "../lib/names.ts";
import { lazySecretSource, secretSourceHelp, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import { type Check, formatChecks, inScope, scopes } from "../lib/verify/checks.ts";
import { managementChecks } from "../lib/verify/management.ts";
import { type HttpsOptions, networkChecks, parseConnectTo, readCaFile } from "../lib/verify/network.ts";
import { tenantChecks } from "../lib/verify/tenant.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
  ...secretSourceOptionSpecs,
  json: { type: "boolean", default: false },
  only: { type: "string", multiple: true },
  "ingress-file": { type: "string", multiple: true },
  "ca-file": { type: "string" },
  "request-timeout": { type: "string", default: "10s" },
  "connect-to": { type: "string", multiple: true },
} as const;

const help = `Usage: moon run docs-prod:verify -- [options]

One line per check, ✓ or ✗ with the reason and, for ✗, what to do next. Exit code 1 when any fails.
  tenant      Kustomization ${tenant.kustomization} and every HelmRelease of ${tenant.appPath} Ready; each relay
              Deployment available (restarts); the Secrets the instances need (key names only);
              each relay LoadBalancer Service has an address
  management  each mirror exists and the ingress file's backends match (as sync-ingress --check);
              the Ingresses in ${management.tenantNamespace} match the file; TLS Secrets; cert-manager Certificates;
              for a filesystem-store instance, its Ingress's proxy-body-size takes the server's 250 MB uploads
  network     GET https://<host>/ready returns 200 with valid TLS; the relay-server-version header;
              for an S3 instance, its S3 endpoint answers over https with valid TLS (attachments go there
              by presigned URL; any HTTP status counts)

  --only SCOPE                   tenant, management or network (repeatable)
  --json                         the checks as JSON
  --ingress-file PATH            ingress file (default ${management.ingressFile})
  --ca-file PATH                 CA bundle for the HTTPS checks (default: the system's)
  --request-timeout DURATION     how long each HTTPS request may take (default 10s)
  --connect-to HOST=ADDR:PORT    reach HOST at ADDR:PORT (TLS name and Host header stay HOST)
${secretSourceHelp}

${commonHelp}`;

async function runChecks(common: CommonOptions, values: Record<string, unknown>): Promise<Check[]> {
  const only = (values.only as string[] | undefined) ?? scopes;
  for (const s of only) if (!(scopes as readonly string[]).includes(s)) throw new UsageError(`expected --only ${scopes.join(", ")}; got "${s}"`);
  const secrets = lazySecretSource(values as { "secrets-from"?: string; "local-secrets"?: string });
  const https: HttpsOptions = {
    ca: readCaFile(values["ca-file"] as string | undefined),
    timeoutMs: parseDuration(values["request-timeout"] as string, "--request-timeout"),
    connectTo: parseConnectTo(values["connect-to"] as string[] | undefined),
  };
  const checks: Check[] = [];
  let tenantAccess: KubeClient | undefined;
  if (only.includes("tenant") || only.includes("management")) {
    checks.push(...(await inScope("tenant", `${tenant.app} reachable`, async () => {
      tenantAccess = (await tenantClient(common, secrets)).client;
      await tenantAccess.request("GET", "/version");
      return [];
    })));
  }
  if (only.includes("tenant") && tenantAccess) checks.push(...(await inScope("tenant", `${tenant.app} checks`, () => tenantChecks(tenantAccess!))));
  if (only.includes("management")) {
    const files = resolveIngressFiles(values["ingress-file"] as string[] | undefined);
    checks.push(...(await inScope("management", `${management.cluster} checks`, async () => managementChecks(tenantAccess, await managementClient(common), files))));
  }
  if (only.includes("network")) checks.push(...(await inScope("network", "public hosts", () => networkChecks(https))));
  return checks;
}

/** Exit code 1 when any check fails. */
export async function main(argv: string[]): Promise<number> {
  const { common, values } = parseFlowArgs(argv, optionSpecs, help);
  const checks = await runChecks(common, values);
  console.log(redact(values.json ? JSON.stringify({ ok: checks.every((c) => c.ok), checks }, null, 2) : formatChecks(checks)));
  const failed = checks.filter((c) => !c.ok).length;
  if (failed > 0) {
    if (!values.json) console.log(`${failed} of ${checks.length} checks failed`);
    return exitCodes.changes;
  }
  if (!values.json) console.log(`all ${checks.length} checks passed`);
  return exitCodes.ok;
}

