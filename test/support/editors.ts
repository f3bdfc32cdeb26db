// Collaborating clients that edit one document throughout a fault, as the Relay
// plugin's devices do: the official y-sweet client (it reconnects by itself and
// keeps its edits while offline), each appending numbered edits to a shared Y.Array
// at a steady rate. Records what each made and when the other client saw it, so a
// fault test can tell which edits were lost and how long collaboration stalled.
import * as Y from "yjs";
import { connectDoc } from "./yjs-client.ts";
import { type OfficialClient, openOfficial } from "./y-sweet.ts";

export interface Edit {
  /** "<client>:<n>", the value appended to the shared array. */
  id: string;
  /** When its client made it (ms since the epoch). */
  at: number;
  /** When the other client first held it; undefined while it has not. */
  seenAt?: number;
}

export interface Editing {
  docId: string;
  /** Every edit made so far, oldest first. */
  edits(): Edit[];
  /** Stops editing (the clients stay connected). */
  pause(): void;
  /** Waits until every client holds every edit made (they reconnect by themselves), or fails after `timeoutMs`. */
  converged(timeoutMs?: number): Promise<void>;
  /** Each client's text: the edit ids it holds. */
  held(): string[][];
  /** Waits until the server has acknowledged every client's edits (the client's heartbeat says it holds them). */
  acknowledged(timeoutMs?: number): Promise<void>;
  /** Each client's connection status now (connected, connecting, error, offline). */
  statuses(): string[];
  /** How many times a client's connection dropped since it first synced. */
  disconnects(): number;
  /**
   * The runbook's recovery from a split document: every client disconnects, then
   * they reconnect one at a time, each merging what it holds into the one copy.
   */
  reconnectOneByOne(): Promise<void>;
  close(): void;
}

export interface EditingOptions {
  /** http://host:port of the server (a Service's ClusterIP reaches whichever Pod runs). */
  base: string;
  docId: string;
  token: (docId: string) => Promise<string>;
  clients?: number;
  /** Time between two edits of one client. */
  intervalMs?: number;
  /** Each client stops on its own after this many edits or this long, whichever comes first. */
  maxEdits?: number;
  maxMs?: number;
}

const field = "edits";

/**
 * Opens `clients` official clients on one document, one after the other (two first
 * connections at the same moment split a document on servers up to 0.10.0), and
 * starts them editing.
 */
export async function startEditing(opts: EditingOptions): Promise<Editing> {
  const count = opts.clients ?? 2;
  const intervalMs = opts.intervalMs ?? 200;
  const maxEdits = opts.maxEdits ?? 3000;
  const stopAt = Date.now() + (opts.maxMs ?? 600_000);
  const token = await opts.token(opts.docId);
  const clients: OfficialClient[] = [];
  for (let i = 0; i < count; i++) {
    const c = openOfficial(opts.base, opts.docId, token);
    clients.push(c);
    await c.synced;
  }
  let disconnects = 0;
  for (const c of clients) {
    let last = c.provider.status as string;
    c.provider.on("connection-status", (status: string) => {
      if (last === "connected" && status !== "connected") disconnects++;
      last = status;
    });
  }
  const made = new Map<string, Edit>();
  const names = clients.map((_, i) => String.fromCharCode(97 + i));
  clients.forEach((c, i) => {
    c.doc.getArray<string>(field).observe((event) => {
      const now = Date.now();
      for (const item of event.changes.added) {
        for (const id of item.content.getContent() as string[]) {
          const edit = made.get(id);
          if (edit && !id.startsWith(`${names[i]}:`) && edit.seenAt === undefined) edit.seenAt = now;
        }
      }
    });
  });
  let n = 0;
  const timers = clients.map((c, i) =>
    setInterval(() => {
      if (n >= maxEdits * count || Date.now() > stopAt) return;
      const id = `${names[i]}:${n++}`;
      made.set(id, { id, at: Date.now() });
      c.doc.getArray<string>(field).push([id]);
    }, intervalMs),
  );
  const pause = () => timers.forEach((t) => clearInterval(t));
  const held = () => clients.map((c) => c.doc.getArray<string>(field).toArray());
  const converged = async (timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    const missing = () => held().map((h) => made.size - new Set(h).size);
    while (missing().some((m) => m > 0)) {
      if (Date.now() > deadline)
        throw new Error(
          `expected every client to hold all ${made.size} edits within ${timeoutMs / 1000} s; each lacks ${missing().join(", ")} (connections: ${clients.map((c) => c.provider.status).join(", ")})`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  return {
    docId: opts.docId,
    edits: () => [...made.values()],
    pause,
    held,
    converged,
    acknowledged: async (timeoutMs = 30_000) => {
      for (const c of clients)
        await waitUntil(() => !c.provider.hasLocalChanges, timeoutMs, "the server to acknowledge a client's edits");
    },
    statuses: () => clients.map((c) => c.provider.status),
    disconnects: () => disconnects,
    reconnectOneByOne: async () => {
      clients.forEach((c) => c.disconnect());
      for (const c of clients) {
        await c.provider.connect();
        await waitUntil(() => c.provider.status === "connected", 30_000, "a client to reconnect");
        // Its sync with the server has run once the server holds what it holds.
        await waitUntil(
          () => !c.provider.hasLocalChanges,
          30_000,
          "the server to acknowledge a reconnected client's edits",
        );
      }
    },
    close: () => {
      pause();
      clients.forEach((c) => c.destroy());
    },
  };
}

async function waitUntil(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`expected ${what} within ${timeoutMs / 1000} s; it did not`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The edit ids a fresh client (no local state) reads from the server: what the server holds, loaded from S3 if it must. */
export async function readBack(base: string, docId: string, token: string, timeoutMs = 30_000): Promise<string[]> {
  const c = connectDoc(`${base.replace(/^http/, "ws")}/d/${docId}/ws/${docId}?token=${token}`, new Y.Doc(), timeoutMs);
  try {
    await c.synced;
    return c.doc.getArray<string>(field).toArray();
  } finally {
    c.close();
  }
}

export interface LossReport {
  made: number;
  readBack: number;
  lost: Edit[];
  /** The age (ms) at `at` of the oldest edit made before `at` and lost; 0 when none. */
  oldestLostAgeMs: number;
  /**
   * How long (ms) before `at` the server had passed the oldest lost edit on to the other
   * client; 0 when it had passed none of them on. A checkpoint can only save what the server
   * holds: this, not the age, is what a crash's loss window is measured against.
   */
  oldestLostHeldMs: number;
}

/** Which of `edits` made before `at` are missing from `held`, and how old the oldest of them was at `at`. */
export function losses(edits: readonly Edit[], held: readonly string[], at = Number.POSITIVE_INFINITY): LossReport {
  const have = new Set(held);
  const before = edits.filter((e) => e.at < at);
  const lost = before.filter((e) => !have.has(e.id));
  const reference = Number.isFinite(at) ? at : Math.max(0, ...edits.map((e) => e.at));
  return {
    made: before.length,
    readBack: before.length - lost.length,
    lost,
    oldestLostAgeMs: lost.length ? reference - Math.min(...lost.map((e) => e.at)) : 0,
    oldestLostHeldMs: Math.max(0, ...lost.filter((e) => e.seenAt !== undefined).map((e) => reference - e.seenAt!)),
  };
}

/** The longest time an edit made in [from, to) took to reach the other client (edits never seen count until `now`). */
export function longestStall(edits: readonly Edit[], from: number, to: number, now = Date.now()): number {
  return Math.max(0, ...edits.filter((e) => e.at >= from && e.at < to).map((e) => (e.seenAt ?? now) - e.at));
}
