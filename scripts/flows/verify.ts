// `moon run docs-prod:verify`: after every change, one line per check: Flux
// reconciled, the relays available with their Secrets and addresses, the CCM
// mirrors and the ingress, TLS, /ready over HTTPS, and the attachment path in use.
import {
  clusterOptionSpecs,
  commonHelp,
  ingressFilesOption,
  parseDuration,
  parseFlowArgs,
  UsageError,
} from "../lib/cli.ts";
import { management, tenant } from "../lib/names.ts";
import { secretSourceHelp, secretSourceOptions, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import { isScope, scopes } from "../lib/verify/checks.ts";
import type { VerifyOptions } from "./run/verify.ts";

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

Examples:
  moon run docs-prod:verify
  moon run docs-prod:verify -- --only tenant --only management
  moon run docs-prod:verify -- --only network --connect-to personal.relay.enigma.vgijssel.nl=10.0.0.5:443
  node scripts/build/flow.mjs verify --json

${commonHelp}`;

/** --connect-to HOST=ADDR:PORT, each: where to reach a host instead of its DNS address. */
function parseConnectTo(values: readonly string[]): Map<string, { address: string; port: number }> {
  return new Map(
    values.map((v) => {
      const match = /^([^=\s]+)=([^:\s]+):(\d{1,5})$/.exec(v);
      if (!match || Number(match[3]) > 65535)
        throw new UsageError(
          `expected --connect-to HOST=ADDR:PORT (e.g. personal.relay.enigma.vgijssel.nl=127.0.0.1:8443); got "${v}"; see --help`,
        );
      return [match[1]!, { address: match[2]!, port: Number(match[3]) }];
    }),
  );
}

/** Exit code 1 when any check fails. */
export async function main(argv: string[]): Promise<number> {
  const { common, values } = parseFlowArgs(argv, optionSpecs, help);
  const only = values.only ?? [...scopes];
  const wrong = only.find((s) => !isScope(s));
  if (wrong !== undefined) throw new UsageError(`expected --only ${scopes.join(", ")}; got "${wrong}"; see --help`);
  const options: VerifyOptions = {
    cluster: common,
    secrets: secretSourceOptions(values),
    scopes: only.filter(isScope),
    ingressFiles: ingressFilesOption(values["ingress-file"]),
    https: {
      caFile: values["ca-file"],
      timeoutMs: parseDuration(values["request-timeout"], "--request-timeout"),
      connectTo: parseConnectTo(values["connect-to"] ?? []),
    },
    json: values.json,
  };
  return (await import("./run/verify.ts")).run(options);
}
