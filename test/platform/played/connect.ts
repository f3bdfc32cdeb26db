// Plays 1Password Connect, the one closed part of the chain: an HTTP server on
// loopback that serves, from the local secret source (a JSON file of
// op://vault/item/field -> value), exactly the Connect API calls the real
// operator makes through connect-sdk-go v1.5.3, with Connect's error shapes,
// and checks the operator's bearer token. The file is read on every request, so
// an edit to it is a change of the item in 1Password: the item's version goes up,
// which is what the operator's poll compares.
//
// The calls, for an itemPath of titles (vaults/<vault>/items/<item>), read in
// onepassword-operator 1.9.1 pkg/onepassword/items.go:16-103 and connect-sdk-go
// v1.5.3 connect/client.go:
//   GET /v1/vaults?filter=title eq "<vault>"                    GetVaultsByTitle, client.go:203-225
//   GET /v1/vaults/<vaultId>/items?filter=title eq "<item>"     GetItemsByTitle, client.go:311-345
//   GET /v1/vaults/<vaultId>/items/<itemId>                     GetItemByUUID, client.go:260-289 (for each
//                                                               listed item, then once more by the operator)
// Files (GET …/files/<id>/content, client.go:596-610) are fetched only for items
// with files; the local source holds fields only, so they are never asked for.
// Errors are Connect's {"status", "message"} body (connect-sdk-go
// onepassword/errors.go:6-9, parsed in client.go:845-864), with the messages of
// Connect's API reference: 401 "Invalid token signature", 404 "vault <id> not
// found" and "item <id> not found". A title that matches nothing is an empty list,
// which the operator reports as "No vaults found" / "No items found" (items.go:62,87).
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { writeIfChanged } from "../../../scripts/lib/files.ts";

export interface ConnectRequest {
  method: string;
  /** The route with ids and filter values left out, e.g. GET /v1/vaults/{vault}/items?filter=title eq. */
  route: string;
  status: number;
}

export interface LocalConnect {
  url: string;
  /** Every request so far (routes only: no ids, no filter values, never the token). */
  requests: ConnectRequest[];
  stop(): Promise<void>;
}

/** The routes this server serves: the Connect calls the operator makes. */
export const servedRoutes = [
  'GET /v1/vaults?filter=title eq "…"',
  'GET /v1/vaults/{vault}/items?filter=title eq "…"',
  "GET /v1/vaults/{vault}/items/{item}",
] as const;

interface Field {
  label: string;
  value: string;
}

interface Item {
  id: string;
  title: string;
  vault: string;
  fields: Field[];
}

/** A Connect id: 26 characters of [a-z0-9], as connect-sdk-go's isValidUUID checks (client.go:866-869). */
export function connectId(...parts: string[]): string {
  const digest = createHash("sha256").update(parts.join("\0")).digest();
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let id = "";
  for (let i = 0; id.length < 26; i++) id += alphabet[digest[i]! % 32];
  return id;
}

const isId = (s: string) => /^[a-z0-9]{26}$/.test(s);

/** The items of the local secret source, grouped from op://vault/item/[section/]field references. */
export function itemsFromSource(source: Record<string, string>): Item[] {
  const items = new Map<string, Item>();
  for (const [reference, value] of Object.entries(source)) {
    const parts = /^op:\/\/(.+)$/.exec(reference)?.[1]?.split("/");
    if (!parts || parts.length < 3) continue;
    const [vault, title] = parts as [string, string];
    const label = parts[parts.length - 1]!;
    const key = `${vault}/${title}`;
    // An item referenced by its id (op://vault/<26 characters>/field) keeps that id.
    const item = items.get(key) ?? { id: isId(title) ? title : connectId(vault, title), title, vault, fields: [] };
    item.fields.push({ label, value });
    items.set(key, item);
  }
  return [...items.values()];
}

