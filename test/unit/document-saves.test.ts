// Reading a relay's log for saves that failed and documents unloaded unsaved, and
// showing its lines without presigned URLs' signatures. The lines are the server's own
// (tracing's text format, NO_COLOR), as seen on the node while S3 refused the Pod's connections.
import { describe, expect, it } from "vitest";
import { documentSaves } from "../../scripts/lib/document-saves.ts";
import { withoutSignatures } from "../../scripts/lib/pods.ts";

const at = (s: number) => `2026-12-03T17:44:${String(s).padStart(2, "0")}.953241Z`;
const saving = (doc: string, s: number) =>
  `${at(s)}  INFO save_loop{doc_id="${doc}"}: y_sweet_core::sync_kv: Persisting CBOR snapshot size=1234`;
const failed = (doc: string, s: number) =>
  `${at(s)} ERROR save_loop{doc_id="${doc}"}: relay::server: Error persisting. e=ConnectionError("error sending request for url (http://10.244.0.1:46355/bucket-ea312e3e/${doc}/data.ysweet?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=local-node%2F20261203&X-Amz-Signature=1a21fa89)")`;
const ended = (doc: string, s: number) =>
  `${at(s)}  INFO save_loop{doc_id="${doc}"}: relay::server: Terminating loop for ${doc}`;
const other = `${at(1)}  INFO relay::server: Loading doc with channel and user doc_id="a" channel=None user=None`;

describe("failed saves in a relay's log", () => {
  it("finds nothing when every save went through", () => {
    expect(documentSaves([other, saving("a", 2), saving("a", 3), ended("a", 9)].join("\n"))).toEqual({
      failures: 0,
      unsaved: [],
      dropped: [],
    });
  });

  it("names a loaded document whose last save failed, and the error with S3's endpoint and bucket but not the signed query", () => {
    const report = documentSaves(
      [saving("a", 2), saving("b", 2), saving("a", 3), failed("a", 3), saving("b", 4)].join("\n"),
    );
    expect(report).toEqual({
      failures: 1,
      unsaved: ["a"],
      dropped: [],
      lastError: "ConnectionError: error sending request for url http://10.244.0.1:46355/bucket-ea312e3e/…",
    });
    expect(report.lastError).not.toContain("Signature");
  });

  it("counts a document saved again after failures as saved", () => {
    expect(
      documentSaves([saving("a", 2), failed("a", 2), saving("a", 3), failed("a", 3), saving("a", 4)].join("\n")),
    ).toMatchObject({ failures: 2, unsaved: [], dropped: [] });
  });

  it("names a document unloaded while its save failed: its unsaved edits are gone from the server", () => {
    expect(
      documentSaves([saving("a", 2), failed("a", 2), saving("a", 3), failed("a", 3), ended("a", 3)].join("\n")),
    ).toMatchObject({ failures: 2, unsaved: [], dropped: ["a"] });
  });

  it("does not count a document unloaded after a good save; a dropped one stays named when loaded again (the copy loaded from S3 lacks those edits)", () => {
    const log = [saving("a", 2), ended("a", 3), saving("b", 2), failed("b", 2), ended("b", 3), saving("b", 5)].join(
      "\n",
    );
    expect(documentSaves(log)).toMatchObject({ unsaved: [], dropped: ["b"] });
  });
});

describe("a relay's log lines as verify and relay-server:upgrade show them", () => {
  it("leave out the query of a presigned URL (signature, access key id) and keep the endpoint and bucket", () => {
    const line =
      "Error: Error connecting to store. error sending request for url (http://10.244.0.1:37997/bucket-ea312e3e/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=local-node%2F20261203%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261203T182517Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&encoding-type=url&list-type=2&max-keys=0&X-Amz-Signature=dcd5d7fd62f5)";
    expect(withoutSignatures(line)).toBe(
      "Error: Error connecting to store. error sending request for url (http://10.244.0.1:37997/bucket-ea312e3e/?…)",
    );
    expect(withoutSignatures("INFO relay: Listening on ws://0.0.0.0:8080")).toBe(
      "INFO relay: Listening on ws://0.0.0.0:8080",
    );
  });
});
