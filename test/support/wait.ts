// Polling for a state a test waits on, bounded in time, with the last error in the failure.

/** `check` every second until it returns a value, or fail after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(
    `expected ${what} within ${timeoutMs / 1000} s${last ? `; last error: ${(last as Error).message}` : ""}`,
  );
}
