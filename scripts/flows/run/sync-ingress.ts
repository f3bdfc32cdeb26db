// sync-ingress's steps, loaded once its command line is parsed (scripts/flows/sync-ingress.ts).
import { type CommonOptions, exitCodes, newSteps } from "../../lib/cli.ts";
import { managementClient } from "../../lib/clusters.ts";
import { OperatorError } from "../../lib/errors.ts";
import { writeIfChanged } from "../../lib/files.ts";
import {
  describeFile,
  hostsWithoutRule,
  listMirrors,
  matchInstances,
  missingRuleProblem,
  planIngressFiles,
  readTenantServices,
  tenantServiceProblems,
} from "../../lib/ingress-sync.ts";
import { management, relayChartPath, tenant } from "../../lib/names.ts";
import { lazySecretSource, type SecretSourceOptions } from "../../lib/onepassword.ts";
import { displayPath } from "../../lib/paths.ts";
import { relayServices } from "../../lib/relay-services.ts";
import { readManagement, readTenant } from "../../lib/steps.ts";

/** What sync-ingress does, as its command line asked. */
export interface SyncIngressOptions {
  cluster: CommonOptions;
  secrets: SecretSourceOptions;
  /** Absolute paths of the ingress files to update or check. */
  ingressFiles: string[];
  /** Write nothing; exit 1 when a file is out of date. */
  check: boolean;
  json: boolean;
}

/** Several problems become one error on one line. */
function failWith(problems: readonly string[]): void {
  if (problems.length > 0) throw new OperatorError(problems.join("; "));
}

/** Exit code 1 when --check finds a file out of date. */
export async function run(opts: SyncIngressOptions): Promise<number> {
  const { cluster, check, json } = opts;
  const steps = newSteps({ silent: json });
  // The chart is rendered (unless cached) and the mirrors are listed while the tenant
  // is read; each answer, or its error, is looked at in its own step, in order.
  const rendering = relayServices();
  const mirrorsEarly = managementClient(cluster).then(listMirrors);
  for (const early of [rendering, mirrorsEarly]) early.catch(() => {});

  const tenantClient = await readTenant(steps, cluster, lazySecretSource(opts.secrets));
  const services = await steps.run(`Derive the relay Services from ${relayChartPath}`, async (task) => {
    const derived = await rendering;
    task.say(
      derived
        .map(
          (s) =>
            `${s.instance.release}: Service ${s.namespace}/${s.name} port ${s.port.name ? `${s.port.name} ` : ""}${s.port.port}, host ${s.host}`,
        )
        .join("\n"),
    );
    return derived;
  });
  const live = await steps.run(`Read the relay Services in ${tenant.app}`, async (task) => {
    task.title = `Read Services ${services.map((s) => `${s.namespace}/${s.name}`).join(", ")} in ${tenant.app}`;
    const found = await readTenantServices(tenantClient, services);
    // What can be told from the tenant alone fails here, before the management cluster's answer is looked at.
    failWith(tenantServiceProblems(services, found));
    task.say(
      found
        .map(
          (s, i) =>
            `${services[i]?.name}: ${s ? `type ${s.spec?.type ?? "ClusterIP"}, UID ${s.metadata.uid}` : "not found"}`,
        )
        .join("\n"),
    );
    return found;
  });
  await readManagement(steps, cluster);
  const instances = await steps.run(
    `Find the KubeVirt CCM mirrors in ${management.tenantNamespace} of ${management.cluster}`,
    async (task) => {
      const matched = matchInstances(services, live, await mirrorsEarly);
      failWith(matched.flatMap((i) => (i.problem ? [i.problem] : [])));
      task.say(
        matched
          .map((i) => `${i.host} → Service ${i.mirror} port ${i.backend?.port.number} (mirror of ${i.service})`)
          .join("\n"),
      );
      return matched;
    },
  );
  const fileTitle = opts.ingressFiles.map((f) => displayPath(f)).join(", ");
  const planned = await steps.run(
    `${check ? "Check" : "Update"} ${fileTitle}${cluster.dryRun && !check ? " (dry run)" : ""}`,
    (task) => {
      const files = planIngressFiles(opts.ingressFiles, instances);
      failWith(files.flatMap((f) => (f.problem ? [f.problem] : [])));
      // Every instance must have its rule: a missing one fails before anything is written.
      const missing = hostsWithoutRule(instances, files);
      failWith(
        instances.filter((i) => missing.includes(i.host)).map((i) => missingRuleProblem(i.host, i.release, files)),
      );
      const output: string[] = [];
      for (const f of files) {
        if (f.upToDate) output.push(`${f.display}: up to date`);
        else if (check || cluster.dryRun) output.push(f.diff.trimEnd(), `${f.display}: would change`);
        else output.push(writeIfChanged(f.path, f.content).diff.trimEnd(), `${f.display}: updated`);
        const detail = describeFile(f);
        if (detail) output.push(detail);
      }
      task.say(output.join("\n"));
      return files;
    },
  );

  const stale = planned.filter((f) => !f.upToDate);
  const outOfDate = check && stale.length > 0;
  if (json) {
    const report = {
      ok: !outOfDate,
      check,
      dryRun: cluster.dryRun,
      files: planned.map((f) => ({
        file: f.display,
        upToDate: f.upToDate,
        changes: f.changes,
        foreignHosts: f.foreignHosts,
      })),
      instances: instances.map((i) => ({
        host: i.host,
        service: i.service,
        mirror: i.mirror,
        port: i.backend?.port.number,
      })),
    };
    console.log(JSON.stringify(report, null, 2));
  }
  if (!outOfDate) return exitCodes.ok;
  for (const f of stale) {
    process.stderr.write(
      `✖ ${f.display} is out of date (${f.changes.length === 1 ? "1 backend differs" : `${f.changes.length} backends differ`} from the CCM mirrors); run sync-ingress (moon run docs-infra-prod:sync-ingress)\n`,
    );
  }
  return exitCodes.changes;
}
