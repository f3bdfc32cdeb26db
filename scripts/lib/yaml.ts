// YAML as the flows read it: parse errors as operators read them (the file, the
// line, what is wrong), and a stream of Kubernetes objects.
import { parseAllDocuments, type YAMLError } from "yaml";
import { OperatorError } from "./errors.ts";
import type { Manifest } from "./kube.ts";

/** 1-based line of a character offset. */
export function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Throws the first parse error of a file as one line; does nothing when there is none. */
export function throwYamlError(text: string, file: string, errors: readonly YAMLError[]): void {
  const error = errors[0];
  if (!error) return;
  const line = error.linePos?.[0].line ?? lineOf(text, error.pos[0]);
  const what = error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
  throw new OperatorError(
    `expected valid YAML in ${file}; found a syntax error at ${file}:${line} (${what}); fix the file and run again, nothing was changed`,
  );
}

/**
 * A YAML stream of Kubernetes objects (a manifest file, `helm template` or
 * `kustomize build` output) as plain objects, empty documents dropped; a parse
 * error is one line naming `source` and its line.
 */
export function parseManifests(text: string, source: string): Manifest[] {
  const docs = parseAllDocuments(text);
  for (const doc of docs) throwYamlError(text, source, doc.errors);
  return docs.map((d) => d.toJS() as Manifest | null).filter((o): o is Manifest => o !== null && o !== undefined);
}
