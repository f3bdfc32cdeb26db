// The command-line layer every flow shares: the common options, durations,
// listr2 progress, and one-line errors with secret values redacted.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { Listr, type ListrTask, type ListrTaskWrapper, type ListrDefaultRenderer, type ListrSimpleRenderer } from "listr2";
import { OperatorError, redact, redactError } from "./errors.ts";
import { interrupt, recordStep } from "./interrupt.ts";
import { tenant } from "./names.ts";

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

export const commonOptionSpecs = {
  "management-context": { type: "string" },
  "tenant-kubeconfig": { type: "string" },
  "tenant-kubeconfig-from": { type: "string" },
  "tenant-kubeconfig-key": { type: "string", default: tenant.kubeconfigKey },
  "dry-run": { type: "boolean", default: false },
  verbose: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const satisfies OptionSpecs;

export const commonHelp = `Cluster options (the same in every flow):
  --management-context NAME      context of the management cluster (default: the current context)
  --tenant-kubeconfig PATH       the tenant cluster's kubeconfig file
  --tenant-kubeconfig-from SRC   secret (default without a path): the Cozystack Secret in tenant-root;
                                 1password: apps/docs-prod/kubeconfig.yaml.op.tpl through 1Password
  --tenant-kubeconfig-key KEY    key of that Secret (default ${tenant.kubeconfigKey})
  --dry-run                      change nothing: server-side dry-run for API writes, a diff for files
  --verbose                      stack traces and more detail
  --help                         this text`;

export interface ParsedArgs<S extends OptionSpecs> {
  common: CommonOptions;
  values: ReturnType<typeof parseArgs<{ options: S & typeof commonOptionSpecs; allowPositionals: true }>>["values"];
  positionals: string[];
  help: boolean;
}

export function parseFlowArgs<S extends OptionSpecs>(argv: string[], specs: S): ParsedArgs<S> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...commonOptionSpecs, ...specs }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new OperatorError(`${(error as Error).message.split(". ")[0]}; see --help`);
  }
  const v = parsed.values as Record<string, unknown>;
  const from = (v["tenant-kubeconfig-from"] as string | undefined) ?? "secret";
  if (from !== "secret" && from !== "1password") {
    throw new OperatorError(`expected --tenant-kubeconfig-from secret or 1password; got "${from}"`);
  }
  if (v["tenant-kubeconfig"] && v["tenant-kubeconfig-from"]) {
    throw new OperatorError("expected either --tenant-kubeconfig PATH or --tenant-kubeconfig-from SRC; got both; pass one");
  }
  return {
    common: {
      managementContext: v["management-context"] as string | undefined,
      tenantKubeconfig: v["tenant-kubeconfig"] as string | undefined,
      tenantKubeconfigFrom: from,
      tenantKubeconfigKey: v["tenant-kubeconfig-key"] as string,
      dryRun: v["dry-run"] as boolean,
      verbose: v.verbose as boolean,
    },
    values: parsed.values as ParsedArgs<S>["values"],
    positionals: parsed.positionals,
    help: v.help as boolean,
  };
}

/** A duration as flags take it: 90s, 5m, 1h, 500ms (a bare number is seconds). */
export function parseDuration(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new OperatorError(`expected a duration like 90s, 5m or 1h; got "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(match[2] ?? "s") as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * unit;
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

export function newListr<Ctx>(steps: Step<Ctx>[]): Listr<Ctx, Renderers[0], Renderers[1]> {
  return new Listr<Ctx, Renderers[0], Renderers[1]>(steps as never, {
    renderer: "default",
    rendererOptions: { collapseSubtasks: false, persistentOutput: true } as never,
    fallbackRenderer: "simple",
    fallbackRendererCondition: () => !process.stdout.isTTY || process.env.CI === "true",
    exitOnError: true,
    // runMain handles SIGINT and SIGTERM: listr2's own handler exits at once, before any cleanup.
    registerSignalListeners: false,
  });
}

/** The exit code of a flow stopped by SIGINT or SIGTERM. */
export const interruptedExitCode = 130;

/**
 * Runs a flow's main; returns the exit code (main's own, e.g. verify's 1 for a
 * failed check, else 0) and prints a failure as one line on stderr (listr2 also
 * marks the failed step on stdout): scripts and cron read stderr. On SIGINT or
 * SIGTERM it stops the flow's children, removes its temporary files, prints one
 * line saying what was done and what was not, and exits 130.
 */
export async function runMain(main: () => Promise<number | void>, verbose = process.argv.includes("--verbose") || !!process.env.DEBUG): Promise<number> {
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
    return (await main()) ?? 0;
  } catch (error) {
    // A step that fails because the interrupt stopped its child: the interrupt's line says it all.
    if (interrupted) return await interrupted;
    const err = redactError(error);
    process.stderr.write(verbose ? `${err.stack}\n` : `✖ ${err.message}\n`);
    return 1;
  } finally {
    if (interrupted) await interrupted;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
