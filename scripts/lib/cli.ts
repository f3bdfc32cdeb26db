// The command-line layer every flow shares: the common options, durations,
// listr2 progress, and one-line errors with secret values redacted.
import { parseArgs, type ParseArgsConfig } from "node:util";
import type {
  ListrDefaultRenderer,
  ListrLogLevels as LogLevel,
  ListrSimpleRenderer,
  ListrTaskWrapper,
  LoggerFieldOptions,
} from "listr2";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { redact, redactError, UsageError } from "./errors.ts";
import { interrupt, recordStep } from "./interrupt.ts";
import { management, tenant } from "./names.ts";
import { operatorPath, repoRoot } from "./paths.ts";

export { OperatorError, UsageError } from "./errors.ts";

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
  --version                      the version of these flows, the commit they were built from, and the Node.js that runs them`;

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
const pathOptions = [
  "tenant-kubeconfig",
  "local-secrets",
  "ca-file",
  "ingress-file",
  "dir",
  "repo-root",
  "patches",
  "values",
];

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
    console.log(versionLine());
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
    throw new UsageError(
      "expected either --tenant-kubeconfig PATH or --tenant-kubeconfig-from SRC; got both; pass one",
    );
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
  return (
    (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version?: string }).version ?? "unknown"
  );
}

// Replaced by scripts/build/bundles.mjs with the commit the bundles are built from.
declare const __FLOWS_BUILT_FROM__: string;

/**
 * What --version prints: the flows' version, the commit their bundle was built from
 * (with a note when scripts/ had uncommitted changes, or that the build had no git
 * checkout to ask), and the Node.js that runs them. Run from source (the tests under
 * tsx) there is no build to name.
 */
export function versionLine(): string {
  const built = typeof __FLOWS_BUILT_FROM__ === "string" ? __FLOWS_BUILT_FROM__ : "run from source, not from a build";
  return `setup-docs-relay ${version()} (${built}, node ${process.version})`;
}

/** The ingress files given with --ingress-file (parseFlowArgs made them absolute), else the repository's. */
export function ingressFilesOption(given: readonly string[] | undefined): string[] {
  return given && given.length > 0 ? [...given] : [join(repoRoot, management.ingressFile)];
}

const durationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

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

/** What a running step can do: print lines under its title, retitle itself once it knows more. */
export interface StepTask {
  /** Prints lines under the step (kept on screen after it ends), secrets redacted. */
  say(line: string): void;
  title: string;
}

/**
 * A flow's progress: its steps, run one at a time as the flow's code reaches them,
 * each returning what it found, so a flow reads top to bottom as plain code and its
 * report is built from those values. `skip` shows a step that is not run, with why.
 */
export interface Steps {
  run<T>(title: string, body: (task: StepTask) => Promise<T> | T): Promise<T>;
  skip(title: string, reason: string): Promise<void>;
}

/** Where a notice about an interrupt goes while a step is drawn live (a terminal's progress tree). */
let liveStep: ((line: string) => void) | undefined;

/**
 * The steps of a flow, drawn by listr2 (loaded when the first step runs, not for
 * --help, --version or a usage error): a progress tree in a terminal, plain lines
 * when output is not a TTY or CI=true, nothing with `silent` (--json: stdout holds
 * one JSON object alone). What a step says stays on screen after it ends, and a
 * failed step is marked by its title: its error is the one line runMain prints on stderr.
 */
export function newSteps({ silent = false } = {}): Steps {
  const plain = () => !process.stdout.isTTY || process.env.CI === "true";
  const draw = async (
    title: string,
    task: (
      ctx: unknown,
      wrapper: ListrTaskWrapper<unknown, ListrDefaultRenderer, ListrSimpleRenderer>,
    ) => Promise<void> | void,
    skip: string | false = false,
  ) => {
    const { Listr, ListrLogger, ListrLogLevels, LISTR_LOGGER_STYLE } = await import("listr2");
    // The plain renderer writes a failed step as "✖ title [FAILED: message]" on stderr, a second copy of runMain's line: it keeps the title, on stdout.
    class StepLogger extends ListrLogger<LogLevel> {
      override log(level: LogLevel, message: string | unknown[], options?: LoggerFieldOptions): void {
        super.log(level, message, level === ListrLogLevels.FAILED ? undefined : options);
      }
    }
    const list = new Listr<unknown, "default", "simple">(
      [{ title, task, skip, rendererOptions: { persistentOutput: true, outputBar: Infinity } }],
      {
        renderer: (silent ? "silent" : "default") as "default",
        rendererOptions: { showErrorMessage: false, collapseSkips: false, collapseSubtasks: false },
        fallbackRenderer: (silent ? "silent" : "simple") as "simple",
        fallbackRendererOptions: {
          logger: new StepLogger({
            useIcons: true,
            toStderr: [],
            icon: LISTR_LOGGER_STYLE.icon,
            color: LISTR_LOGGER_STYLE.color,
          }),
        },
        fallbackRendererCondition: plain,
        exitOnError: true,
        // runMain handles SIGINT, SIGTERM and SIGHUP: listr2's own handler exits at once, before any cleanup.
        registerSignalListeners: false,
      },
    );
    await list.run();
  };
  return {
    async run<T>(title: string, body: (task: StepTask) => Promise<T> | T): Promise<T> {
      let result: { value: T } | undefined;
      await draw(title, async (_ctx, wrapper) => {
        recordStep(title);
        const say = (line: string) => void (wrapper.output = redact(line));
        if (!silent && !plain()) liveStep = say;
        try {
          result = {
            value: await body({
              say,
              get title() {
                return wrapper.title ?? title;
              },
              set title(text: string) {
                wrapper.title = redact(text);
              },
            }),
          };
        } catch (error) {
          throw redactError(error);
        } finally {
          liveStep = undefined;
        }
      });
      if (!result) throw new Error(`listr2 ended the step "${title}" without running it`);
      return result.value;
    },
    skip: (title, reason) => draw(title, () => {}, reason),
  };
}

/** The exit code of a flow stopped by SIGINT, SIGTERM or SIGHUP. */
export const interruptedExitCode = 130;

/** Ctrl-C, a kill, and a terminal that closed (an SSH session dropping): each ends the flow cleanly. */
const interruptSignals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

let outputGuarded = false;

/**
 * A closed stdout or stderr (`… | head -1`, a terminal that went away) stops nothing:
 * what the flow writes there is dropped, its work goes on, and it exits with its own
 * code. Node reports the closed pipe as an error on the stream (EPIPE; EIO for a
 * terminal that hung up), which unhandled ends the process with a stack trace.
 */
function dropWritesToClosedOutput(): void {
  if (outputGuarded) return;
  outputGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "EIO" && error.code !== "ERR_STREAM_DESTROYED") throw error;
    });
  }
}

/** How long an interrupted flow whose step waits on something other than a child (a request) gets to end by itself. */
const endGraceMs = 5000;

/**
 * Runs a flow's main; returns the exit code (exitCodes: main's own, e.g. 1 for a
 * change found or a failed check, else 0) and prints a failure as one line on
 * stderr (the failed step is marked by its title on stdout): scripts and cron read
 * stderr. With --json, stdout also gets one JSON object { ok: false, error }. On
 * SIGINT, SIGTERM or SIGHUP it stops the flow's children (telling at once what one
 * that takes time to stop does, and how long it may take), removes its temporary
 * files, prints one line saying what was done and what was not, and exits 130.
 */
export async function runMain(
  main: () => Promise<number | void>,
  verbose = process.argv.includes("--verbose") || !!process.env.DEBUG,
  json = process.argv.includes("--json"),
): Promise<number> {
  dropWritesToClosedOutput();
  let interrupted: Promise<string> | undefined;
  let forced: () => void = () => {};
  const force = new Promise<void>((resolve) => (forced = resolve));
  let reported = false;
  const report = (line: string) => {
    if (!reported) process.stderr.write(`✖ ${redact(line)}\n`);
    reported = true;
  };
  // Under the running step in a terminal's progress tree (which holds stderr back while it draws), else on stderr at once.
  const notice = (line: string) => (liveStep ? liveStep(line) : void process.stderr.write(`${redact(line)}\n`));
  let ended: Promise<unknown> = new Promise(() => {});
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return forced();
    interrupted = interrupt(signal, force, notice);
    // A step whose child was stopped ends with it, and the flow reports below; one still waiting on something else is ended here.
    void interrupted.then(async (line) => {
      await Promise.race([ended, new Promise((r) => setTimeout(r, endGraceMs).unref())]);
      report(line);
      if (process.stdout.isTTY) process.stdout.write("\u001b[?25h"); // the cursor a progress tree hid
      process.exit(interruptedExitCode);
    });
  };
  for (const signal of interruptSignals) process.on(signal, onSignal);
  let code: number;
  try {
    const running = main();
    ended = running.catch(() => undefined);
    code = (await running) ?? exitCodes.ok;
  } catch (error) {
    if (error instanceof FlowExit) code = error.code;
    // A step that fails because the interrupt stopped its child: the interrupt's line says it all.
    else if (interrupted) code = interruptedExitCode;
    else {
      const err = redactError(error);
      process.stderr.write(verbose ? `${err.stack}\n` : `✖ ${err.message}\n`);
      if (json) process.stdout.write(`${JSON.stringify({ ok: false, error: err.message })}\n`);
      code = error instanceof UsageError ? exitCodes.usage : exitCodes.failure;
    }
  }
  if (interrupted) {
    report(await interrupted);
    code = interruptedExitCode;
  }
  for (const signal of interruptSignals) process.off(signal, onSignal);
  return code;
}
