// The API client against a real local API server: a server URL with a path prefix
// (a proxy in front of the API), exec credentials that expire during a run, and
// transient failures (a busy proxy's 503 and 429, the API server restarting)
// waited out, while a server never reached fails at once.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, KubeUnreachableError } from "../../scripts/lib/kube.ts";
import { type ApiServer, type ApiServers, freePorts, startApiServers } from "../platform/index.ts";
import { tempDir } from "../support/files.ts";
import { testCa } from "../support/tls.ts";

let cp: ApiServers;
let server: ApiServer;
let proxy: Server;
let dir: string;
const prefix = "/k8s/clusters/c-1";
/** The proxy answers the next `left` requests itself with `status`, as a load balancer in front of a busy or restarting API server does. */
const busy = { status: 503, left: 0, answered: 0 };

/** A kubeconfig for the local server with another server URL or user. */
function kubeconfig(serverUrl: string, user: Record<string, unknown>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: serverUrl, skipTLSVerify: true }],
    users: [{ name: "u", ...user }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kc;
}

beforeAll(async () => {
  cp = await startApiServers([{ name: "api", crds: [] }]);
  server = cp.servers[0]!;
  dir = tempDir("kube-client-");
  // A loopback reverse proxy that serves the API under a path prefix only, as Rancher does.
  proxy = createServer((req, res) => {
    if (!req.url?.startsWith(`${prefix}/`)) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`no route for ${req.url}`);
      return;
    }
    if (busy.left > 0) {
      busy.left--;
      busy.answered++;
      res.writeHead(busy.status, { "content-type": "application/json" }).end(
        JSON.stringify({
          kind: "Status",
          status: "Failure",
          reason: busy.status === 429 ? "TooManyRequests" : "ServiceUnavailable",
          message: "the server is busy",
          code: busy.status,
        }),
      );
      return;
    }
    const upstream = request(
      `${server.url}${req.url.slice(prefix.length)}`,
      { method: req.method, headers: req.headers, rejectUnauthorized: false },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  proxy?.close();
  await cp?.stop();
});

describe("the API client", () => {
  it("keeps the path of a server URL behind a proxy", async () => {
    const port = (proxy.address() as { port: number }).port;
    const c = new KubeClient(
      kubeconfig(`http://127.0.0.1:${port}${prefix}`, { token: server.kubeConfig.getCurrentUser()!.token }),
      "proxied",
    );
    const namespaces = await c.list("v1", "Namespace");
    expect(namespaces.map((n) => n.metadata!.name)).toContain("default");
    expect(
      (await c.get({ apiVersion: "v1", kind: "Namespace", metadata: { name: "kube-system" } }))?.metadata.name,
    ).toBe("kube-system");
  });

  it("asks an exec plugin again once its credential has expired, instead of keeping the first token for the whole run", async () => {
    const counter = join(dir, "calls");
    writeFileSync(counter, "");
    const plugin = join(dir, "credential-plugin.sh");
    const token = server.kubeConfig.getCurrentUser()!.token!;
    writeFileSync(
      plugin,
      `#!/bin/sh\necho call >> ${counter}\nexpires=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)\n` +
        `printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}' ${token} "$expires"\n`,
    );
    chmodSync(plugin, 0o755);
    const c = new KubeClient(
      kubeconfig(server.url, {
        exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: plugin, interactiveMode: "Never" },
      }),
      "exec",
    );
    await c.list("v1", "Namespace");
    await c.list("v1", "Namespace");
    expect(readFileSync(counter, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 3000));
    await c.list("v1", "Namespace");
    expect(readFileSync(counter, "utf8").split("\n").filter(Boolean)).toHaveLength(2);
  });

  it('names a TLS failure and the CA it checked the server against, instead of "check that the cluster is up"', async () => {
    const otherCa = Buffer.from(readFileSync(testCa(dir).caFile)).toString("base64");
    const token = server.kubeConfig.getCurrentUser()!.token!;
    const withCa = (caData?: string) => {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "c", server: server.url, caData, skipTLSVerify: false }],
        users: [{ name: "u", token }],
        contexts: [{ name: "ctx", cluster: "c", user: "u" }],
        currentContext: "ctx",
      });
      return new KubeClient(kc, "tenant");
    };
    const wrong = (await withCa(otherCa)
      .list("v1", "Namespace")
      .catch((e: unknown) => e)) as Error;
    expect(wrong.message).toMatch(
      new RegExp(
        `^expected the Kubernetes API of tenant at ${server.url} to present a certificate that the kubeconfig's CA \\(certificate-authority-data of cluster "c": CN=relay test CA\\) accepts; its certificate (is not signed by a trusted CA|chains to a CA that is not trusted here) \\([A-Z_]+\\); fetch a current kubeconfig for the cluster`,
      ),
    );
    const none = (await withCa(undefined)
      .list("v1", "Namespace")
      .catch((e: unknown) => e)) as Error;
    expect(none.message).toContain(
      "to present a certificate that this machine's trusted roots (the kubeconfig names no CA) accepts;",
    );
    expect(`${wrong.message}${none.message}`).not.toContain("check that the cluster is up");
  });

  it.each([503, 429])("sends a request again after %s answers, until the API answers", async (status) => {
    const port = (proxy.address() as { port: number }).port;
    const c = new KubeClient(
      kubeconfig(`http://127.0.0.1:${port}${prefix}`, { token: server.kubeConfig.getCurrentUser()!.token }),
      "proxied",
    );
    Object.assign(busy, { status, left: 3, answered: 0 });
    const namespaces = await c.list("v1", "Namespace");
    expect(namespaces.map((n) => n.metadata!.name)).toContain("default");
    expect(busy).toEqual({ status, left: 0, answered: 3 });
  });

  it("waits out a restart of an API server it has reached before, and reads on after it", async () => {
    const c = new KubeClient(server.kubeConfig, "api");
    await c.list("v1", "Namespace");
    const restarting = server.restart(2000);
    await new Promise((r) => setTimeout(r, 500));
    // Sent while the server is down: refused, then retried until it is back.
    const during = c.list("v1", "Namespace");
    await restarting;
    expect((await during).map((n) => n.metadata!.name)).toContain("default");
  }, 120_000);

  it("fails at once, without retrying, on a server it has never reached (a wrong address or a cluster that is down)", async () => {
    const [port] = await freePorts(1);
    const c = new KubeClient(kubeconfig(`https://127.0.0.1:${port}`, { token: "t" }), "nowhere");
    const started = Date.now();
    const error = await c.list("v1", "Namespace").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeUnreachableError);
    expect((error as Error).message).toBe(
      `expected the Kubernetes API of nowhere at https://127.0.0.1:${port} to answer; ECONNREFUSED; check that the cluster is up and the kubeconfig points at it`,
    );
    // A retry would wait out retryForMs (a minute); this fails on the first refusal.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
