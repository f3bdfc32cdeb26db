// verify's network checks: each public host answers /ready over HTTPS with valid TLS,
// and for S3 instances the S3 endpoint (attachments travel there by presigned URL).
import { readFileSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import { request } from "node:https";
import { isIP } from "node:net";
import { describeFsError, OperatorError } from "../errors.ts";
import { type RelayInstance } from "../names.ts";
import { instanceStorage, type RelayStorage } from "../relay-storage.ts";
import { anonymousAccess, anonymousAccessFixedIn, defaultServerTag } from "../server-versions.ts";
import { fail, pass, type Result, skip } from "./checks.ts";
import { relayInstances } from "../instances.ts";

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
    throw new OperatorError(
      `expected a CA bundle (PEM) at ${path} for --ca-file; ${describeFsError(error)}; pass an existing, readable file`,
    );
  }
}

/** One HTTPS request to `url` (TLS name and Host header from the URL, reached through --connect-to when given); any HTTP status is an answer. */
export function httpsRequest(
  url: URL,
  method: string,
  opts: HttpsOptions,
): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const target = opts.connectTo.get(url.hostname);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target?.address ?? url.hostname,
        port: target?.port ?? (url.port ? Number(url.port) : 443),
        path: `${url.pathname}${url.search}`,
        method,
        servername: isIP(url.hostname) ? undefined : url.hostname,
        headers: { host: url.host },
        ca: opts.ca,
        timeout: opts.timeoutMs,
      },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${opts.timeoutMs / 1000} s`)));
    req.on("error", reject);
    req.end();
  });
}

/** A request that got no HTTP answer: a TLS failure (certificate) or none at all, with what to do for each. */
function unanswered(name: string, error: unknown, next: { tls: string; none: string }): Result {
  const err = error as NodeJS.ErrnoException;
  const tls = /certificate|self.signed|CERT|altnames|SSL/i.test(`${err.code} ${err.message}`);
  const detail = `${tls ? "TLS not valid: " : "no answer: "}${err.code ?? ""} ${err.message}`.trim();
  return fail(name, detail, tls ? next.tls : next.none);
}

export async function readyOverHttps(i: RelayInstance, opts: HttpsOptions): Promise<Result[]> {
  const name = `GET https://${i.host}/ready`;
  try {
    const { status, headers } = await httpsRequest(new URL(`https://${i.host}/ready`), "GET", opts);
    const version = headers["relay-server-version"] as string | undefined;
    if (status === 200)
      return [
        pass(
          name,
          `200 with valid TLS, relay-server-version ${version ?? "not reported"}; S3 reachable (a ready relay has listed its bucket at start)`,
        ),
        anonymousAccessCheck(i, version),
      ];
    return [fail(name, `HTTP ${status}`, "check the ingress backend (sync-ingress --check) and the relay Deployment")];
  } catch (error) {
    return [
      unanswered(name, error, {
        tls: "check the TLS Secret and cert-manager's Certificate for this host",
        none: "check DNS for the host, the ingress controller, and that the relay listens",
      }),
    ];
  }
}

/** Whether anonymous clients could open documents on the host, from the version it reports (no probe: it would create the document). */
export function anonymousAccessCheck(i: RelayInstance, header: string | undefined): Result {
  const name = `https://${i.host} refuses clients without a token`;
  const access = anonymousAccess(header);
  const pin = `set image.tag in ${i.valuesFile} to ${defaultServerTag()} (or remove it: the chart's appVersion), then upgrade`;
  if (!access.known) {
    return fail(
      name,
      `the server reports no release (relay-server-version: ${access.reported}), so verify cannot tell, and it does not try (a server that lets anonymous clients in would create the document)`,
      pin,
    );
  }
  if (access.open) {
    return fail(
      name,
      `server ${access.release} gives a WebSocket without a token full access to any document (fixed in ${anonymousAccessFixedIn})`,
      pin,
    );
  }
  return pass(
    name,
    `server ${access.release} answers 401 to a WebSocket without a token (since ${anonymousAccessFixedIn})`,
  );
}

/** The S3 endpoint the server signs attachment URLs for, and where that setting comes from. */
export function s3Endpoint(storage: RelayStorage): { url?: string; from: string } {
  if (storage.s3.endpoint) return { url: storage.s3.endpoint, from: "storage.s3.endpoint" };
  if (storage.awsEndpointEnv?.fromRef)
    return { from: "AWS_ENDPOINT_URL_S3 from a Secret or ConfigMap (extraEnv valueFrom)" };
  if (storage.awsEndpointEnv?.value)
    return { url: storage.awsEndpointEnv.value, from: "AWS_ENDPOINT_URL_S3 in extraEnv" };
  return {
    url: `https://s3.${storage.s3.region}.amazonaws.com`,
    from: `AWS S3 (no storage.s3.endpoint, no AWS_ENDPOINT_URL_S3; region ${storage.s3.region})`,
  };
}

/**
 * The attachment path of an S3 instance: clients upload and download attachments
 * straight from the S3 endpoint by presigned URL, so it must answer over TLS with
 * a certificate they trust. Any HTTP status counts (S3 answers / with 403 or 200).
 */
export async function s3EndpointAnswers(i: RelayInstance, storage: RelayStorage, opts: HttpsOptions): Promise<Result> {
  const { url: raw, from } = s3Endpoint(storage);
  const subject = `attachments of ${i.release}: S3 endpoint`;
  if (!raw)
    return skip(
      `${subject} answers over TLS`,
      `${from}: verify cannot read it; check by hand that clients reach it over https with a valid certificate`,
    );
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail(
      `${subject} answers over TLS`,
      `${from} is not a URL`,
      `set storage.s3.endpoint in ${i.valuesFile} to the https:// URL clients reach`,
    );
  }
  const name = `${subject} ${url.origin} answers over TLS`;
  if (url.protocol !== "https:") {
    return fail(
      name,
      `${from} is plain ${url.protocol.replace(":", "")}: the presigned attachment URLs clients get would be unencrypted (refused as mixed content or sent in the clear)`,
      `serve the S3 endpoint over https with a certificate clients trust and set storage.s3.endpoint in ${i.valuesFile} to its https:// URL`,
    );
  }
  const why = "clients upload and download attachments from this host by presigned URL";
  try {
    const { status } = await httpsRequest(new URL("/", url), "HEAD", opts);
    return pass(name, `HTTP ${status} with valid TLS (${from}); ${why}`);
  } catch (error) {
    return unanswered(name, error, {
      tls: `${why}, so it needs a certificate they trust: fix the endpoint's certificate (or point ${from} at an endpoint that has one)`,
      none: `${why}, so it must be reachable from the internet, not only from the cluster: check DNS for ${url.hostname}, that S3 listens on port ${url.port || 443}, and the firewall`,
    });
  }
}

export async function networkChecks(opts: HttpsOptions): Promise<Result[]> {
  const perInstance = await Promise.all(
    relayInstances().map((i) => {
      const storage = instanceStorage(i);
      return Promise.all([
        readyOverHttps(i, opts),
        ...(storage.type === "s3" ? [s3EndpointAnswers(i, storage, opts).then((r) => [r])] : []),
      ]);
    }),
  );
  return perInstance.flat(2);
}
