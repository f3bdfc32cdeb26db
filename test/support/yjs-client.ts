// A minimal Yjs client for the Relay server: y-protocols' sync protocol over a raw
// WebSocket (the same messages y-websocket and y-sweet's client send).
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import WebSocket from "ws";
import * as Y from "yjs";

const messageSync = 0;

export interface DocClient {
  doc: Y.Doc;
  /** Resolves once the server answered our sync step 1 (its step 2 arrived). */
  synced: Promise<void>;
  close(): void;
}

/** Connects `doc` to `url` (ws://host:port/d/<docId>/ws/<docId>?token=…). */
export function connectDoc(url: string, doc = new Y.Doc(), timeoutMs = 15_000): DocClient {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const send = (encoder: encoding.Encoder) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encoding.toUint8Array(encoder));
  };
  const onUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === ws) return;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, messageSync);
    syncProtocol.writeUpdate(encoder, update);
    send(encoder);
  };
  doc.on("update", onUpdate);
  const synced = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `expected the server to sync ${url.replace(/token=.*/, "token=…")} within ${timeoutMs / 1000} s; it did not`,
          ),
        ),
      timeoutMs,
    );
    ws.on("open", () => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, messageSync);
      syncProtocol.writeSyncStep1(encoder, doc);
      send(encoder);
    });
    ws.on("message", (data: ArrayBuffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(decoder) !== messageSync) return; // awareness and others: not needed here
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, messageSync);
      const type = syncProtocol.readSyncMessage(decoder, encoder, doc, ws);
      if (encoding.length(encoder) > 1) send(encoder);
      if (type === syncProtocol.messageYjsSyncStep2) {
        clearTimeout(timer);
        resolve();
      }
    });
    ws.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`expected the server to keep the socket open; it closed it with code ${code}`));
    });
  });
  synced.catch(() => {});
  return {
    doc,
    synced,
    close: () => {
      doc.off("update", onUpdate);
      ws.terminate();
    },
  };
}

/** Waits until `read()` returns `expected`, or fails naming what it last saw. */
export async function until<T>(what: string, expected: T, read: () => T, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = read();
  while (Date.now() < deadline) {
    last = read();
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `expected ${what} to be ${JSON.stringify(expected)} within ${timeoutMs / 1000} s; it was ${JSON.stringify(last)}`,
  );
}

export interface HoldResult {
  held: number;
  refused: number;
  sockets: WebSocket[];
  /** Why sockets failed, each reason once (at most 5). */
  errors: string[];
}

/**
 * Opens `count` WebSockets to `url`, `batch` at a time, each with `perSocketMs` to
 * open, the whole run bounded by `totalMs`; returns those open and those that failed.
 * The caller closes the sockets (closeAll).
 */
export async function openMany(
  url: string,
  count: number,
  opts: { batch?: number; perSocketMs?: number; totalMs?: number } = {},
): Promise<HoldResult> {
  const batch = opts.batch ?? 100;
  const perSocketMs = opts.perSocketMs ?? 5_000;
  const deadline = Date.now() + (opts.totalMs ?? 120_000);
  const sockets: WebSocket[] = [];
  const errors = new Set<string>();
  let held = 0;
  let refused = 0;
  for (let i = 0; i < count && Date.now() < deadline; i += batch) {
    const n = Math.min(batch, count - i);
    const results = await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<boolean>((resolve) => {
            const ws = new WebSocket(url, { handshakeTimeout: perSocketMs });
            sockets.push(ws);
            ws.once("open", () => resolve(true));
            ws.once("error", (error) => {
              if (errors.size < 5) errors.add(error.message);
              resolve(false);
            });
            ws.once("close", (code) => {
              if (errors.size < 5) errors.add(`closed with code ${code}`);
              resolve(false);
            });
          }),
      ),
    );
    for (const ok of results) ok ? held++ : refused++;
  }
  refused += count - held - refused; // never tried within the time limit
  // Still open at the end (a socket closed by the server after opening is not held).
  held = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  return { held, refused: count - held, sockets, errors: [...errors] };
}

export function closeAll(sockets: WebSocket[]): void {
  for (const s of sockets) s.terminate();
}

/** The HTTP status a WebSocket upgrade to `url` gets: 101 when the server takes the socket (closed again at once). */
export function upgradeStatus(url: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    ws.once("upgrade", (res) => {
      resolve(res.statusCode ?? 101);
      ws.terminate();
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("error", (error) =>
      reject(new Error(`expected an HTTP answer to the WebSocket upgrade ${url}; got ${error.message}`)),
    );
  });
}
