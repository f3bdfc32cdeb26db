// A test CA and a local HTTPS server on loopback that answers /ready as the relay
// does, so the network checks run against real TLS (certificates made by openssl).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { join } from "node:path";

export interface TestCa {
  caFile: string;
  /** A key and certificate signed by the CA for these DNS names. */
  issue(names: readonly string[], label: string): { key: string; cert: string };
}

export function testCa(dir: string): TestCa {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=relay test CA");
  return {
    caFile: join(dir, "ca.crt"),
    issue(names, label) {
      writeFileSync(join(dir, `${label}.ext`), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
      ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${label}.key`, "-out", `${label}.csr`, "-subj", `/CN=${names[0]}`);
      ssl("x509", "-req", "-in", `${label}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${label}.crt`, "-days", "2", "-extfile", `${label}.ext`);
      return { key: readFileSync(join(dir, `${label}.key`), "utf8"), cert: readFileSync(join(dir, `${label}.crt`), "utf8") };
    },
  };
}

/** Answers GET /ready with `status` and a relay-server-version header; returns its port. */
export async function readyServer(tls: { key: string; cert: string }, status: () => number): Promise<{ server: Server; port: number }> {
  const server = createServer(tls, (req, res) => {
    res.writeHead(req.url === "/ready" ? status() : 404, { "relay-server-version": "0.9.2", "content-type": "application/json" });
    res.end(JSON.stringify({ ok: status() === 200 }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as { port: number }).port };
}
