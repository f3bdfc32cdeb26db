// The command-line layer every flow shares: the common options, durations,
// listr2 progress, and one-line errors with secret values redacted.
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Listr, ListrTask, ListrTaskWrapper, ListrDefaultRenderer, ListrSimpleRenderer } from "listr2";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { OperatorError, redact, redactError } from "./errors.ts";
import { interrupt, recordStep } from "./interrupt.ts";
import { tenant } from "./names.ts";
import { operatorPath, repoRoot } from "./paths.ts";

export { OperatorError } from "./errors.ts";

type Renderers = ["default", "simple"];

export interface CommonOptions {
  managementContext?: string;
  tenantKubeconfig?: string;
  tenantKubeconfigFrom: "secret" | "1password";
  tenantKubeconfigKey: string;
  dryRun: boolean;
  verbose: boolean;
}

type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** Exit codes, the same in every flow (docs/runbook.md, "Exit codes"). */
export const exitCodes = {
  ok: 0,
  /** Something would change (diff, sync-ingress --check) or a verify check failed. */
  changes: 1,
  /** The command line is wrong: an unknown option, a bad value, a missing argument (the runner's too). */
  usage: 2,
  /** Anything else went wrong: a cluster, a file, a tool. */
  failure: 3,
} as const;

/** A wrong command line: exits with exitCodes.usage. */
export class UsageError extends OperatorError {}

/** Ends a flow early with a code (after --help or --version): not an error. */
export class FlowExit {
  constructor(readonly code: number) {}
}

/** Options of every flow. */
export const baseOptionSpecs = {
  "dry-run": { type: "boolean", default: false },
  verbose: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
  version: { type: "boolean", default: false },
} as const satisfies OptionSpecs;

/** Options of the flows that reach a cluster (all but vendir remove-entry). */
export const clusterOptionSpecs = {
  "management-context": { type: "string" },
  "tenant-kubeconfig": { type: "string" },
  "tenant-kubeconfig-from": { type: "string" },
  "tenant-kubeconfig-key": { type: "string", default: tenant.kubeconfigKey },
} as const satisfies OptionSpecs;

export const baseHelp = `  --dry-run                      change nothing: server-side dry-run for API writes, a diff for files
  --verbose                      stack traces and more detail
  -h, --help                     this text
  --version                      the version of these flows and of the Node.js that runs them`;

export const commonHelp = `Cluster options (the same in every flow that reaches a cluster):
  --management-context NAME      context of the management cluster (default: the current context)
  --tenant-kubeconfig PATH       the tenant cluster's kubeconfig file
  --tenant-kubeconfig-from SRC   secret (default without a path): the Cozystack Secret in tenant-root;
                                 1password: apps/docs-prod/kubeconfig.yaml.op.tpl through 1Password
  --tenant-kubeconfig-key KEY    key of that Secret (default ${tenant.kubeconfigKey})
${baseHelp}

Relative paths are from the folder the command was typed in. Durations are Go's
(500ms, 90s, 1m30s, 2h). Exit codes: 0 done, 1 something would change or a check
failed, 2 a wrong command line, 3 any other failure.`;

/** Options whose values are paths: resolved against the operator's working directory. */
const pathOptions = ["tenant-kubeconfig", "local-secrets", "ca-file", "ingress-file", "dir", "repo-root", "patches", "values"];

export interface ParsedArgs<S extends OptionSpecs> {
  common: CommonOptions;
  values: ReturnType<typeof parseArgs<{ options: S & typeof baseOptionSpecs; allowPositionals: true }>>["values"];
  positionals: string[];
}

/**
 * Parses a flow's command line: its own options (`specs`) and the base ones. Prints
 * `help` for -h/--help and the version for --version (then ends with FlowExit(0)).
 * Path options come back absolute, resolved from where the operator typed the command.
 */
