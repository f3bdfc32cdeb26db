// What every flow shares: the common options, listr2 progress, one-line errors
// for operator mistakes, and redaction of secret values from everything printed.
import { basename } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { Listr, type ListrTask, type ListrTaskWrapper, type ListrDefaultRenderer, type ListrSimpleRenderer } from "listr2";

type Renderers = ["default", "simple"];

/** An operator mistake or an unmet expectation: printed as one line, no stack. */
export class OperatorError extends Error {}

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
  "tenant-kubeconfig-key": { type: "string", default: "super-admin.conf" },
  "dry-run": { type: "boolean", default: false },
  verbose: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const satisfies OptionSpecs;

export const commonHelp = `Cluster options (the same in every flow):
  --management-context NAME      context of the management cluster (default: the current context)
  --tenant-kubeconfig PATH       the tenant cluster's kubeconfig file
  --tenant-kubeconfig-from SRC   secret (default without a path): the Cozystack Secret in tenant-root;
                                 1password: apps/docs-prod/kubeconfig.yaml.op.tpl through 1Password
  --tenant-kubeconfig-key KEY    key of that Secret (default super-admin.conf)
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

// Secret values registered here never leave the process in output or errors.
const secrets = new Set<string>();

export function registerSecret(value: string): void {
  if (value.length >= 4) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return out;
}

export type Task<Ctx> = ListrTaskWrapper<Ctx, ListrDefaultRenderer, ListrSimpleRenderer>;
export type Step<Ctx> = ListrTask<Ctx, ListrDefaultRenderer, ListrSimpleRenderer>;

/** A named step whose errors and output are redacted before listr2 prints them. */
export function step<Ctx>(title: string, run: (ctx: Ctx, task: Task<Ctx>) => unknown, extra: Partial<Step<Ctx>> = {}): Step<Ctx> {
  return {
    title,
    ...extra,
    task: async (ctx, task) => {
      try {
        return await run(ctx, task);
      } catch (error) {
        throw redactError(error);
      }
    },
  };
}

function redactError(error: unknown): Error {
  const err = error instanceof Error ? error : new Error(String(error));
  const redacted = err instanceof OperatorError ? new OperatorError(redact(err.message)) : new Error(redact(err.message));
  redacted.stack = redact(err.stack ?? "");
  return redacted;
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
  });
}

/**
 * Runs a flow's main; returns the exit code and prints a failure as one line on
 * stderr (listr2 also marks the failed step on stdout): scripts and cron read stderr.
 */
export async function runMain(main: () => Promise<void>, verbose = process.argv.includes("--verbose") || !!process.env.DEBUG): Promise<number> {
  try {
    await main();
    return 0;
  } catch (error) {
    const err = redactError(error);
    process.stderr.write(verbose ? `${err.stack}\n` : `✖ ${err.message}\n`);
    return 1;
  }
}

/**
 * True when node was started with this flow: scripts/<name>.ts under tsx, or its
 * bundle dist/flows/<name>.mjs. By name, because a bundle inlines the flows it
 * imports (bootstrap holds create-1password-secret) and only its own may run.
 */
export function isEntryPoint(name: string): boolean {
  const entry = process.argv[1];
  return !!entry && basename(entry).replace(/\.(ts|mjs|js)$/, "") === name;
}
