// verify's steps, loaded once its command line is parsed (scripts/flows/verify.ts).
import { exitCodes, parseDuration, type CommonOptions, UsageError } from "../../lib/cli.ts";
import { managementClient, tenantClient } from "../../lib/clusters.ts";
import { redact } from "../../lib/errors.ts";
import { resolveIngressFiles } from "../../lib/ingress-sync.ts";
import type { KubeClient } from "../../lib/kube.ts";
import { management, tenant } from "../../lib/names.ts";
import { lazySecretSource } from "../../lib/onepassword.ts";
import { type Check, formatChecks, inScope, scopes } from "../../lib/verify/checks.ts";
import { managementChecks } from "../../lib/verify/management.ts";
import { type HttpsOptions, networkChecks, parseConnectTo, readCaFile } from "../../lib/verify/network.ts";
import { tenantChecks } from "../../lib/verify/tenant.ts";
import type { Args } from "../verify.ts";

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
export async function run({ common, values }: Args): Promise<number> {
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

