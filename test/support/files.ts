// Scratch files for tests and programs: a temp dir, and a local secrets file for
// `--secrets-from local` (mode 0600, as an operator's would be).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A local secrets file for --secrets-from local. */
export function localSecretsFile(dir: string, values: Record<string, string>): string {
  const path = join(dir, "secrets.json");
  writeFileSync(path, JSON.stringify(values), { mode: 0o600 });
  return path;
}