export function parseFlowArgs<S extends OptionSpecs>(argv: string[], specs: S, help = ""): ParsedArgs<S> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...baseOptionSpecs, ...specs }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split(". ")[0]}; see --help`);
  }
  const v = parsed.values as Record<string, unknown>;
  if (v.help) {
    console.log(help);
    throw new FlowExit(exitCodes.ok);
  }
  if (v.version) {
    console.log(`setup-docs-relay ${version()} (node ${process.version})`);
    throw new FlowExit(exitCodes.ok);
  }
  for (const name of pathOptions) {
    const given = v[name];
    if (typeof given === "string") v[name] = operatorPath(given);
    else if (Array.isArray(given)) v[name] = given.map((p: string) => operatorPath(p));
  }
  const from = (v["tenant-kubeconfig-from"] as string | undefined) ?? "secret";
  if (from !== "secret" && from !== "1password") {
    throw new UsageError(`expected --tenant-kubeconfig-from secret or 1password; got "${from}"`);
  }
  if (v["tenant-kubeconfig"] && v["tenant-kubeconfig-from"]) {
    throw new UsageError("expected either --tenant-kubeconfig PATH or --tenant-kubeconfig-from SRC; got both; pass one");
  }
  return {
    common: {
      managementContext: v["management-context"] as string | undefined,
      tenantKubeconfig: v["tenant-kubeconfig"] as string | undefined,
      tenantKubeconfigFrom: from,
      tenantKubeconfigKey: (v["tenant-kubeconfig-key"] as string | undefined) ?? tenant.kubeconfigKey,
      dryRun: v["dry-run"] as boolean,
      verbose: v.verbose as boolean,
    },
    values: parsed.values as ParsedArgs<S>["values"],
    positionals: parsed.positionals,
  };
}

/** The version in package.json. */
function version(): string {
  return (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version?: string }).version ?? "unknown";
}

const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration as Go (and helm, kubectl) write it: 500ms, 90s, 1m30s, 1.5h, 2h45m; "0" alone
 * needs no unit. Returns milliseconds; `flag` names the option in the error.
 */
export function parseDuration(text: string, flag = "--timeout"): number {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < trimmed.length) {
    part.lastIndex = at;
    const match = part.exec(trimmed);
    if (!match) break;
    total += Number(match[1]) * durationUnits[match[2]!]!;
    at = part.lastIndex;
  }
  if (trimmed === "" || at !== trimmed.length) {
    throw new UsageError(`expected ${flag} to be a duration like 500ms, 90s, 1m30s or 2h; got "${text}"`);
  }
  return total;
}

/** Milliseconds as a Go duration, for tools that take one (helm --timeout). */
export function goDuration(ms: number): string {
  return `${Math.round(ms)}ms`;
}

export type Task<Ctx> = ListrTaskWrapper<Ctx, ListrDefaultRenderer, ListrSimpleRenderer>;
export type Step<Ctx> = ListrTask<Ctx, ListrDefaultRenderer, ListrSimpleRenderer>;

/** A named step whose errors and output are redacted before listr2 prints them. */
export function step<Ctx>(title: string, run: (ctx: Ctx, task: Task<Ctx>) => unknown, extra: Partial<Step<Ctx>> = {}): Step<Ctx> {
  return {
    title,
    ...extra,
    task: async (ctx, task) => {
      recordStep(title);
      try {
        return await run(ctx, task);
      } catch (error) {
        throw redactError(error);
      }
    },
  };
}

/** Prints lines under a step (kept after it ends). */
export function say<Ctx>(task: Task<Ctx>, line: string): void {
  task.output = redact(line);
}

/**
 * The steps of a flow; `silent` draws nothing (--json: stdout holds one JSON object
 * alone). listr2 loads when the steps run, not for --help, --version or a usage error.
 */
export function newListr<Ctx>(steps: Step<Ctx>[], { silent = false } = {}): { run(ctx: Ctx): Promise<Ctx> } {
  return {
    run: async (ctx) => {
      const { Listr: Steps } = await import("listr2");
      const list: Listr<Ctx, Renderers[0], Renderers[1]> = new Steps<Ctx, Renderers[0], Renderers[1]>(steps as never, {
        renderer: (silent ? "silent" : "default") as "default",
        rendererOptions: { collapseSubtasks: false, persistentOutput: true } as never,
        fallbackRenderer: (silent ? "silent" : "simple") as "simple",
        fallbackRendererCondition: () => !process.stdout.isTTY || process.env.CI === "true",
        exitOnError: true,
        // runMain handles SIGINT and SIGTERM: listr2's own handler exits at once, before any cleanup.
        registerSignalListeners: false,
      });
      return list.run(ctx);
    },
  };
}

/** The exit code of a flow stopped by SIGINT or SIGTERM. */
export const interruptedExitCode = 130;

/**
 * Runs a flow's main; returns the exit code (exitCodes: main's own, e.g. 1 for a
 * change found or a failed check, else 0) and prints a failure as one line on
 * stderr (listr2 also marks the failed step on stdout): scripts and cron read
 * stderr. With --json, stdout also gets one JSON object { ok: false, error }. On
 * SIGINT or SIGTERM it stops the flow's children, removes its temporary files,
 * prints one line saying what was done and what was not, and exits 130.
 */
export async function runMain(
  main: () => Promise<number | void>,
  verbose = process.argv.includes("--verbose") || !!process.env.DEBUG,
  json = process.argv.includes("--json"),
): Promise<number> {
  let interrupted: Promise<never> | undefined;
  let forced: () => void = () => {};
  const force = new Promise<void>((resolve) => (forced = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return forced();
    interrupted = interrupt(signal, force).then((line) => {
      process.stderr.write(`✖ ${redact(line)}\n`);
      process.exit(interruptedExitCode);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    return (await main()) ?? exitCodes.ok;
  } catch (error) {
    if (error instanceof FlowExit) return error.code;
    // A step that fails because the interrupt stopped its child: the interrupt's line says it all.
    if (interrupted) return await interrupted;
    const err = redactError(error);
    process.stderr.write(verbose ? `${err.stack}\n` : `✖ ${err.message}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: err.message })}\n`);
    return error instanceof UsageError ? exitCodes.usage : exitCodes.failure;
  } finally {
    if (interrupted) await interrupted;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
