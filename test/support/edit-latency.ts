// Edit latency through a Relay server, as a user feels it: editor A types into a
// document, observer B (another client of the same document) sees the edit. Many
// editors type at once, each at a steady pace; one observer per document times
// every edit from A's send to B's receipt. Bounded in count and time.
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { performance } from "node:perf_hooks";
import * as syncProtocol from "y-protocols/sync";
import WebSocket from "ws";
import * as Y from "yjs";

const messageSync = 0;

/** Where the documents live: `url(docId)` is a signed ws:// URL of one document. */
export interface LatencyTarget {
  url(docId: string): Promise<string>;
}

export interface LatencyLoad {
  editors: number;
  documents: number;
  /** Edits timed (after the warm-up), across all editors. */
  edits: number;
  /** Each editor's pace: one edit every `intervalMs` (a keystroke at typing speed). */
  intervalMs: number;
}

export interface Percentiles {
  count: number;
  median: number;
  p95: number;
  p99: number;
  max: number;
}

export interface LatencyResult extends Percentiles {
  /** Timed edits the observer never saw within the time limit. */
  lost: number;
  /** Edits per second the editors sent while timed. */
  rate: number;
}

/** Nearest-rank percentiles of `samples` (ms). */
export function percentiles(samples: readonly number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : Number.NaN);
  return { count: s.length, median: at(50), p95: at(95), p99: at(99), max: s.length ? s[s.length - 1]! : Number.NaN };
}

export interface Client {
  doc: Y.Doc;
  synced: Promise<void>;
  /** Leaves with a close frame, so the server unloads the document once nobody has it open. */
  close(): void;
  /** Ends the TCP connection without a close frame, as a device that loses its network or sleeps. */
  drop(): void;
}

/**
 * A y-protocols client. An observer applies what the server relays; an editor
 * (`applyRemote` false) syncs once and then only sends its own edits: it drops
 * what the server relays to it (it still receives every byte, which is the
 * server's work), so the load generator's CPU goes to timing, not to merging 50
 * copies of each edit.
 */
export function connectClient(url: string, opts: { applyRemote: boolean; doc?: Y.Doc; timeoutMs?: number }): Client {
  const { applyRemote, doc = new Y.Doc(), timeoutMs = 15_000 } = opts;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  let synced = false;
  doc.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin === ws || ws.readyState !== WebSocket.OPEN) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, messageSync);
    syncProtocol.writeUpdate(encoder, update);
    ws.send(encoding.toUint8Array(encoder));
  });
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`expected a client to sync within ${timeoutMs / 1000} s; it did not`)),
      timeoutMs,
    );
    ws.on("open", () => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, messageSync);
      syncProtocol.writeSyncStep1(encoder, doc);
      ws.send(encoding.toUint8Array(encoder));
    });
    ws.on("message", (data: ArrayBuffer) => {
      if (synced && !applyRemote) return;
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) !== messageSync) return; // awareness: not needed here
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, messageSync);
      const type = syncProtocol.readSyncMessage(decoder, encoder, doc, ws);
      if (encoding.length(encoder) > 1 && ws.readyState === WebSocket.OPEN) ws.send(encoding.toUint8Array(encoder));
      if (type === syncProtocol.messageYjsSyncStep2 && !synced) {
        synced = true;
        clearTimeout(timer);
        resolve();
      }
    });
    ws.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  ready.catch(() => {});
  return { doc, synced: ready, close: () => ws.close(), drop: () => ws.terminate() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `load` against `target` on fresh documents named `prefix-<n>`: one observer
 * per document (connected one after the other, so no two first connections race
 * for a document; servers up to 0.10.0 would load it twice), then the editors
 * round-robin over the documents, each typing `e<id> ` every `intervalMs` with
 * staggered starts. The first two edits of each editor warm up and are not timed.
 * Every client leaves with a close frame, so the server can unload the documents.
 */
export async function editLatency(
  target: LatencyTarget,
  prefix: string,
  load: LatencyLoad,
  limitMs = 120_000,
): Promise<LatencyResult> {
  const deadline = Date.now() + limitMs;
  const docIds = Array.from({ length: load.documents }, (_, d) => `${prefix}-${d}`);
  const sentAt = new Map<number, number>();
  const samples: number[] = [];
  const observers: Client[] = [];
  const editors: Client[] = [];
  try {
    for (const docId of docIds) {
      const observer = connectClient(await target.url(docId), { applyRemote: true });
      observers.push(observer);
      await observer.synced;
      observer.doc.getText("body").observe((event) => {
        const now = performance.now();
        for (const op of event.delta) {
          if (typeof op.insert !== "string") continue;
          for (const m of op.insert.matchAll(/e(\d+) /g)) {
            const sent = sentAt.get(Number(m[1]));
            if (sent === undefined) continue;
            samples.push(now - sent);
            sentAt.delete(Number(m[1]));
          }
        }
      });
    }
    for (let i = 0; i < load.editors; i++)
      editors.push(connectClient(await target.url(docIds[i % docIds.length]!), { applyRemote: false }));
    await Promise.all(editors.map((e) => e.synced));

    const warmup = load.editors * 2;
    const total = warmup + load.edits;
    let next = 0;
    let firstTimed = 0;
    let lastSent = 0;
    await new Promise<void>((resolve) => {
      let running = load.editors;
      editors.forEach((editor, i) => {
        const text = editor.doc.getText("body");
        const tick = () => {
          if (next >= total || Date.now() > deadline) {
            if (--running === 0) resolve();
            return;
          }
          const id = next++;
          const now = performance.now();
          if (id >= warmup) {
            sentAt.set(id, now);
            if (id === warmup) firstTimed = now;
            lastSent = now;
          }
          // The edit goes out synchronously: Y's update event sends it in this call.
          text.insert(0, `e${id} `);
          setTimeout(tick, load.intervalMs);
        };
        setTimeout(tick, (i * load.intervalMs) / load.editors);
      });
    });
    // What is still in flight gets a few seconds; what never arrives counts as lost.
    const drain = Math.min(deadline, Date.now() + 10_000);
    while (sentAt.size > 0 && Date.now() < drain) await sleep(20);
    const timed = next - warmup;
    const lost = [...sentAt.keys()].filter((id) => id >= warmup).length;
    return {
      ...percentiles(samples),
      lost,
      rate: timed > 1 && lastSent > firstTimed ? ((timed - 1) * 1000) / (lastSent - firstTimed) : 0,
    };
  } finally {
    for (const e of editors) e.close();
    for (const o of observers) o.close();
  }
}

/** Round trips of a WebSocket ping (the server's pong) on one socket: the network's and the server's floor. */
export async function pingRoundTrips(url: string, count: number, limitMs = 60_000): Promise<Percentiles> {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const samples: number[] = [];
  const deadline = Date.now() + limitMs;
  try {
    for (let i = 0; i < count && Date.now() < deadline; i++) {
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error("expected a pong to a WebSocket ping within 5 s; none came")),
          5_000,
        );
        ws.once("pong", () => {
          clearTimeout(timer);
          resolve();
        });
        ws.ping();
      });
      samples.push(performance.now() - started);
      await sleep(5);
    }
  } finally {
    ws.close();
  }
  return percentiles(samples);
}
