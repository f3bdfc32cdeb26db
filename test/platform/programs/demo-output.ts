// How the demo prints: a heading per stage, notes under it, and each flow run as
// its moon task runs it (the bundle through the runner), with the command shown.
import { spawn } from "node:child_process";
import { flowRunner } from "../../support/flows.ts";

export const heading = (text: string) => console.log(`\n━━ ${text}`);
export const note = (text: string) => console.log(`   ${text}`);

/** Runs a flow; returns its exit code. */
export function flow(label: string, name: string, argv: string[]): Promise<number> {
  console.log(`$ ${label} ${argv.join(" ")}`);
  const child = spawn(process.execPath, [flowRunner, name, ...argv], { stdio: "inherit" });
  return new Promise((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
}

/** Runs a flow that must succeed. */
export async function run(label: string, name: string, argv: string[]): Promise<void> {
  if ((await flow(label, name, argv)) !== 0)
    throw new Error(`the demo expected ${label} to succeed; it failed (see above)`);
}
