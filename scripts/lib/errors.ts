// Operator errors and secret redaction: what every module may throw or print,
// without pulling in the CLI layer (listr2).

/** An operator mistake or an unmet expectation: printed as one line, no stack. */
export class OperatorError extends Error {}

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

/** The same error with every registered secret taken out of its message and stack. */
export function redactError(error: unknown): Error {
  const err = error instanceof Error ? error : new Error(String(error));
  const redacted = err instanceof OperatorError ? new OperatorError(redact(err.message)) : new Error(redact(err.message));
  redacted.stack = redact(err.stack ?? "");
  return redacted;
}
