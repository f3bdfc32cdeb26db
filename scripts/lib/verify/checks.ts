// What verify reports: one Check per line, grouped by scope, and how a scope that
// cannot run at all (an unreachable cluster) still reports instead of crashing.
import { OperatorError, redact } from "../errors.ts";

export type Scope = "tenant" | "management" | "network";
export const scopes: readonly Scope[] = ["tenant", "management", "network"];

export function isScope(name: string): name is Scope {
  return (scopes as readonly string[]).includes(name);
}

export interface Check {
  scope: Scope;
  name: string;
  ok: boolean;
  /** Why it passed or failed. */
  detail: string;
  /** For a failure: what to do next. */
  next?: string;
  /** Not applicable here (e.g. cert-manager not installed): neither pass nor fail. */
  skipped?: boolean;
}

/** A check without its scope, as the check functions build it; the scope runner adds the scope. */
export type Result = Omit<Check, "scope">;

export const pass = (name: string, detail: string): Result => ({ name, ok: true, detail });
export const fail = (name: string, detail: string, next: string): Result => ({ name, ok: false, detail, next });
export const skip = (name: string, detail: string): Result => ({ name, ok: true, skipped: true, detail });

export function formatChecks(checks: readonly Check[]): string {
  return checks
    .map(
      (c) =>
        `${c.skipped ? "-" : c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}${!c.ok && c.next ? `\n    next: ${c.next}` : ""}`,
    )
    .join("\n");
}

/** A scope that could not run, as one failed check: an operator error says its own next step, anything else is the cluster's access. */
export function scopeFailure(scope: Scope, name: string, error: unknown): Check {
  const next =
    error instanceof OperatorError
      ? "do what the reason says, then run verify again"
      : "fix access to the cluster, then run verify again";
  return { scope, name, ok: false, detail: redact((error as Error).message), next };
}

/** Runs one scope's checks; a cluster that cannot be reached is a failed check, not a crash, so the other scopes still run. */
export async function inScope(scope: Scope, name: string, run: () => Promise<Result[]>): Promise<Check[]> {
  try {
    return (await run()).map((r) => ({ scope, ...r }));
  } catch (error) {
    return [scopeFailure(scope, name, error)];
  }
}
