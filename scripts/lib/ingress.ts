// Points the Ingress rules of a relay host at a backend Service in an ingress file,
// changing only those values: every other byte (comments, order, layout) stays.
import { type Document, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Scalar, stringify, visit } from "yaml";
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

/**
 * Parses every document; a syntax error becomes one line naming the file and line,
 * and so does an alias whose anchor is not in its own document (each `---` document
 * has its own anchors; the parser leaves it for later as a bare "Unresolved alias").
 */
export function parseIngressFile(text: string, file: string): Document.Parsed[] {
  const docs = parseAllDocuments(text);
  for (const doc of docs) {
    throwYamlError(text, file, doc.errors);
    visit(doc, {
      Alias(_key, alias) {
        if (alias.resolve(doc)) return;
        const line = lineOf(text, alias.range?.[0] ?? 0);
        throw new OperatorError(
          `expected valid YAML in ${file}; found the alias *${alias.source} at ${file}:${line} with no anchor &${alias.source} before it in the same document (each --- document has its own anchors); write the value out there, and run again, nothing was changed`,
        );
      },
    });
  }
  return docs;
}

type Path = (string | number)[];

/** The node at `path`, following aliases (a rule or backend written once with an anchor and reused with *name). */
function nodeAt(doc: Document.Parsed, path: Path): unknown {
  let node: unknown = doc.contents;
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node) || (isSeq(node) && typeof key === "number")) node = node.get(key, true);
    else return undefined;
  }
  return isAlias(node) ? node.resolve(doc) : node;
}

/** A scalar node's value; undefined for anything else. */
function nodeValue(node: unknown): unknown {
  return isScalar(node) ? node.value : undefined;
}

/** The new value as YAML, in the old value's quoting style where it has one. */
function render(node: Scalar, value: string | number): string {
  if (typeof value === "number") return String(value);
  if (node.type === "QUOTE_DOUBLE") return JSON.stringify(value);
  if (node.type === "QUOTE_SINGLE") return `'${value.replace(/'/g, "''")}'`;
  return stringify(value).trimEnd();
}

/**
 * Sets name and port of every backend of each rule whose host is a key of
 * `backends`. A host mapped to undefined is an instance whose backend is not
 * known (left alone, not reported as foreign).
 */
export function patchIngress(
  text: string,
  file: string,
  backends: ReadonlyMap<string, Backend | undefined>,
): IngressPatch {
  const docs = parseIngressFile(text, file);
  const edits: Edit[] = [];
  const changes: BackendChange[] = [];
  const foreignHosts: ForeignHost[] = [];
  const hostsFound = new Set<string>();

  // A value reached through an alias is the anchored one: each is edited once, and two
  // hosts that share it through aliases cannot each get their own backend.
  const setBy = new Map<Scalar, { value: string | number; what: string; from: string }>();
  const set = (
    doc: Document.Parsed,
    path: Path,
    value: string | number,
    what: string,
  ): { from: string; line: number } => {
    const node = nodeAt(doc, path);
    if (!isScalar(node) || !node.range) {
      throw new OperatorError(
        `expected ${what} at ${path.join(".")} in ${file}; found ${node === undefined ? "nothing" : "a non-scalar value"}; write a service backend (name and port) for that rule`,
      );
    }
    const line = lineOf(text, node.range[0]);
    const earlier = setBy.get(node);
    if (earlier) {
      if (earlier.value !== value) {
        throw new OperatorError(
          `expected ${what} and ${earlier.what} to be values of their own in ${file}; found both at ${file}:${line}, shared through a YAML anchor, yet they need ${value} and ${earlier.value}; write each rule's backend out, and run again, nothing was changed`,
        );
      }
      return { from: earlier.from, line };
    }
    const from = String(node.value);
    setBy.set(node, { value, what, from });
    if (node.value !== value) {
      edits.push({ start: node.range[0], end: node.range[1], text: render(node, value) });
      node.value = value;
    }
    return { from, line };
  };

  for (const doc of docs) {
    if (nodeValue(nodeAt(doc, ["kind"])) !== "Ingress") continue;
    const ingress = String(nodeValue(nodeAt(doc, ["metadata", "name"])) ?? "(unnamed)");
    const rules = nodeAt(doc, ["spec", "rules"]);
    if (!isSeq(rules)) continue;
    rules.items.forEach((_rule, i) => {
      const rulePath: Path = ["spec", "rules", i];
      const hostNode = nodeAt(doc, [...rulePath, "host"]);
      if (!isScalar(hostNode)) return;
      const host = String(hostNode.value);
      if (!backends.has(host)) {
        foreignHosts.push({ host, ingress, line: lineOf(text, hostNode.range?.[0] ?? 0) });
        return;
      }
      hostsFound.add(host);
      const backend = backends.get(host);
      if (!backend) return;
      const paths = nodeAt(doc, [...rulePath, "http", "paths"]);
      if (!isSeq(paths) || paths.items.length === 0) {
        throw new OperatorError(
          `expected http.paths with a service backend in the rule for ${host} (Ingress ${ingress}, ${file}:${lineOf(text, hostNode.range?.[0] ?? 0)}); found none; add a path with backend.service`,
        );
      }
      paths.items.forEach((_p, j) => {
        const service: Path = [...rulePath, "http", "paths", j, "backend", "service"];
        const name = set(
          doc,
          [...service, "name"],
          backend.service,
          `backend.service.name for ${host} (Ingress ${ingress})`,
        );
        const port = nodeAt(doc, [...service, "port"]);
        const byName = isMap(port) && port.has("name");
        if (byName && !backend.port.name) {
          throw new OperatorError(
            `expected the tenant Service port for ${host} to have a name, since ${file}:${name.line} refers to the port by name; found an unnamed port ${backend.port.number}; use port.number in the file`,
          );
        }
        const portValue = byName ? backend.port.name! : backend.port.number;
        const portFrom = set(
          doc,
          [...service, "port", byName ? "name" : "number"],
          portValue,
          `backend.service.port for ${host} (Ingress ${ingress})`,
        );
        const from = `${name.from}:${portFrom.from}`;
        const to = `${backend.service}:${portValue}`;
        // A backend shared through an alias is one change, not one per use.
        if (from !== to && !changes.some((c) => c.line === name.line && c.host === host))
          changes.push({ host, ingress, line: name.line, from, to });
      });
    });
  }

  let content = text;
  // Sorted from the end: each edit's offsets still hold when it is made.
  for (const edit of [...edits].sort((a, b) => b.start - a.start))
    content = content.slice(0, edit.start) + edit.text + content.slice(edit.end);
  // The text edit and the Document model must agree; anything else is a bug here, not an operator mistake.
  if (edits.length > 0) {
    const reparsed = parseAllDocuments(content).map((d) => JSON.stringify(d.toJS()));
    const expected = docs.map((d) => JSON.stringify(d.toJS()));
    if (reparsed.join("\n") !== expected.join("\n"))
      throw new Error(`patching ${file} produced YAML that does not read back as intended; nothing was written`);
  }
  return { content, changes, foreignHosts, hostsFound: [...hostsFound] };
}
