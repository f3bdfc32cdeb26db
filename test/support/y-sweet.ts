// The official y-sweet client (@y-sweet/client, what the Relay plugin builds on) for
// tests that must see what real clients see: its provider connects, syncs, retries
// and merges as in Obsidian. test/support/yjs-client.ts stays for byte-level control.
import { createYjsProvider, type YSweetProvider } from "@y-sweet/client";
import WebSocket from "ws";
import * as Y from "yjs";

export interface OfficialClient {
  doc: Y.Doc;
  provider: YSweetProvider;
  /** Resolves once the provider reports its first sync with the server. */
  synced: Promise<void>;
  text(): string;
  /** Goes offline and stays offline until `provider.connect()`. */
  disconnect(): void;
  /** Leaves for good, closing its WebSocket cleanly (as a device that closes the document). */
  destroy(): void;
}

/**
 * @y-sweet/client 0.9.1 reconnects from its WebSocket's close handler even after
 * disconnect() or destroy() (websocketClose sets the status to error and calls
 * connect(), dist/main.mjs:891-896), and from its heartbeat's timeout: both are
 * taken off before the socket is closed.
 */
function disconnect(provider: YSweetProvider): void {
  const internals = provider as unknown as {
    websocket: { onclose: unknown; onerror: unknown; onmessage: unknown } | null;
    clearHeartbeat(): void;
    clearConnectionTimeout(): void;
  };
  if (internals.websocket) {
    internals.websocket.onclose = null;
    internals.websocket.onerror = null;
    internals.websocket.onmessage = null;
  }
  // Its heartbeat would find the socket silent and reconnect too.
  internals.clearHeartbeat();
  internals.clearConnectionTimeout();
  provider.disconnect();
}

/** Opens `docId` on the server at `base` (http://host:port) with a document token, on `doc` (a fresh one by default). */
export function openOfficial(
  base: string,
  docId: string,
  token: string,
  doc = new Y.Doc(),
  timeoutMs = 20_000,
): OfficialClient {
  const url = `${base.replace(/^http/, "ws")}/d/${docId}/ws`;
  const provider = createYjsProvider(doc, docId, async () => ({ url, baseUrl: `${base}/d/${docId}`, docId, token }), {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    showDebuggerLink: false,
  });
  const synced = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`expected the official client to sync ${docId} within ${timeoutMs / 1000} s; it did not`)),
      timeoutMs,
    );
    const onSync = (isSynced: boolean) => {
      if (!isSynced) return;
      clearTimeout(timer);
      provider.off("sync", onSync);
      resolve();
    };
    provider.on("sync", onSync);
  });
  synced.catch(() => {});
  return {
    doc,
    provider,
    synced,
    text: () => doc.getText("body").toString(),
    disconnect: () => disconnect(provider),
    destroy: () => {
      disconnect(provider);
      provider.destroy();
      // The provider's destroy leaves its Awareness's 3 s check interval running (y-protocols clears
      // it in Awareness.destroy), which kept a program that used the client from ever exiting.
      provider.awareness.destroy();
    },
  };
}
