// Kubernetes access for the flows: one small client over a KubeConfig that does
// server-side apply with the exact bytes of a manifest (client-node's typed
// serializer drops fields it has no model for, such as x-kubernetes-* in CRDs).
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request, type RequestOptions } from "node:https";
import { request as httpRequest } from "node:http";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import { registerSecret } from "./errors.ts";

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    resourceVersion?: string;
  };
}

export type Manifest = ObjectRef & Record<string, unknown>;

export type ApplyAction = "created" | "configured" | "unchanged";

/** A status condition, as Flux and the built-in controllers write them. */
export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  /** The metadata.generation the controller set this condition for. */
  observedGeneration?: number;
}

/** An object as read back from the server, with the status fields the flows read. */
export type Live = Manifest & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: Condition[]; observedGeneration?: number };
};

/** The Ready condition of a live object, if it has one. */
export function readyCondition(obj: Live | undefined): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === "Ready");
}

/** An answer of the API server other than 2xx, with its Status message. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }

  /** A 401 or 403: the message is already the whole sentence (whose credentials, which cluster, what to do). */
  get explained(): boolean {
    return this.code === 401 || this.code === 403;
  }
}

/** The API server could not be reached at all, or did not answer in time. */
export class KubeUnreachableError extends Error {}

/** How long one request may take in all, from sending it to the last byte of the answer. */
const requestTimeoutMs = 30_000;

/** Node's codes for a server certificate this machine does not accept, and what each means. */
const certificateProblems: Record<string, string> = {
  CERT_HAS_EXPIRED: "its certificate has expired",
  CERT_NOT_YET_VALID: "its certificate is not valid yet",
  ERR_TLS_CERT_ALTNAME_INVALID: "its certificate is not issued for that address",
  DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed and not the kubeconfig's CA",
  SELF_SIGNED_CERT_IN_CHAIN: "its certificate chains to a CA that is not trusted here",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not signed by a trusted CA",
  UNABLE_TO_GET_ISSUER_CERT: "its certificate is not signed by a trusted CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate is not signed by a trusted CA",
  CERT_SIGNATURE_FAILURE: "its certificate's signature does not verify",
  CERT_UNTRUSTED: "its certificate is not trusted",
  CERT_REVOKED: "its certificate is revoked",
  ERR_SSL_WRONG_VERSION_NUMBER: "it does not speak TLS at that address",
};

/** What a TLS failure means for the operator, or undefined for an error that is not one. */
export function certificateProblem(code: string | undefined): string | undefined {
  return code ? certificateProblems[code] : undefined;
}

/**
 * How long a request is tried again after a transient failure: the API server
 * restarting or overloaded (connection refused or reset, no answer, 429, 5xx). A
 * server that never answered this client is not retried on a failed connection: a
 * wrong address or a cluster that is down fails at once.
 */
export const retryForMs = 60_000;
const transientCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "TIMEOUT",
]);
const transientStatus = new Set([429, 500, 502, 503, 504]);

