// Plays the 1Password operator's one job on a local cluster: a Secret of the same
// name for every OnePasswordItem, its keys the item's fields, read from the local
// secret source (a JSON file of op://vault/item/field -> value) instead of Connect.
import { readFileSync } from "node:fs";
import type { KubeClient, Manifest } from "../../../scripts/lib/kube.ts";

interface Item {
  metadata: { name: string; namespace: string; uid: string };
  spec?: { itemPath?: string };
}

export const playedOperatorFieldManager = "onepassword-operator-played";

/** The Secret the operator writes for an item: its fields from the local secrets, by op://vault/item/field. */
export function secretForItem(item: Item, secrets: Record<string, string>): Manifest | undefined {
  // The real operator makes the item the Secret's owner, so deleting the item deletes the Secret.
  const owner = { apiVersion: "onepassword.com/v1", kind: "OnePasswordItem", name: item.metadata.name, uid: item.metadata.uid };
  const match = /^vaults\/([^/]+)\/items\/([^/]+)$/.exec(item.spec?.itemPath ?? "");
  if (!match) return undefined;
  const prefix = `op://${match[1]}/${match[2]}/`;
  const fields = Object.entries(secrets).filter(([ref]) => ref.startsWith(prefix));
  if (fields.length === 0) return undefined;
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: { name: item.metadata.name, namespace: item.metadata.namespace, ownerReferences: [owner] } as Manifest["metadata"],
    data: Object.fromEntries(fields.map(([ref, value]) => [ref.slice(prefix.length), Buffer.from(value).toString("base64")])),
  };
}

/** Syncs every OnePasswordItem once a second until stopped; each sync applies only what changed. */
export function playOnePasswordOperator(client: KubeClient, secretsFile: string, log: (line: string) => void = () => {}): { stop(): Promise<void> } {
  const secrets = JSON.parse(readFileSync(secretsFile, "utf8")) as Record<string, string>;
  const written = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const { items } = await client.request<{ items: Item[] }>("GET", "/apis/onepassword.com/v1/onepassworditems");
        for (const item of items) {
          const secret = secretForItem(item, secrets);
          const key = `${item.metadata.namespace}/${item.metadata.name}@${item.metadata.uid}`;
          if (!secret || written.has(key)) continue;
          await client.apply(secret, { fieldManager: playedOperatorFieldManager });
          written.add(key);
          log(`1Password operator (played): Secret ${key.split("@")[0]} from the local secret source`);
        }
      } catch {
        // The CRD or the namespace may not exist yet; the next round tries again.
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
