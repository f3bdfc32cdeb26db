// Operator errors and secret redaction: what every module may throw or print,
// without pulling in the CLI layer (listr2).

/** An operator mistake or an unmet expectation: printed as one line, no stack. */
export class OperatorError extends Error {}

/** A wrong command line (an option, a value, an argument, or an environment variable standing for one): exit code 2, raised before anything runs. */
export class UsageError extends OperatorError {}

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

/** A message on one line, as the runbook promises: a tool's multi-line answer joined with "; " (a list after a colon follows it). */
export function oneLine(message: string): string {
  const lines = message
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.reduce((out, line) => (out === "" ? line : `${out}${out.endsWith(":") ? " " : "; "}${line}`), "");
}

/** What an operator can do about a file system error code. */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const meaning: Record<string, string> = {
    ENOENT: "it does not exist",
    EACCES: "permission denied",
    EPERM: "permission denied",
    EROFS: "the file system is read-only",
    EISDIR: "it is a folder",
    ENOTDIR: "a part of the path is not a folder",
    ENOSPC: "the disk is full",
    EDQUOT: "the disk quota is used up",
    ELOOP: "it is a link that points back to itself",
  };
  return code && meaning[code] ? `${meaning[code]} (${code})` : (code ?? (error as Error).message);
}

/** What to do about a file that could not be written, by its error code. */
export function fsRemedy(error: unknown, writable: string): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return "free space on that disk";
  if (code === "ELOOP") return "fix the link";
  return writable;
}

/** The same error with every registered secret taken out of its message and stack, its message on one line. */
export function redactError(error: unknown): Error {
  const err = error instanceof Error ? error : new Error(String(error));
  const message = oneLine(redact(err.message));
  const redacted = err instanceof OperatorError ? new OperatorError(message) : new Error(message);
  redacted.stack = redact(err.stack ?? "");
  return redacted;
}
