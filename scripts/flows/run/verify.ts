// verify's checks, loaded once its command line is parsed (scripts/flows/verify.ts).
import { type CommonOptions, exitCodes } from "../../lib/cli.ts";
import { managementClient, tenantClient } from "../../lib/clusters.ts";
import { redact } from "../../lib/errors.ts";
import type { KubeClient } from "../../lib/kube.ts";
import { management, tenant } from "../../lib/names.ts";
import { lazySecretSource, type SecretSourceOptions } from "../../lib/onepassword.ts";
import { type Check, formatChecks, inScope, type Scope, scopeFailure } from "../../lib/verify/checks.ts";
import { managementChecks } from "../../lib/verify/management.ts";
import { networkChecks, readCaFile } from "../../lib/verify/network.ts";
import { tenantChecks } from "../../lib/verify/tenant.ts";

/** What verify checks, as its command line asked. */
export interface VerifyOptions {
  cluster: CommonOptions;
  secrets: SecretSourceOptions;
  scopes: Scope[];
  /** Absolute paths of the ingress files the management checks compare with. */
  ingressFiles: string[];
  /** The HTTPS checks: --ca-file, --request-timeout, --connect-to. */
  https: { caFile?: string; timeoutMs: number; connectTo: Map<string, { address: string; port: number }> };
  json: boolean;
}

/** The tenant's client once it answered, or the failed check saying why it did not. */
async function reachTenant(opts: VerifyOptions): Promise<{ client?: KubeClient; checks: Check[] }> {
  const name = `${tenant.app} reachable`;
  try {
    const { client } = await tenantClient(opts.cluster, lazySecretSource(opts.secrets));
    await client.request("GET", "/version");
    return { client, checks: [] };
  } catch (error) {
    return { checks: [scopeFailure("tenant", name, error)] };
  }
}

async function runChecks(opts: VerifyOptions): Promise<Check[]> {
  const wants = (scope: Scope) => opts.scopes.includes(scope);
  // Read before any cluster is asked: a CA file that cannot be read ends the run (exit 3).
  const https = wants("network")
    ? { ca: readCaFile(opts.https.caFile), timeoutMs: opts.https.timeoutMs, connectTo: opts.https.connectTo }
    : undefined;
  // The management checks compare the tenant's Services with their mirrors: they need the tenant too.
  const reached = wants("tenant") || wants("management") ? await reachTenant(opts) : { checks: [] };
  const checks = [...reached.checks];
  const tenantAccess = reached.client;
  if (wants("tenant") && tenantAccess)
    checks.push(...(await inScope("tenant", `${tenant.app} checks`, () => tenantChecks(tenantAccess))));
  if (wants("management"))
    checks.push(
      ...(await inScope("management", `${management.cluster} checks`, async () =>
        managementChecks(tenantAccess, await managementClient(opts.cluster), opts.ingressFiles),
      )),
    );
  if (https) checks.push(...(await inScope("network", "public hosts", () => networkChecks(https))));
  return checks;
}

/** Exit code 1 when any check fails. */
export async function run(opts: VerifyOptions): Promise<number> {
  const checks = await runChecks(opts);
  console.log(
    redact(opts.json ? JSON.stringify({ ok: checks.every((c) => c.ok), checks }, null, 2) : formatChecks(checks)),
  );
  const failed = checks.filter((c) => !c.ok).length;
  if (failed > 0) {
    if (!opts.json) console.log(`${failed} of ${checks.length} checks failed`);
    return exitCodes.changes;
  }
  if (!opts.json) console.log(`all ${checks.length} checks passed`);
  return exitCodes.ok;
}
