// A private folder for a secret that a tool can only read from a file (the tenant
// admin kubeconfig helm reads), which must not outlive the flow: removed when the
// work ends, on Ctrl-C, SIGTERM or SIGHUP (interrupt.ts), and, when the flow itself
// dies without cleaning up (kill -9, a crash), by a watchdog: a small process of its
// own, started before the secret is written, that holds the read end of a pipe from
// the flow and removes the folder when that pipe closes, which the kernel does for
// any death of the flow. helm has read its kubeconfig by the time it talks to the
// cluster (client-go loads it once), so removing it under a running helm is safe.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { rmSync } from "node:fs";
import { privateTempDir } from "./files.ts";
import { onCleanup } from "./interrupt.ts";

// CommonJS for `node -e`; its last argument is the folder. Detached (a session of its own), so
// a terminal's signals do not reach it: it ends when the pipe does.
const watchdog = `
const dir = process.argv.at(-1);
process.stdin.on("data", () => {});
process.stdin.on("close", () => {
  require("node:fs").rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
`;

/**
 * Runs `work` with a new private folder (mode 0700) that is gone when it ends, however
 * the flow ends. `what` names it in the interrupt's line; `purpose` says what it is for.
 */
export async function withPrivateDir<T>(
  opts: { prefix: string; what: string; purpose: string },
  work: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = privateTempDir(opts.prefix, opts.purpose);
  const guard = spawn(process.execPath, ["-e", watchdog, dir], { stdio: ["pipe", "ignore", "ignore"], detached: true });
  guard.stdin?.on("error", () => {}); // the watchdog is gone already: nothing to tell it
  const remove = () => {
    rmSync(dir, { recursive: true, force: true });
    guard.stdin?.end();
  };
  try {
    // Nothing secret is written before the watchdog runs.
    await once(guard, "spawn");
  } catch (error) {
    remove();
    throw error;
  }
  guard.unref();
  const unregister = onCleanup(`${opts.what} ${dir}`, remove);
  try {
    return await work(dir);
  } finally {
    remove();
    unregister();
  }
}
