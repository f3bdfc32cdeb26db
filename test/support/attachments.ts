// Attachments as the Relay plugin moves them with an S3 store: the server hands out
// a presigned URL for the file's sha256 (/f/<doc>/upload-url, /f/<doc>/download-url)
// and the client talks to S3 directly.
import { createHash } from "node:crypto";

export const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function presigned(url: string, init: RequestInit, field: "uploadUrl" | "downloadUrl"): Promise<string> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== 200)
    throw new Error(
      `expected ${init.method ?? "GET"} ${url} to answer 200 with a presigned URL; it answered ${res.status}: ${text}`,
    );
  return (JSON.parse(text) as Record<string, string>)[field]!;
}

/** Uploads `bytes` as an attachment of `docId` through the server at `base` (http://host:port) with a file token. */
export async function uploadAttachment(base: string, docId: string, token: string, bytes: Uint8Array): Promise<void> {
  const url = await presigned(
    `${base}/f/${docId}/upload-url`,
    { method: "POST", headers: { authorization: `Bearer ${token}` } },
    "uploadUrl",
  );
  const res = await fetch(url, { method: "PUT", body: Buffer.from(bytes) });
  if (!res.ok)
    throw new Error(
      `expected S3 to take the attachment at its presigned URL; it answered ${res.status}: ${await res.text()}`,
    );
}

/** Downloads the attachment of `docId` the file token names. */
export async function downloadAttachment(base: string, docId: string, token: string): Promise<Uint8Array> {
  const url = await presigned(
    `${base}/f/${docId}/download-url`,
    { headers: { authorization: `Bearer ${token}` } },
    "downloadUrl",
  );
  const res = await fetch(url);
  if (!res.ok) throw new Error(`expected S3 to serve the attachment at its presigned URL; it answered ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
