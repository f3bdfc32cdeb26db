// Points the Ingress rules of a relay host at a backend Service in an ingress file,
// changing only those values: every other byte (comments, order, layout) stays.
import { type Document, isMap, isScalar, isSeq, parseAllDocuments, type Scalar, stringify } from "yaml";
import { OperatorError } from "./errors.ts";
import { lineOf, throwYamlError } from "./yaml.ts";
import type { Backend } from "./mirrors.ts";

export interface BackendChange {
  host: string;
  ingress: string;
  /** 1-based line of the rule's backend in the file. */
  line: number;
  from: string;
  to: string;
}

/** A rule whose host belongs to no relay instance: left as it is. */
export interface ForeignHost {
  host: string;
  ingress: string;
  line: number;
}

export interface IngressPatch {
  content: string;
  changes: BackendChange[];
  foreignHosts: ForeignHost[];
  /** Instance hosts that have at least one rule in this file. */
  hostsFound: string[];
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Parses every document; a syntax error becomes one line naming the file and line. */
export function parseIngressFile(text: string, file: string): Document.Parsed[] {
  const docs = parseAllDocuments(text);
  for (const doc of docs) throwYamlError(text, file, doc.errors);
  return docs;
}

/** The new value as YAML, in the old value's quoting style where it has one. */
function render(node: Scalar, value: string | number): string {
  if (typeof value === "number") return String(value);
  if (node.type === "QUOTE_DOUBLE") return JSON.stringify(value);
  if (node.type === "QUOTE_SINGLE") return `'${value.replace(/'/g, "''")}'`;
  return stringify(value).trimEnd();
}

type Path = (string | number)[];

/**
 * Sets name and port of every backend of each rule whose host is a key of
 * `backends`. A host mapped to undefined is an instance whose backend is not
 * known (left alone, not reported as foreign).
 */
export function patchIngress(text: string, file: string, backends: ReadonlyMap<string, Backend | undefined>): IngressPatch {
  const docs = parseIngressFile(text, file);
  const edits: Edit[] = [];
  const changes: BackendChange[] = [];
  const foreignHosts: ForeignHost[] = [];
  const hostsFound = new Set<string>();

  const set = (doc: Document.Parsed, path: Path, value: string | number, what: string): { from: string; line: number } => {
    const node = doc.getIn(path, true);
    if (!isScalar(node) || !node.range) {
      throw new OperatorError(`expected ${what} at ${path.join(".")} in ${file}; found ${node === undefined ? "nothing" : "a non-scalar value"}; write a service backend (name and port) for that rule`);
    }
    const from = String(node.value);
    if (node.value !== value) {
      edits.push({ start: node.range[0], end: node.range[1], text: render(node, value) });
      doc.setIn(path, value);
    }
    return { from, line: lineOf(text, node.range[0]) };
  };

  for (const doc of docs) {
    if (doc.get("kind") !== "Ingress") continue;
    const ingress = String(doc.getIn(["metadata", "name"]) ?? "(unnamed)");
    const rules = doc.getIn(["spec", "rules"], true);
    if (!isSeq(rules)) continue;
    rules.items.forEach((_rule, i) => {
      const rulePath: Path = ["spec", "rules", i];
      const hostNode = doc.getIn([...rulePath, "host"], true);
      if (!isScalar(hostNode)) return;
      const host = String(hostNode.value);
      if (!backends.has(host)) {
        foreignHosts.push({ host, ingress, line: lineOf(text, hostNode.range?.[0] ?? 0) });
        return;
      }
      hostsFound.add(host);
      const backend = backends.get(host);
      if (!backend) return;
      const paths = doc.getIn([...rulePath, "http", "paths"], true);
      if (!isSeq(paths) || paths.items.length === 0) {
        throw new OperatorError(`expected http.paths with a service backend in the rule for ${host} (Ingress ${ingress}, ${file}:${lineOf(text, hostNode.range?.[0] ?? 0)}); found none; add a path with backend.service`);
      }
      paths.items.forEach((_p, j) => {
        const service: Path = [...rulePath, "http", "paths", j, "backend", "service"];
        const name = set(doc, [...service, "name"], backend.service, `backend.service.name for ${host} (Ingress ${ingress})`);
        const port = doc.getIn([...service, "port"], true);
        const byName = isMap(port) && port.has("name");
        if (byName && !backend.port.name) {
          throw new OperatorError(`expected the tenant Service port for ${host} to have a name, since ${file}:${name.line} refers to the port by name; found an unnamed port ${backend.port.number}; use port.number in the file`);
        }
        const portValue = byName ? backend.port.name! : backend.port.number;
        const portFrom = set(doc, [...service, "port", byName ? "name" : "number"], portValue, `backend.service.port for ${host} (Ingress ${ingress})`);
        const from = `${name.from}:${portFrom.from}`;
        const to = `${backend.service}:${portValue}`;
        if (from !== to) changes.push({ host, ingress, line: name.line, from, to });
      });
    });
  }

  let content = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) content = content.slice(0, edit.start) + edit.text + content.slice(edit.end);
  // The text edit and the Document model must agree; anything else is a bug here, not an operator mistake.
  if (edits.length > 0) {
    const reparsed = parseAllDocuments(content).map((d) => JSON.stringify(d.toJS()));
    const expected = docs.map((d) => JSON.stringify(d.toJS()));
    if (reparsed.join("\n") !== expected.join("\n")) throw new Error(`patching ${file} produced YAML that does not read back as intended; nothing was written`);
  }
  return { content, changes, foreignHosts, hostsFound: [...hostsFound] };
}
