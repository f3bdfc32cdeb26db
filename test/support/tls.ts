// A test CA and a local HTTPS server on loopback that answers /ready as the relay
// does (and one that answers as S3 does), so the network checks run against real TLS
// (certificates made by openssl).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { defaultServerTag, versionOfTag } from "../../scripts/lib/server-versions.ts";

export interface TestCa {
  caFile: string;
  /** A key and certificate signed by the CA for these DNS names. */
  issue(names: readonly string[], label: string): { key: string; cert: string };
}

export function testCa(dir: string): TestCa {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=relay test CA",
  );
  return {
    caFile: join(dir, "ca.crt"),
    issue(names, label) {
      writeFileSync(join(dir, `${label}.ext`), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
      ssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        `${label}.key`,
        "-out",
        `${label}.csr`,
        "-subj",
        `/CN=${names[0]}`,
      );
      ssl(
        "x509",
        "-req",
        "-in",
        `${label}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${label}.crt`,
        "-days",
        "2",
        "-extfile",
        `${label}.ext`,
      );
      return {
        key: readFileSync(join(dir, `${label}.key`), "utf8"),
        cert: readFileSync(join(dir, `${label}.crt`), "utf8"),
      };
    },
  };
}

/** An HTTPS server on a free loopback port; `answer` writes each response. */
export async function httpsServer(
  tls: { key: string; cert: string },
  answer: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number }> {
  const server = createServer(tls, answer);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}

/** Answers GET /ready with `status` and the relay-server-version header `version` (none when undefined); returns its port. */
export function readyServer(
  tls: { key: string; cert: string },
  status: () => number,
  version: () => string | undefined = () => versionOfTag(defaultServerTag()),
): Promise<{ server: Server; port: number }> {
  return httpsServer(tls, (req, res) => {
    const reported = version();
    res.writeHead(req.url === "/ready" ? status() : 404, {
      ...(reported === undefined ? {} : { "relay-server-version": reported }),
      "content-type": "application/json",
    });
    res.end(JSON.stringify({ ok: status() === 200 }));
  });
}

/** Answers as S3 does a request without credentials: 403 AccessDenied (any status is an answer to verify). */
export function s3LikeServer(tls: { key: string; cert: string }): Promise<{ server: Server; port: number }> {
  return httpsServer(tls, (_req, res) => {
    res.writeHead(403, { "content-type": "application/xml" });
    res.end("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>");
  });
}
