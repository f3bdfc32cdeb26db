// What a flow has under way, so that Ctrl-C (SIGINT), SIGTERM or a closed terminal
// (SIGHUP) ends it cleanly: the child processes it runs (stopped and waited for),
// what it wrote to disk (removed), and what it has changed in a cluster (named in
// the one line it prints). No CLI code here: tools.ts, relay-release.ts and
// apply.ts record, cli.ts's runMain acts.

export interface Child {
  /** What the operator knows it as, e.g. "helm". */
  name: string;
  /** Asks the process to stop. */
  stop(signal: NodeJS.Signals): void;
  /** Settles when the process has exited. */
  exited: Promise<unknown>;
  /**
   * For a child that must not be cut short (helm undoing an upgrade, a rollback):
   * what the operator is told at once, whether it is asked to stop (SIGTERM) or
   * left to finish, how long it may take, and what a kill leaves behind.
   */
  onInterrupt?: { notice: string; signal: boolean; graceMs: number; killed: string };
  /** The state it left, read once it has exited (e.g. the release's revision), for the last line. */
  settled?: () => Promise<string | undefined>;
}

const children = new Set<Child>();
const cleanups = new Map<string, () => void>();
const applied: string[] = [];
let current: string | undefined;

/** Tracks a running child process until it exits. */
export function trackChild(child: Child): void {
  children.add(child);
  void child.exited.finally(() => children.delete(child));
}

/** Registers what undoes a file written for the run (`what` names it); returns the unregister function. */
export function onCleanup(what: string, undo: () => void): () => void {
  cleanups.set(what, undo);
  return () => cleanups.delete(what);
}

/** Records an object the run has written to a cluster. */
export function recordApplied(ref: string): void {
  applied.push(ref);
}

/** Records the step under way (for the line printed on an interrupt). */
export function recordStep(title: string): void {
  current = title;
}

/** How long a stopped child (a short command) gets to exit before it is killed. */
const graceMs = 60_000;

/**
 * Stops every child and waits for it, removes the files, and returns the one line
 * that says what was done and what was not. `notice` is told at once what a child
 * that takes time to stop is doing and for how long; `force` (a second signal) kills
 * every child at once.
 */
export async function interrupt(
  signal: NodeJS.Signals,
  force: Promise<unknown>,
  notice: (line: string) => void = () => {},
): Promise<string> {
  const done: string[] = [];
  const notDone: string[] = [];
  const running = [...children];
  // Taken before the children stop: a step that ends with its child removes its files itself.
  const files = [...cleanups];
  cleanups.clear();
  for (const child of running) {
    if (child.onInterrupt) notice(`${signal}: ${child.onInterrupt.notice}`);
    if (child.onInterrupt?.signal !== false) child.stop("SIGTERM");
  }
  await Promise.all(
    running.map(async (child) => {
      let timer: NodeJS.Timeout | undefined;
      const killed = await Promise.race([
        child.exited.then(() => false),
        Promise.race([force, new Promise((r) => (timer = setTimeout(r, child.onInterrupt?.graceMs ?? graceMs)))]).then(
          () => true,
        ),
      ]);
      clearTimeout(timer);
      if (killed) {
        child.stop("SIGKILL");
        await child.exited;
        notDone.push(
          child.onInterrupt?.killed ?? `${child.name} was killed before it finished (check its state before a re-run)`,
        );
      } else {
        const state = await child.settled?.().catch(() => undefined);
        done.push(
          `${child.onInterrupt?.signal === false ? "let" : "stopped"} ${child.name} ${child.onInterrupt?.signal === false ? "finish" : "and waited for it to exit"}${state ? ` (${state})` : ""}`,
        );
      }
    }),
  );
  for (const [what, undo] of files) {
    try {
      undo();
      done.push(`removed ${what}`);
    } catch (error) {
      notDone.push(
        `could not remove ${what} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); delete it by hand`,
      );
    }
  }
  const parts = [`interrupted by ${signal}${current ? ` during "${current}"` : ""}`];
  if (done.length > 0) parts.push(done.join(", "));
  if (applied.length > 0) parts.push(`applied before the interrupt: ${applied.join(", ")}`);
  else if (running.length === 0) parts.push("nothing was applied to a cluster");
  parts.push(...notDone);
  parts.push("the rest was not done; run the same command again to complete the job");
  return parts.join("; ");
}
