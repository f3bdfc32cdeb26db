// `moon run docs-infra-prod:sync-ingress`: points each relay host's Ingress backend
// at the Service KubeVirt CCM mirrored into tenant-root for that instance.
import { clusterOptionSpecs, commonHelp, ingressFilesOption, parseFlowArgs } from "../lib/cli.ts";
import { management, relayChartPath, tenant } from "../lib/names.ts";
import { secretSourceHelp, secretSourceOptions, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import type { SyncIngressOptions } from "./run/sync-ingress.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
  ...secretSourceOptionSpecs,
  "ingress-file": { type: "string", multiple: true },
  check: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;

const help = `Usage: moon run docs-infra-prod:sync-ingress -- [options]

For each relay instance, reads its LoadBalancer Service in ${tenant.app} (the name
${relayChartPath} renders for the instance's values file), finds the Service KubeVirt CCM
mirrored into ${management.tenantNamespace} of ${management.cluster}, and writes that mirror's name and
port into the Ingress rules of the instance's host. Comments and layout stay.

  --ingress-file PATH            ingress file to update; repeatable; relative to the folder the command
                                 was typed in (default ${management.ingressFile})
  --check                        change nothing; exit 1 when a file is out of date (CI, cron)
  --json                         print one JSON object (ok, files with their changes, instances) and nothing
                                 else on stdout

${secretSourceHelp}

Examples:
  moon run docs-infra-prod:sync-ingress
  moon run docs-infra-prod:sync-ingress -- --check
  moon run docs-infra-prod:sync-ingress -- --dry-run --ingress-file ../other/ingress.yaml
  node scripts/build/flow.mjs sync-ingress --check --json                        (cron)

${commonHelp}`;

/** Exit code 1 when --check finds a file out of date. */
export async function main(argv: string[]): Promise<number> {
  const { common, values } = parseFlowArgs(argv, optionSpecs, help);
  const options: SyncIngressOptions = {
    cluster: common,
    secrets: secretSourceOptions(values),
    ingressFiles: ingressFilesOption(values["ingress-file"]),
    check: values.check,
    json: values.json,
  };
  return (await import("./run/sync-ingress.ts")).run(options);
}
