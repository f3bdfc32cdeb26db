// `moon run relay-server:template|diff|upgrade -- --instance personal|family`:
// the chart deployed directly with the pinned helm, without Flux (a cluster
// without Flux, break-glass, the local demo), into the namespace, release name
// and storage namespace that the HelmRelease uses, so Flux can adopt it later.
import { clusterOptionSpecs, commonHelp, goDuration, parseDuration, parseFlowArgs, UsageError } from "../lib/cli.ts";
import { relayNamespace, tenant } from "../lib/names.ts";
import { secretSourceHelp, secretSourceOptions, secretSourceOptionSpecs } from "../lib/onepassword.ts";
import type { RelayHelmOptions } from "./run/relay-helm.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
  ...secretSourceOptionSpecs,
  instance: { type: "string" },
  values: { type: "string", multiple: true },
  timeout: { type: "string", default: "10m" },
  "no-wait": { type: "boolean", default: false },
  recover: { type: "boolean", default: false },
} as const;

const help = `Usage: moon run relay-server:template -- --instance personal|family [--values FILE]...
       moon run relay-server:diff     -- --instance personal|family [--values FILE]... [cluster options]    (exit 1: would change)
       moon run relay-server:upgrade  -- --instance personal|family [--values FILE]... [--no-wait] [--timeout 10m] [--recover] [cluster options]

template  renders the instance with its values file (apps/docs-prod/relay-<instance>/values.yaml)
diff      what upgrade would change in ${tenant.app}: the rendered objects against the live ones
          (server-side dry-run; Secret values are never shown)
upgrade   helm upgrade --install into namespace ${relayNamespace} (release and storage namespace as the
          HelmRelease has them); --atomic with --timeout by default; --no-wait where nothing runs Pods.
          When the release does not become ready, the error names what its Pods showed while helm
          waited (a waiting reason such as ErrImagePull, a crash loop's last log lines). A release
          whose last helm was interrupted (pending-install, -upgrade, -rollback) is refused, naming
          its state; --recover first rolls it back to its last deployed revision (or uninstalls a
          first install that never finished). Ctrl-C during the wait lets helm undo the upgrade
          (--atomic, up to --timeout) and says so at once; a second Ctrl-C kills helm

  --instance NAME                personal or family
  --values FILE                  a values file on top of the instance's own (repeatable, applied in order,
                                 as helm -f); for a break-glass override. Flux does not see it: the next
                                 reconcile of the HelmRelease puts the instance's values back
  --timeout DURATION             how long upgrade waits for the release to be ready (helm's --timeout;
                                 default 10m)
  --no-wait                      upgrade without --atomic/--wait
  --recover                      upgrade: first undo a helm operation left pending (see above)
${secretSourceHelp}

Examples:
  moon run relay-server:template -- --instance family
  moon run relay-server:diff -- --instance personal
  moon run relay-server:upgrade -- --instance personal --timeout 5m
  moon run relay-server:upgrade -- --instance personal --values image-tag.yaml   (break-glass override)
  moon run relay-server:upgrade -- --instance personal --recover                  (after an interrupted helm)

${commonHelp}`;

/** Exit code 1 from diff when something would change (as `kubectl diff`). */
export async function main(argv: string[]): Promise<number> {
  const { common, values, positionals } = parseFlowArgs(argv, optionSpecs, help);
  const [command, ...extra] = positionals;
  if (command !== "template" && command !== "diff" && command !== "upgrade") {
    throw new UsageError(`expected a command template, diff or upgrade; got "${command ?? ""}"; see --help`);
  }
  if (extra.length > 0) throw new UsageError(`expected one command; got ${positionals.join(" ")}; see --help`);
  if (!values.instance) throw new UsageError("expected --instance personal or family; got none; pass --instance");
  // The instances are read from apps/docs-prod: loaded once the command line is parsed.
  const { instanceByName } = await import("../lib/instances.ts");
  let instance;
  try {
    instance = instanceByName(values.instance);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.recover && command !== "upgrade")
    throw new UsageError(`expected --recover with upgrade only; got it with ${command}; drop it`);
  const timeoutMs = parseDuration(values.timeout);
  const options: RelayHelmOptions = {
    command,
    instance,
    extraValues: values.values ?? [],
    cluster: common,
    secrets: secretSourceOptions(values),
    wait: values["no-wait"] ? undefined : { timeout: goDuration(timeoutMs), shown: values.timeout, ms: timeoutMs },
    recover: values.recover,
  };
  return (await import("./run/relay-helm.ts")).run(options);
}
