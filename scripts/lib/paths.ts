// Where the repository is, so flows and tests resolve files the same way from any
// cwd, whether they run from scripts/ under tsx or from a bundle in dist/flows.
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, ".moon/workspace.yml"))) return dir;
    if (dirname(dir) === dir)
      throw new Error(`expected the repository (a folder with .moon/workspace.yml) above ${start}; found none`);
  }
}

export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

/** A path as printed: relative to `root` (the repository) when inside it, else as given. */
export function displayPath(path: string, root: string = repoRoot): string {
  const rel = relative(root, path);
  return rel === "" ? "." : rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/**
 * A path the operator typed, made absolute from where they typed it: moon runs a
 * task inside its project folder and names the shell's folder in MOON_WORKING_DIR;
 * run directly (`node scripts/build/flow.mjs …`), that folder is the cwd.
 */
export function operatorPath(path: string): string {
  return resolve(process.env.MOON_WORKING_DIR || process.cwd(), path);
}
