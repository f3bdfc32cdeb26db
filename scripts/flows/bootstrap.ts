// `moon run docs-prod:bootstrap` / `moon run docs-infra-prod:bootstrap`: applies an
// app folder to its cluster by server-side apply and waits for its root
// Kustomization, so Flux takes over from there.
import { clusterOptionSpecs, commonHelp, parseDuration, parseFlowArgs, UsageError } from "../lib/cli.ts";
import { secretRefs } from "../lib/connect-secrets.ts";
import { appByName, apps, tenant } from "../lib/names.ts";
import { secretSourceHelp, secretSourceOptions, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import type { BootstrapOptions } from "./run/bootstrap.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
  ...secretSourceOptionSpecs,
  app: { type: "string", default: "docs-prod" },
  branch: { type: "string" },
  "git-url": { type: "string" },
  patches: { type: "string" },
  timeout: { type: "string", default: "10m" },
  "no-wait": { type: "boolean", default: false },
  force: { type: "boolean", default: false },
  "skip-secrets": { type: "boolean", default: false },
  "credentials-ref": { type: "string" },
  "token-ref": { type: "string" },
  json: { type: "boolean", default: false },
} as const;

const help = `Usage: moon run docs-prod:bootstrap -- [options]
       moon run docs-infra-prod:bootstrap -- [options]

Applies apps/<app> (built with the pinned kubectl kustomize) to its cluster by
server-side apply, namespaces first, and waits for the root Kustomization to be Ready
(first asking Flux to reconcile it and its GitRepository now, as flux reconcile --with-source;
the output names that write).
docs-prod goes to ${tenant.app} and first writes the 1Password Connect Secrets
(create-1password-secret, in-process); docs-infra-prod goes to the management cluster.

  --app NAME                     docs-prod (default) or docs-infra-prod
  --branch NAME                  point the GitRepository at this branch (a development branch)
  --git-url URL                  point the GitRepository at this repository URL (e.g. a local
                                 git server); both are kept as patches in the root Kustomization,
                                 so Flux does not put the URL or branch of the file back
  --patches FILE                 a YAML list of kustomize patches (a Flux Kustomization's
                                 spec.patches) applied here and kept in the root Kustomization:
                                 what a cluster other than production needs (the local demo)
  --timeout DURATION             how long to wait for the root Kustomization to be Ready (default 10m,
                                 its own timeout, which covers the relays' 8m; e.g. 90s, 1m30s)
  --no-wait                      apply and return without waiting
  --force                        also have helm-controller run every HelmRelease's install or upgrade
                                 again, as flux reconcile helmrelease --force does (a release that
                                 stays failed after its fix, fluxcd/helm-controller#1362), once
                                 kustomize-controller has applied the change, and wait until each
                                 has handled it (so not with --no-wait)
  --skip-secrets                 leave out create-1password-secret (docs-prod)
  --json                         print one JSON object (ok, app, cluster, each object's action, ready)
                                 and nothing else on stdout
  --credentials-ref, --token-ref as in create-1password-secret
${secretSourceHelp}

Examples:
  moon run docs-prod:bootstrap
  moon run docs-prod:bootstrap -- --branch my-feature --timeout 10m
  moon run docs-prod:bootstrap -- --force
  moon run docs-infra-prod:bootstrap -- --management-context enigma --dry-run
  node scripts/build/flow.mjs bootstrap --app docs-prod --no-wait --json

${commonHelp}`;

export async function main(argv: string[]): Promise<void> {
  const { common, values } = parseFlowArgs(argv, optionSpecs, help);
  const app = appByName(values.app);
  if (!app) throw new UsageError(`expected --app ${Object.keys(apps).join(" or ")}; got "${values.app}"; see --help`);
  if (values.force && values["no-wait"])
    throw new UsageError(
      "expected --force without --no-wait: the force is asked once kustomize-controller has applied the change (before it, helm-controller would run the old values again), which needs the wait",
    );
  const timeoutMs = parseDuration(values.timeout);
  const options: BootstrapOptions = {
    app,
    cluster: common,
    secrets: secretSourceOptions(values),
    connectSecrets: app.isTenant && !values["skip-secrets"] ? secretRefs(values) : undefined,
    source: { url: values["git-url"], branch: values.branch },
    patchesFile: values.patches,
    waitMs: values["no-wait"] ? undefined : timeoutMs,
    force: values.force,
    json: values.json,
  };
  return (await import("./run/bootstrap.ts")).run(options);
}
