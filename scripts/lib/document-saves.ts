// Documents the server could not save to its store, read from its log. In 0.9.6 and
// 0.10.0 a failed save (S3 unreachable) is retried every checkpoint while the document
// stays loaded (crates/y-sweet-core/src/sync_kv.rs:297-298 of 0.10.0 marks it dirty
// again), and the server keeps serving it; but a document unloaded while its save fails
// (every client gone for two checkpoints, crates/relay/src/server.rs:515-532, or the
// server stopping) ends its save loop after one more failed try (server.rs:556-601),
// and its unsaved edits are gone from the server. The log shows both: "Error
// persisting." in a document's save loop, and "Terminating loop for <doc>" once it ends.

const saveLoop = /save_loop\{doc_id="([^"]+)"\}/;
const attempt = /Persisting CBOR snapshot/;
const failed = /Error persisting\./;
const ended = /Terminating loop for /;
/** The error's own words, e.g. ConnectionError("error sending request for url (http://host/bucket/doc/data.ysweet?X-Amz-…)"): its kind, its text and the endpoint and bucket, never the signed query. */
const errorText = /e=(\w+)\("([^"(]*)(?:\((https?:\/\/[^/\s]+\/[^/?\s]+))?/;

export interface SaveReport {
  /** Failed saves seen in the log. */
  failures: number;
  /** Documents loaded now whose last save failed: their newest edits are only in memory (and on the devices), retried every checkpoint. */
  unsaved: string[];
  /** Documents unloaded while their last save had failed: edits made since their last good save are gone from the server. */
  dropped: string[];
  /** The last failure, in the server's words. */
  lastError?: string;
}

/** Reads a relay's log (text format, oldest line first) for saves that failed, and documents unloaded unsaved. */
export function documentSaves(log: string): SaveReport {
  const state = new Map<string, "saving" | "failed">();
  const dropped = new Set<string>();
  let failures = 0;
  let lastError: string | undefined;
  for (const line of log.split("\n")) {
    const doc = saveLoop.exec(line)?.[1];
    if (!doc) continue;
    if (failed.test(line)) {
      failures++;
      state.set(doc, "failed");
      const e = errorText.exec(line);
      lastError = e
        ? `${e[1]}: ${e[2]!.trim()}${e[3] ? ` ${e[3]}/…` : ""}`
        : line.slice(line.indexOf("Error persisting.")).slice(0, 200);
    } else if (attempt.test(line)) {
      state.set(doc, "saving");
    } else if (ended.test(line)) {
      if (state.get(doc) === "failed") dropped.add(doc);
      state.delete(doc);
    }
  }
  const unsaved = [...state].filter(([, s]) => s === "failed").map(([doc]) => doc);
  return { failures, unsaved, dropped: [...dropped], lastError };
}