export function readSource(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // Not the parser's message: it quotes the text, which holds the secrets.
    throw new Error(`expected a JSON object of op:// references in ${file}; it does not parse`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    throw new Error(`expected a JSON object of op:// references in ${file}; it is not one`);
  return parsed as Record<string, string>;
}

/**
 * Changes an item in the local secret source, as an edit in 1Password would: each
 * field label gets its value, null removes the field. Written atomically, so Connect
 * never reads half a file.
 */
export function changeItem(
  secretsFile: string,
  vault: string,
  item: string,
  fields: Record<string, string | null>,
): void {
  const source = readSource(secretsFile);
  for (const [label, value] of Object.entries(fields)) {
    const reference = `op://${vault}/${item}/${label}`;
    if (value === null) delete source[reference];
    else source[reference] = value;
  }
  writeIfChanged(secretsFile, JSON.stringify(source), { mode: 0o600 });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Starts the local Connect. `token` is the operator token 1Password issued for this
 * Connect server (the local source's value at the token reference); a request
 * with any other bearer token gets Connect's 401.
 */
export async function startLocalConnect(secretsFile: string, token: string): Promise<LocalConnect> {
  const started = new Date().toISOString();
  // Item versions: 1 when first seen, one more each time its fields change in the source.
  const versions = new Map<string, { digest: string; version: number; updatedAt: string }>();
  const requests: ConnectRequest[] = [];

  const current = (): Item[] => itemsFromSource(readSource(secretsFile));
  const versionOf = (item: Item) => {
    const digest = createHash("sha256").update(JSON.stringify(item.fields)).digest("hex");
    const known = versions.get(item.id);
    if (!known) versions.set(item.id, { digest, version: 1, updatedAt: started });
    else if (known.digest !== digest)
      versions.set(item.id, { digest, version: known.version + 1, updatedAt: new Date().toISOString() });
    return versions.get(item.id)!;
  };
  const vaultJson = (name: string) => ({
    id: connectId(name),
    name,
    type: "USER_CREATED",
    createdAt: started,
    updatedAt: started,
  });
  const summary = (item: Item) => {
    const v = versionOf(item);
    return {
      id: item.id,
      title: item.title,
      vault: { id: connectId(item.vault) },
      category: "API_CREDENTIAL",
      version: v.version,
      createdAt: started,
      updatedAt: v.updatedAt,
    };
  };
  const full = (item: Item) => ({
    ...summary(item),
    fields: item.fields.map((f) => ({
      id: connectId(item.id, f.label),
      type: "CONCEALED",
      label: f.label,
      value: f.value,
    })),
  });

  const notServed = "not served by the local Connect (it plays only the calls the operator makes)";
  const answer = (req: IncomingMessage): { route: string; status: number; body: unknown } => {
    const url = new URL(req.url ?? "/", "http://connect.local");
    const path = url.pathname.replace(/\/+$/, "");
    const filter = url.searchParams.get("filter");
    const title = filter === null ? undefined : /^title eq "(.*)"$/.exec(filter)?.[1];
    const byTitle = title !== undefined;
    const vaultsPath = path === "/v1/vaults";
    const itemsPath = /^\/v1\/vaults\/([^/]+)\/items$/.exec(path);
    const itemPath = /^\/v1\/vaults\/([^/]+)\/items\/([^/]+)$/.exec(path);
    const get = req.method === "GET";
    const route =
      get && vaultsPath && byTitle
        ? servedRoutes[0]
        : get && itemsPath && byTitle
          ? servedRoutes[1]
          : get && itemPath && filter === null
            ? servedRoutes[2]
            : `${req.method} ${path.replace(/\/[a-z0-9]{26}(?=\/|$)/g, "/{id}")}${filter === null ? "" : "?filter=…"}`;
    const error = (status: number, message: string) => ({ route, status, body: { status, message } });
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("Bearer ") || !sameSecret(auth.slice("Bearer ".length), token))
      return error(401, "Invalid token signature");
    if (!(servedRoutes as readonly string[]).includes(route)) return error(404, notServed);
    const items = current();
    const vaults = [...new Set(items.map((i) => i.vault))];
    const vaultById = (id: string) => vaults.find((v) => connectId(v) === id);
    if (vaultsPath) return { route, status: 200, body: vaults.filter((v) => v === title).map(vaultJson) };
    const [, vaultId, itemId] = (itemsPath ?? itemPath)!;
    const vault = vaultById(vaultId!);
    if (!vault) return error(404, `vault ${vaultId} not found`);
    if (itemsPath)
      return { route, status: 200, body: items.filter((i) => i.vault === vault && i.title === title).map(summary) };
    const item = items.find((i) => i.vault === vault && i.id === itemId);
    if (!item) return error(404, `item ${itemId} not found`);
    return { route, status: 200, body: full(item) };
  };

  const server = createServer((req, res) => {
    let result: { route: string; status: number; body: unknown };
    try {
      result = answer(req);
    } catch (error) {
      // The source file mid-edit or broken: Connect's own shape, and nothing from the file.
      result = {
        route: `${req.method} (source unreadable)`,
        status: 500,
        body: { status: 500, message: (error as Error).message },
      };
    }
    requests.push({ method: req.method ?? "", route: result.route, status: result.status });
    // The Connect version the chart 2.0.5 runs (its appVersion), in the header connect-sdk-go reads (connect/version.go:15).
    res.writeHead(result.status, { "content-type": "application/json", "1Password-Connect-Version": "1.8.1" });
    res.end(JSON.stringify(result.body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
