// `moon run relay-server:template|diff|upgrade -- --instance personal|family`:
// the chart deployed directly with the pinned helm, without Flux (a cluster
// without Flux, break-glass, the local demo), into the namespace, release name
// and storage namespace that the HelmRelease uses, so Flux can adopt it later.
import { clusterOptionSpecs, commonHelp, goDuration, parseDuration, parseFlowArgs, type ParsedArgs, UsageError } from "../lib/cli.ts";
import { instanceByName, type RelayInstance, relayNamespace, tenant } from "../lib/names.ts";
import { secretSourceHelp, secretSourceOptionSpecs } from "../lib/onepassword.ts";

const optionSpecs = {
  ...clusterOptionSpecs,
  ...secretSourceOptionSpecs,
  instance: { type: "string" },
  values: { type: "string", multiple: true },
  timeout: { type: "string", default: "10m" },
  "no-wait": { type: "boolean", default: false },
} as const;

const help = `Usage: moon run relay-server:template -- --instance personal|family [--values FILE]...
       moon run relay-server:diff     -- --instance personal|family [--values FILE]... [cluster options]    (exit 1: would change)
       moon run relay-server:upgrade  -- --instance personal|family [--values FILE]... [--no-wait] [--timeout 10m] [cluster options]

template  renders the instance with its values file (apps/docs-prod/relay-<instance>/values.yaml)
diff      what upgrade would change in ${tenant.app}: the rendered objects against the live ones
          (server-side dry-run; Secret values are never shown)
upgrade   helm upgrade --install into namespace ${relayNamespace} (release and storage namespace as the
          HelmRelease has them); --atomic with --timeout by default; --no-wait where nothing runs Pods.
          When the release does not become ready, the error names what its Pods showed while helm
          waited (a waiting reason such as ErrImagePull, a crash loop's last log lines)

  --instance NAME                personal or family
  --values FILE                  a values file on top of the instance's own (repeatable, applied in order,
                                 as helm -f); for a break-glass override. Flux does not see it: the next
                                 reconcile of the HelmRelease puts the instance's values back
  --timeout DURATION             how long upgrade waits for the release to be ready (helm's --timeout;
                                 default 10m)
  --no-wait                      upgrade without --atomic/--wait
${secretSourceHelp}

${commonHelp}`;

/** The command line, checked: what the steps in run/relay-helm.ts get. */
export interface Args extends ParsedArgs<typeof optionSpecs> {
  command: "template" | "diff" | "upgrade";
  instance: RelayInstance;
  /** helm's --timeout, in Go's format. */
  timeout: string;
  extraValues: string[];
}

/** Exit code 1 from diff when something would change (as `kubectl diff`). */
export async function main(argv: string[]): Promise<number> {
  const { common, values, positionals } = parseFlowArgs(argv, optionSpecs, help);
  const command = positionals[0];
  if (command !== "template" && command !== "diff" && command !== "upgrade") {
    throw new UsageError(`expected a command template, diff or upgrade; got "${command ?? ""}"; see --help`);
  }
  if (positionals.length > 1) throw new UsageError(`expected one command; got ${positionals.join(" ")}; see --help`);
  if (!values.instance) throw new UsageError("expected --instance personal or family; got none; pass --instance");
  const timeout = goDuration(parseDuration(values.timeout as string));
  const extraValues = (values.values as string[] | undefined) ?? [];
  let instance;
  try {
    instance = instanceByName(values.instance as string);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return (await import("./run/relay-helm.ts")).run({ common, values, positionals, command, instance, timeout, extraValues });
}
