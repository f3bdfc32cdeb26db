// Plays the ingress controller in front of the relays on the local node: one TLS
// endpoint on loopback with a test CA, routing by Host to the Ready endpoints of a
// tenant Service (Pod IPs on the node's bridge), WebSocket upgrades included, or
// to a fixed plain-http upstream (the node's S3, played behind TLS).
import { connect } from "node:net";
import { request } from "node:http";
import { createServer, type Server } from "node:https";
import type { KubeClient } from "../../../scripts/lib/kube.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { instanceStorage } from "../../../scripts/lib/relay-storage.ts";
import { s3Endpoint } from "../../../scripts/lib/verify/network.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

export interface Route {
  namespace: string;
  service: string;
  /** The Service port's name or number, as an Ingress backend names it. */
  port: string | number;
}

/** A fixed plain-http upstream, e.g. the node's S3 on loopback. */
export interface Upstream {
  host: string;
  port: number;
}

interface EndpointSlice {
  ports?: { name?: string; port?: number }[];
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
}

/** A Ready endpoint of a Service: the Pod address and the target port of the named Service port. */
async function endpoint(client: KubeClient, route: Route): Promise<{ host: string; port: number } | undefined> {
  const svc = await client.get<{
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: { ports: { name?: string; port: number }[] };
  }>({ apiVersion: "v1", kind: "Service", metadata: { namespace: route.namespace, name: route.service } });
  const servicePort = svc?.spec.ports.find((p) => p.name === route.port || p.port === route.port);
  if (!servicePort) return undefined;
  const slices = await client.list<EndpointSlice & { apiVersion: string; kind: string; metadata: { name: string } }>(
    "discovery.k8s.io/v1",
    "EndpointSlice",
    route.namespace,
    `kubernetes.io/service-name=${route.service}`,
  );
  for (const slice of slices) {
    const port = slice.ports?.find((p) => (p.name ?? "") === (servicePort.name ?? ""))?.port;
    const ready = slice.endpoints?.find((e) => e.conditions?.ready !== false);
    if (port && ready?.addresses[0]) return { host: ready.addresses[0], port };
  }
  return undefined;
}

/** Starts the endpoint on 127.0.0.1 (a free port); `routes` maps each public host to its Service or a fixed upstream. */
export async function startIngress(
  client: KubeClient,
  tls: { key: string; cert: string },
  routes: ReadonlyMap<string, Route | Upstream>,
): Promise<{ server: Server; port: number; stop(): Promise<void> }> {
  const target = async (hostHeader: string | undefined) => {
    const route = routes.get((hostHeader ?? "").split(":")[0]!);
    if (!route) return undefined;
    return "service" in route ? endpoint(client, route) : route;
  };
  const server = createServer(tls, (req, res) => {
    void target(req.headers.host).then((to) => {
      if (!to) return void res.writeHead(503).end("no ready endpoint\n");
      const upstream = request(
        { host: to.host, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on("error", () => res.writeHead(502).end("upstream error\n"));
      req.pipe(upstream);
    });
  });
  server.on("upgrade", (req, socket, head) => {
    void target(req.headers.host).then((to) => {
      if (!to) return void socket.end("HTTP/1.1 503 Service Unavailable\r\n\r\n");
      const upstream = connect(to.port, to.host, () => {
        const lines = [
          `${req.method} ${req.url} HTTP/1.1`,
          ...Object.entries(req.headers).map(([k, v]) => `${k}: ${String(v)}`),
          "",
          "",
        ];
        upstream.write(lines.join("\r\n"));
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    server,
    port: (server.address() as { port: number }).port,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The S3 endpoint hosts the instances' values files name: verify checks them, so a demo or test plays them on loopback. */
export function s3EndpointHosts(): string[] {
  const hosts = instances
    .map((i) => instanceStorage(i))
    .filter((s) => s.type === "s3")
    .map((s) => s3Endpoint(s).url)
    .filter((u): u is string => !!u)
    .map((u) => new URL(u).hostname);
  return [...new Set(hosts)];
}
