// Documents the server holds as two copies whose edits never meet: up to 0.10.0,
// two first connections at the same moment each load the document
// (crates/relay/src/server.rs:629-646 of 0.10.0: "Loading doc" when the map has no
// entry, then an insert that replaces the other copy; fixed in 0.12.0, cbf9a537).
// Its log shows it: a document loaded a second time before it was unloaded ("GCing doc").

const loading = /Loading doc.*\bdoc_id="([^"]+)"/;
const unloading = /gc_loop\{doc_id="([^"]+)"\}.*GCing doc/;
/** A line the server logs at info on every start: without it, the log is below info and shows no loads. */
const startLine = /Listening on ws:\/\//;

export interface SplitReport {
  /** Whether the log is at info or finer, so that loads would show. */
  seesLoads: boolean;
  /** Documents loaded again while a copy was loaded, first seen first. */
  split: string[];
}

/** Reads a relay's log (text format, oldest line first) for documents loaded twice. */
export function splitDocuments(log: string): SplitReport {
  const loaded = new Set<string>();
  const split = new Set<string>();
  let seesLoads = false;
  for (const line of log.split("\n")) {
    if (startLine.test(line)) seesLoads = true;
    const load = loading.exec(line)?.[1];
    if (load) {
      seesLoads = true;
      if (loaded.has(load)) split.add(load);
      loaded.add(load);
      continue;
    }
    const gc = unloading.exec(line)?.[1];
    if (gc) loaded.delete(gc);
  }
  return { seesLoads, split: [...split] };
}