/** Whether `error` may pass if the request is sent again. */
export function isTransient(error: unknown, answeredBefore: boolean): boolean {
  if (error instanceof KubeApiError) return transientStatus.has(error.code);
  const code = (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
  return error instanceof KubeUnreachableError && answeredBefore && code !== undefined && transientCodes.has(code);
}

interface ResourceInfo {
  name: string;
  namespaced: boolean;
}

export class KubeClient {
  private readonly discovery = new Map<string, Promise<Map<string, ResourceInfo>>>();

  private connection?: Promise<RequestOptions>;

  /** Whether the server has answered this client at least once (a later failed connection is then a restart, worth waiting out). */
  private answered = false;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly label: string,
    private readonly timeoutMs = requestTimeoutMs,
  ) {}

  /**
   * TLS settings, worked out once per client. client-node makes a new Agent per
   * call; one kept-alive Agent saves a TLS handshake per request.
   */
  private async connect(): Promise<RequestOptions> {
    const opts: RequestOptions = { headers: { accept: "application/json" } };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    if (opts.agent instanceof Agent) (opts.agent as Agent & { keepAlive: boolean }).keepAlive = true;
    return opts;
  }

  /**
   * The credentials for one request, asked of the kubeConfig each time: an exec
   * plugin's or OIDC token is renewed when it expires (client-node caches it until then).
   */
  private async credentials(): Promise<Pick<RequestOptions, "headers" | "auth">> {
    const opts: RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const authorization = (opts.headers as Record<string, string> | undefined)?.Authorization;
    if (authorization) registerSecret(authorization.replace(/^Bearer /, ""));
    return { headers: opts.headers, auth: opts.auth };
  }

  get server(): string {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster)
      throw new Error(
        `expected a current cluster in the kubeconfig for ${this.label}; found none; set current-context`,
      );
    return cluster.server;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<T> {
    const text = await this.retrying(() => this.send(method, path, body, contentType));
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** A GET whose answer is plain text (a Pod's log). */
  requestText(path: string): Promise<string> {
    return this.retrying(() => this.send("GET", path));
  }

  /**
   * Sends again after a transient failure, waiting 0.25 s, then twice as long each
   * time up to 4 s, for at most retryForMs; the last error then says how long it
   * was tried. Every request the flows send may be sent twice: reads, server-side
   * applies and merge patches of a fixed value.
   */
  private async retrying(send: () => Promise<string>): Promise<string> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const text = await send();
        this.answered = true;
        return text;
      } catch (error) {
        if (error instanceof KubeApiError) this.answered = true;
        const wait = Math.min(4000, 250 * 2 ** attempt);
        if (!isTransient(error, this.answered)) throw error;
        if (Date.now() + wait - started > retryForMs) throw retried(error as Error, attempt + 1, Date.now() - started);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async send(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<string> {
    // The server URL may carry a path (a proxy such as Rancher's /k8s/clusters/c-1): the API path goes after it.
    const url = new URL(`${this.server.replace(/\/+$/, "")}${path}`);
    const base = await (this.connection ??= this.connect());
    const { headers, auth } = await this.credentials();
    const opts: RequestOptions = { ...base, method, auth, headers: { ...base.headers, ...headers } };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined)
      opts.headers = { ...opts.headers, "content-type": contentType, "content-length": Buffer.byteLength(payload) };
    const send = url.protocol === "http:" ? httpRequest : request;
    return new Promise<string>((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(deadline);
          const text = Buffer.concat(chunks).toString("utf8");
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) return resolve(text);
          if (code === 401) return reject(new KubeApiError(401, "Unauthorized", this.unauthorized()));
          let status: { message?: string; reason?: string } = {};
          try {
            status = JSON.parse(text) as typeof status;
          } catch {
            status = { message: text.slice(0, 200) };
          }
          if (code === 403) return reject(new KubeApiError(403, "Forbidden", this.forbidden(status.message ?? "")));
          reject(new KubeApiError(code, status.reason ?? "", status.message ?? `HTTP ${code}`));
        });
      });
      // One deadline for the whole request: a socket's idle timeout restarts with each
      // byte, and Node arms it twice for TLS (a hung server was given twice the time said).
      const seconds = this.timeoutMs / 1000;
      const deadline = setTimeout(
        () => req.destroy(Object.assign(new Error(`no answer within ${seconds} s`), { code: "TIMEOUT" })),
        this.timeoutMs,
      );
      req.on("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(deadline);
        reject(new KubeUnreachableError(this.unreachable(error, seconds), { cause: error }));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Why the API could not be reached, and what to do: a TLS failure names the certificate's problem and the CA in use. */
  private unreachable(error: NodeJS.ErrnoException, seconds: number): string {
    const where = `the Kubernetes API of ${this.label} at ${this.server}`;
    const problem = certificateProblem(error.code);
    if (problem) {
      const next =
        error.code === "CERT_HAS_EXPIRED" || error.code === "CERT_NOT_YET_VALID"
          ? "renew the API server's certificate, or check this machine's clock"
          : "fetch a current kubeconfig for the cluster (its CA and server URL), or check that the URL is the cluster's";
      return `expected ${where} to present a certificate that ${this.trustedCa()} accepts; ${problem} (${error.code}); ${next}`;
    }
    if (error.code === "TIMEOUT")
      return `expected ${where} to answer within ${seconds} s; it accepted the connection but sent no answer; check that the cluster is up (not overloaded) and the kubeconfig points at it`;
    return `expected ${where} to answer; ${error.code ?? error.message}; check that the cluster is up and the kubeconfig points at it`;
  }

  /** The CA this client checks the server against, as the operator can find it. */
  private trustedCa(): string {
    const cluster = this.kubeConfig.getCurrentCluster();
    const subject = (pem: string) => {
      try {
        return new X509Certificate(pem).subject.replace(/\n/g, ", ");
      } catch {
        return "a CA that does not parse";
      }
    };
    if (cluster?.caData)
      return `the kubeconfig's CA (certificate-authority-data of cluster "${cluster.name}": ${subject(Buffer.from(cluster.caData, "base64").toString("utf8"))})`;
    if (cluster?.caFile) {
      let pem = "";
      try {
        pem = readFileSync(cluster.caFile, "utf8");
      } catch {
        return `the kubeconfig's CA file ${cluster.caFile} (unreadable)`;
      }
      return `the kubeconfig's CA file ${cluster.caFile} (${subject(pem)})`;
    }
    return "this machine's trusted roots (the kubeconfig names no CA)";
  }

  /** What a 401 means for this cluster: whose credentials, and what to do. */
  private unauthorized(): string {
    const context = this.kubeConfig.getCurrentContext();
    const user = this.kubeConfig.getContextObject(context)?.user ?? "none";
    return `expected ${this.label} to accept the credentials of user "${user}" (context ${context}); it answered 401 Unauthorized; they are wrong or expired: renew them (log in again, or fetch a fresh kubeconfig) or pick another context`;
  }

  /** What a 403 means for this cluster: whose request, the server's own reason, and what to do. */
  private forbidden(reason: string): string {
    const context = this.kubeConfig.getCurrentContext();
    const user = this.kubeConfig.getContextObject(context)?.user ?? "none";
    return `expected ${this.label} to allow user "${user}" (context ${context}) this request; it answered 403 Forbidden (${reason}); use a kubeconfig whose user may do that, or have the permission granted`;
  }

  private resources(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    let found = this.discovery.get(apiVersion);
    if (!found) {
      const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      found = this.request<{ resources: (ResourceInfo & { kind: string })[] }>("GET", path).then(
        (list) => new Map(list.resources.filter((r) => !r.name.includes("/")).map((r) => [r.kind, r])),
        (error: unknown) => {
          this.discovery.delete(apiVersion);
          throw error instanceof KubeApiError && error.code === 404
            ? new KubeApiError(404, "NotFound", `the API ${apiVersion} is not served by ${this.label}`)
            : error;
        },
      );
      this.discovery.set(apiVersion, found);
    }
    return found;
  }

  /** The URL path of one object (or of its collection when `name` is omitted). */
  async path(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string> {
    const info = (await this.resources(apiVersion)).get(kind);
    if (!info)
      throw new KubeApiError(
        404,
        "NotFound",
        `the kind ${kind} (${apiVersion}) is not served by ${this.label}; is its CRD installed?`,
      );
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${namespace ?? "default"}` : "";
    return `${base}${ns}/${info.name}${name ? `/${name}` : ""}`;
  }

  /** Reads an object; undefined when it does not exist. */
  async get<T extends KubernetesObject = Manifest>(ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.request<T>(
        "GET",
        await this.path(ref.apiVersion, ref.kind, ref.metadata.namespace, ref.metadata.name),
      );
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 404) return undefined;
      throw error;
    }
  }

  async list<T extends KubernetesObject = Manifest>(
    apiVersion: string,
    kind: string,
    namespace?: string,
    labelSelector?: string,
  ): Promise<T[]> {
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
    return (await this.request<{ items: T[] }>("GET", `${await this.path(apiVersion, kind, namespace)}${query}`)).items;
  }

  /**
   * Server-side apply under one field manager; reports what changed. `live` is the
   * object as the caller last read it (saves a GET); without it apply reads it first.
   */
  async apply(
    obj: Manifest,
    opts: { fieldManager: string; dryRun?: boolean; live?: Manifest },
  ): Promise<{ action: ApplyAction; object: Manifest }> {
    const path = await this.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    const before = opts.live ?? (await this.get(obj));
    const patch = (dryRun: boolean) => {
      const query = new URLSearchParams({ fieldManager: opts.fieldManager, force: "true" });
      if (dryRun) query.set("dryRun", "All");
      return this.request<Manifest>("PATCH", `${path}?${query}`, obj, "application/apply-patch+yaml");
    };
    if (!before) return { action: "created", object: await patch(!!opts.dryRun) };
    // Asked first as a dry run: a re-apply that changes nothing writes nothing. (A real no-op apply
    // can still write: a CRD's schema default, e.g. Flux's status.observedGeneration -1, is added on
    // read but not stored at create, so the first update stores it and bumps the resourceVersion.)
    const preview = await patch(true);
    // A dry run (and diff) tells content; field owners alone (e.g. helm's objects seen by this manager) are no change.
    if (opts.dryRun)
      return { action: sameObject(before, preview, false) ? "unchanged" : "configured", object: preview };
    if (sameObject(before, preview, true)) return { action: "unchanged", object: before };
    const after = await patch(false);
    return {
      action: after.metadata.resourceVersion === before.metadata.resourceVersion ? "unchanged" : "configured",
      object: after,
    };
  }

  /** Writes the status subresource, as a controller would (tests and the demo play controllers). */
  async patchStatus(ref: ObjectRef, status: Record<string, unknown>): Promise<void> {
    const path = await this.path(ref.apiVersion, ref.kind, ref.metadata.namespace, ref.metadata.name);
    await this.request("PATCH", `${path}/status`, { status }, "application/merge-patch+json");
  }
}

/** The last error of a retried request, saying how often and how long it was tried. */
function retried(error: Error, attempts: number, ms: number): Error {
  const note = ` (tried ${attempts} times over ${Math.round(ms / 1000)} s)`;
  if (error instanceof KubeApiError) return new KubeApiError(error.code, error.reason, `${error.message}${note}`);
  return new KubeUnreachableError(`${error.message}${note}`, { cause: error.cause });
}

/** The same content, and with `owners` the same field owners (an apply that would change neither writes nothing). */
function sameObject(a: Manifest, b: Manifest, owners: boolean): boolean {
  const fieldOwners = (o: Manifest) =>
    ((o.metadata as { managedFields?: Record<string, unknown>[] }).managedFields ?? []).map(
      ({ time, ...entry }) => (void time, entry),
    );
  if (JSON.stringify(withoutBookkeeping(a)) !== JSON.stringify(withoutBookkeeping(b))) return false;
  return !owners || JSON.stringify(fieldOwners(a)) === JSON.stringify(fieldOwners(b));
}

/** An object without the server's bookkeeping (write counters, field owners, status): what an apply can change. */
export function withoutBookkeeping(obj: Manifest): Record<string, unknown> {
  const { resourceVersion, managedFields, generation, uid, creationTimestamp, ...metadata } = obj.metadata as Record<
    string,
    unknown
  >;
  (void resourceVersion, managedFields, generation, uid, creationTimestamp);
  const { status, ...rest } = obj as Manifest & { status?: unknown };
  void status;
  return { ...rest, metadata };
}
