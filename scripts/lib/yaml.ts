// YAML parse errors as operators read them: the file, the line, what is wrong.
import type { YAMLError } from "yaml";
import { OperatorError } from "./errors.ts";

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
  throw new OperatorError(`expected valid YAML in ${file}; found a syntax error at ${file}:${line} (${what}); fix the file and run again, nothing was changed`);
}
