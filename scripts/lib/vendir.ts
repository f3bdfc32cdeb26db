// Pure decisions of vendir:remove-entry: where a charts/<name> entry sits in
// vendir.yml or vendir.lock.yml, the text without it, and who still references it.
// Two layouts are understood: one directory entry per chart (`- path: charts/<name>`
// with its own contents; the whole directory entry is the chart's), and one `charts`
// directory whose contents are the charts (`- path: <name>` under its `contents`).
// Entries are cut out of the text by the parser's offsets rather than re-serialized,
// so every other byte of the file (comments, quoting, blank lines) stays as it was.
import {
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { OperatorError } from "./errors.ts";
import { chartsDir, isValidEntryName } from "./names.ts";
import { lineOf, throwYamlError } from "./yaml.ts";

export { chartsDir, isValidEntryName };

export interface EntryCut {
  /** Byte offsets of the text that goes: comment block, entry, and one blank separator. */
  start: number;
  end: number;
  /** Set when the entry is the only one: "[]" goes after `contents:` so the list stays a list. */
  emptyListAt?: number;
  /** 1-based lines of the entry itself (without its comment block), for messages. */
  firstLine: number;
  lastLine: number;
}

/** Parses a vendir file; a syntax error becomes one operator-facing line. */
export function parseVendir(text: string, file: string): Document.Parsed {
  const doc = parseDocument(text, { keepSourceTokens: true });
  throwYamlError(text, file, doc.errors);
  return doc;
}

/** The names of the entries under charts/ in a parsed vendir.yml or vendir.lock.yml, in file order. */
export function chartNames(doc: Document.Parsed): string[] {
  return chartItems(doc).map((item) => item.name);
}

/** Where charts/<name> sits in `text`, or undefined when the file has no such entry. */
export function findEntry(text: string, name: string, file: string): EntryCut | undefined {
  const doc = parseVendir(text, file);
  const matches = chartItems(doc).filter((item) => item.name === name);
  if (matches.length > 1) {
    const lines = matches.map((item) => lineOf(text, item.entry.range?.[0] ?? 0)).join(" and ");
    throw new OperatorError(
      `expected one entry charts/${name} in ${file}; found ${matches.length} (lines ${lines}); remove the duplicate by hand and run again`,
    );
  }
  const match = matches[0];
  if (!match) return undefined;
  const { entry, list: contents, listKeyEnd: contentsKeyEnd } = match;

  const dash = dashOffset(contents, entry);
  if (dash === undefined) {
    const [what, path] = match.wholeDirectory
      ? ["the directories", `${chartsDir}/${name}`]
      : [`the contents of ${chartsDir}/`, name];
    throw new OperatorError(
      `expected ${what} in ${file} as a block list ("- path: ${path}"); found a flow list at line ${lineOf(text, entry.range?.[0] ?? 0)}; rewrite it as a block list and run again`,
    );
  }
  const lines = splitLines(text);
  const entryFirst = lineIndexAt(lines, dash);
  const dashColumn = dash - lines[entryFirst]!.start;

  // The comment block directly above belongs to the entry; deeper-indented
  // comments there close the previous entry's body and stay with it.
  let first = entryFirst;
  while (first > 0 && isComment(lines[first - 1]!.text) && indent(lines[first - 1]!.text) <= dashColumn) first--;

  // The entry ends at its last value; the parser's own range runs on over the
  // next entry's comment block, so it cannot be used as is.
  const entryLast = lineIndexAt(lines, Math.max(dash, contentEnd(entry) - 1));
  let last = entryLast;
  while (last + 1 < lines.length && isComment(lines[last + 1]!.text) && indent(lines[last + 1]!.text) > dashColumn)
    last++;

  // Keep one blank separator rather than leaving two side by side (or one at the end).
  const isFirst = contents.items[0] === entry;
  const blankBefore = first > 0 && isBlank(lines[first - 1]!.text);
  let blankAfter = 0;
  while (last + 1 + blankAfter < lines.length && isBlank(lines[last + 1 + blankAfter]!.text)) blankAfter++;
  if (blankAfter > 0 && (blankBefore || isFirst)) last += blankAfter;
  else if (blankBefore && lines[last]!.end === text.length)
    while (first > 0 && isBlank(lines[first - 1]!.text)) first--;

  const cut: EntryCut = {
    start: lines[first]!.start,
    end: lines[last]!.end,
    firstLine: entryFirst + 1,
    lastLine: entryLast + 1,
  };
  if (contents.items.length === 1) cut.emptyListAt = text.indexOf(":", contentsKeyEnd) + 1;
  return cut;
}

/** `text` without the cut (and with "[]" where the last entry of the list went). */
export function applyCut(text: string, cut: EntryCut): string {
  const without = text.slice(0, cut.start) + text.slice(cut.end);
  if (cut.emptyListAt === undefined) return without;
  return without.slice(0, cut.emptyListAt) + " []" + without.slice(cut.emptyListAt);
}

/** The text of a vendir file without charts/<name>; unchanged when there is no such entry. */
export function removeEntry(text: string, name: string, file: string): { text: string; cut?: EntryCut } {
  const cut = findEntry(text, name, file);
  return cut ? { text: applyCut(text, cut), cut } : { text };
}

/** The spellings under which a file refers to the vendored chart's folder. */
export function chartPathSpellings(vendirDirFromRepoRoot: string, name: string): string[] {
  const spellings = [`${vendirDirFromRepoRoot}/${chartsDir}/${name}`, `vendir/${chartsDir}/${name}`];
  return [...new Set(spellings)];
}

/** 1-based lines of `text` that mention one of `spellings` as a whole path segment. */
export function referenceLines(text: string, spellings: string[]): number[] {
  const alternatives = spellings.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
  // "charts/relay-server" must not match "charts/relay-server-v2".
  const pattern = new RegExp(`(?:${alternatives})(?![A-Za-z0-9._-])`);
  const found: number[] = [];
  text.split("\n").forEach((line, index) => {
    if (pattern.test(line)) found.push(index + 1);
  });
  return found;
}

/** True when a `git log -p` of the vendir files shows charts entry `name` being added or removed. */
export function historyHasEntry(patch: string, name: string): boolean {
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  // vendir.yml puts path first ("- path: x"); vendir.lock.yml puts it last ("  path: x").
  // One directory per chart spells it "charts/x"; one charts directory spells it "x".
  return new RegExp(`^[+-]\\s*(?:-\\s+)?path:\\s*(["']?)(?:${chartsDir}/)?${quoted}\\1\\s*(?:#.*)?$`, "m").test(patch);
}

interface ChartItem {
  name: string;
  /** The map the entry is: a whole directory entry, or one item of the charts directory's contents. */
  entry: YAMLMap;
  wholeDirectory: boolean;
  /** The list holding the entry, and the offset where that list's key ends. */
  list: YAMLSeq;
  listKeyEnd: number;
}

/** The charts/ entries of a vendir file in file order, in either layout (see the top of this file). */
function chartItems(doc: Document.Parsed): ChartItem[] {
  const directoriesPair = keyedPair(doc.contents, "directories");
  const directories = directoriesPair?.value;
  if (!directoriesPair || !isSeq(directories)) return [];
  const items: ChartItem[] = [];
  for (const directory of directories.items) {
    if (!isMap(directory)) continue;
    const path = directory.get("path");
    if (typeof path !== "string") continue;
    const name = path.startsWith(`${chartsDir}/`) ? path.slice(chartsDir.length + 1) : undefined;
    if (name !== undefined && isValidEntryName(name)) {
      items.push({
        name,
        entry: directory,
        wholeDirectory: true,
        list: directories,
        listKeyEnd: keyEnd(directoriesPair),
      });
      continue;
    }
    if (path !== chartsDir) continue;
    const pair = keyedPair(directory, "contents");
    const contents = pair?.value;
    if (!pair || !isSeq(contents)) continue;
    for (const entry of contents.items) {
      const entryName = isMap(entry) ? entry.get("path") : undefined;
      if (isMap(entry) && typeof entryName === "string") {
        items.push({ name: entryName, entry, wholeDirectory: false, list: contents, listKeyEnd: keyEnd(pair) });
      }
    }
  }
  return items;
}

/** The pair of `map` whose key is `key`, when `map` is a map. */
function keyedPair(map: unknown, key: string): Pair | undefined {
  return isMap(map) ? map.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
}

function keyEnd(pair: Pair): number {
  return isScalar(pair.key) ? (pair.key.range?.[1] ?? 0) : 0;
}

/** Offset of the "-" that starts `entry` in a block list; undefined for a flow list. */
function dashOffset(list: YAMLSeq, entry: YAMLMap): number | undefined {
  const token = list.srcToken;
  if (token?.type !== "block-seq") return undefined;
  const item = token.items.find((i) => i.value === entry.srcToken);
  return item?.start.find((t) => t.type === "seq-item-ind")?.offset;
}

/** Offset just past the last value of a node (not past comments that follow it). */
function contentEnd(node: Node): number {
  if (!(isMap(node) || isSeq(node)) || node.flow) return node.range?.[1] ?? 0;
  let end = node.range?.[0] ?? 0;
  for (const item of node.items) {
    for (const part of isPair(item) ? [item.key, item.value] : [item]) {
      if (isNode(part)) end = Math.max(end, contentEnd(part));
    }
  }
  return end;
}

interface Line {
  start: number;
  /** Offset past the line's newline (or the end of the text). */
  end: number;
  text: string;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf("\n", start);
    const end = newline === -1 ? text.length : newline + 1;
    lines.push({ start, end, text: text.slice(start, newline === -1 ? end : newline) });
    start = end;
  }
  return lines;
}

function lineIndexAt(lines: Line[], offset: number): number {
  const index = lines.findIndex((l) => offset >= l.start && offset < l.end);
  return index === -1 ? lines.length - 1 : index;
}

function isComment(line: string): boolean {
  return line.trimStart().startsWith("#");
}

function isBlank(line: string): boolean {
  return line.trim() === "";
}

function indent(line: string): number {
  return line.length - line.trimStart().length;
}
