// Where a flow's output goes, as an operator's shell has it: a terminal (`script` gives
// the flow a pseudo-terminal, so listr2 draws its live progress tree, and a small screen
// model replays what it wrote, cursor moves and erased lines included, into the lines
// left on screen at the end), or a pipe whose reader has gone (`… | head -1`).
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/lib/paths.ts";

/** The text left on a terminal after `output` was written to it: the escape sequences log-update and listr2 use, applied. */
export function screen(output: string): string[] {
  const lines: string[] = [""];
  let row = 0;
  let col = 0;
  const put = (ch: string) => {
    const line = lines[row]!.padEnd(col);
    lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
    col++;
  };
  for (let i = 0; i < output.length; i++) {
    const ch = output[i]!;
    if (ch === "\u001b") {
      const csi = /^\[([?\d;]*)([A-Za-z])/.exec(output.slice(i + 1));
      if (!csi) continue;
      i += csi[0].length;
      const n = Number(csi[1]) || 1;
      if (csi[2] === "A") row = Math.max(0, row - n);
      else if (csi[2] === "B") row += n;
      else if (csi[2] === "G") col = n - 1;
      else if (csi[2] === "K") lines[row] = csi[1] === "2" ? "" : lines[row]!.slice(0, col);
      else if (csi[2] === "J") lines.splice(row + 1);
      while (lines.length <= row) lines.push("");
      continue; // colours (m) and the cursor's visibility (?25l, ?25h) leave the text as it is
    }
    if (ch === "\r") col = 0;
    else if (ch === "\n") {
      row++;
      col = 0;
      while (lines.length <= row) lines.push("");
    } else put(ch);
  }
  return lines.map((l) => l.trimEnd());
}

/** Runs a flow's bundle (through the runner, as its moon task does) in a 120-column terminal; its exit code and final screen. */
export function runFlowInTerminal(
  flow: string,
  args: readonly string[],
  dir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; screen: string[] }> {
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const command = [process.execPath, join(repoRoot, "scripts/build/flow.mjs"), flow, ...args].map(quote).join(" ");
  const typescript = join(dir, "typescript");
  return new Promise((resolve) => {
    // `script` writes everything the terminal got to its log file; stty gives the terminal a size, as a real one has.
    execFile(
      "script",
      ["--quiet", "--flush", "--return", "--command", `stty cols 120 rows 50; ${command}`, typescript],
      { cwd: repoRoot, env: { ...process.env, CI: undefined, ...env } },
      (error) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        const log = readFileSync(typescript, "utf8");
        // Between the header and footer lines that script adds.
        const body = log.slice(log.indexOf("\n") + 1, log.lastIndexOf("\nScript done"));
        resolve({ code, screen: screen(body) });
      },
    );
  });
}

/** Runs a flow's bundle with its stdout a pipe nobody reads any more (as `… | head -0`); its exit code and stderr. */
export async function runFlowWithStdoutClosed(
  flow: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(repoRoot, "scripts/build/flow.mjs"), flow, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true", ...env },
  });
  // The reader is gone before the flow writes its first line.
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return { code, stderr };
}
