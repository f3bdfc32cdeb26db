// verify's network check: each public host answers /ready over HTTPS with valid TLS.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { describeFsError, OperatorError } from "../errors.ts";
import { instances, type RelayInstance } from "../names.ts";
import { fail, pass, type Result } from "./checks.ts";

export interface HttpsOptions {
  ca?: string;
  timeoutMs: number;
  /** HOST → where to connect instead (the TLS name and Host header stay HOST). */
  connectTo: Map<string, { address: string; port: number }>;
}

/** The CA bundle of --ca-file, if given. */
export function readCaFile(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new OperatorError(`expected a CA bundle (PEM) at ${path} for --ca-file; ${describeFsError(error)}; pass an existing, readable file`);
  }
}

export function parseConnectTo(values: readonly string[] | undefined): Map<string, { address: string; port: number }> {
  return new Map((values ?? []).map((v) => {
    const match = /^([^=]+)=([^:]+):(\d+)$/.exec(v);
    if (!match) throw new OperatorError(`expected --connect-to HOST=ADDR:PORT; got "${v}"`);
    return [match[1]!, { address: match[2]!, port: Number(match[3]) }];
  }));
}

export function getReady(host: string, opts: HttpsOptions): Promise<{ status: number; version?: string }> {
  const target = opts.connectTo.get(host);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target?.address ?? host, port: target?.port ?? 443, path: "/ready", method: "GET", servername: host, headers: { host }, ca: opts.ca, timeout: opts.timeoutMs },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, version: res.headers["relay-server-version"] as string | undefined });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${opts.timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end();
  });
}

export async function readyOverHttps(i: RelayInstance, opts: HttpsOptions): Promise<Result> {
  const name = `GET https://${i.host}/ready`;
  try {
    const { status, version } = await getReady(i.host, opts);
    if (status === 200) return pass(name, `200 with valid TLS, relay-server-version ${version ?? "not reported"}; S3 reachable (a ready relay has listed its bucket at start)`);
    return fail(name, `HTTP ${status}`, "check the ingress backend (sync-ingress --check) and the relay Deployment");
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    const tls = /certificate|self.signed|CERT|altnames/i.test(`${err.code} ${err.message}`);
    const detail = `${tls ? "TLS not valid: " : "no answer: "}${err.code ?? ""} ${err.message}`.trim();
    return fail(name, detail, tls ? "check the TLS Secret and cert-manager's Certificate for this host" : "check DNS for the host, the ingress controller, and that the relay listens");
  }
}

export function networkChecks(opts: HttpsOptions): Promise<Result[]> {
  return Promise.all(instances.map((i) => readyOverHttps(i, opts)));
}
