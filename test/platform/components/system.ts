// The whole system on this machine, for the demo and the end-to-end tests: the
// management cluster (an API server), the tenant (an API server with a real node
// and S3), real Flux in the tenant reading this working tree from a local Git
// server, the real 1Password operator against a played Connect, and the parts no
// local machine can have, played in code and named so: 1Password Connect, KubeVirt
// CCM, the management cluster's Flux and cert-manager, the ingress controller.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Patch } from "../../../scripts/lib/apps.ts";
import { management, onePassword, relayNamespace, tenant, type RelayInstance } from "../../../scripts/lib/names.ts";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { renderInstance } from "../../../scripts/lib/relay-services.ts";
import { tempDir } from "../../support/files.ts";
import { playCcmLoop, playedLoadBalancerIp } from "../played/ccm.ts";
import { seedCozystack } from "../played/cozystack.ts";
import { type ApiServer, type ApiServers, client, startApiServers } from "./api-server.ts";
import { type FluxRun, startFlux } from "./flux.ts";
import { type GitServer, startGitServer } from "./git-server.ts";
import { type NodeCluster, startNodeCluster } from "./node-cluster.ts";
import { type OnePassword, startOnePassword } from "./onepassword/operator.ts";
import { genAuth } from "../../support/relay-tokens.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

/** The open-files limit a Pod can have here: this machine caps every process's hard limit at 20000. */
export const localNofile = 16384;

/** The 1Password operator's polling interval here, in seconds (production: the chart's, see OnePassword.settings). */
export const localPollingSeconds = 5;

/** The relays' document-signing key here (Relay.md's control plane signs in production): Secret relay/<this>, key privateKey. */
export const localAuthSecret = "relay-local-auth";

export interface LocalSystem {
  mgmt: ApiServer;
  tenant: ApiServer;
  cluster: NodeCluster;
  git: GitServer;
  flux: FluxRun;
  dir: string;
  /** The local secret source: Connect credentials, operator token, and the S3 items Connect serves. */
  secretsFile: string;
  /** 1Password: the played Connect and the real operator. */
  onePassword: OnePassword;
  /** The private key the relays here accept document tokens from (Secret relay/relay-local-auth). */
  relayKey: string;
  /** bootstrap --patches for docs-prod on this machine: see localPatches. */
  patchesFile: string;
  /** What is played here, one line each, for the demo's output. */
  played: string[];
  stop(): Promise<void>;
}

/**
 * What docs-prod needs on this machine, as kustomize patches that bootstrap keeps in
 * the root Kustomization: the Connect chart's Helm repository and 1Password's service
 * cannot be reached (its HelmRelease and HelmRepository go; the operator runs out of
 * cluster, Connect is played), the Pods' S3 is the node's, the open-files limit fits
 * this machine, and the relays also accept tokens from a local key (Relay.md's control
 * plane signs them in production).
 */
export function localPatches(s3Endpoint: string): Patch[] {
  const remove = (apiVersion: string, kind: string, name: string): Patch => ({
    patch: stringify({ $patch: "delete", apiVersion, kind, metadata: { name } }),
  });
  const values = (i: RelayInstance, v: Record<string, unknown>): Patch => ({
    patch: stringify({
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { name: i.release },
      spec: { values: v },
    }),
  });
  return [
    remove("helm.toolkit.fluxcd.io/v2", "HelmRelease", "1password-operator"),
    remove("source.toolkit.fluxcd.io/v1", "HelmRepository", "1password"),
    {
      target: { kind: "HelmRelease", name: "1password-secrets" },
      patch: stringify([{ op: "remove", path: "/spec/dependsOn" }]),
    },
    // A Pod is never sent to the production S3 endpoint.
    ...instances.map((i) =>
      values(i, {
        storage: { s3: { endpoint: s3Endpoint } },
        ulimits: { nofile: localNofile },
        relay: { auth: { privateKeySecret: { name: localAuthSecret } } },
      }),
    ),
  ];
}

export async function startSystem(log: (line: string) => void = () => {}): Promise<LocalSystem> {
  const dir = tempDir("relay-system-");
  const stops: (() => Promise<void>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const [mgmtPlanes, cluster] = await Promise.all([
      startApiServers([{ name: management.cluster }]) as Promise<ApiServers>,
      startNodeCluster(log, { name: tenant.app }),
    ]);
    stops.push(
      () => mgmtPlanes.stop(),
      () => cluster.stop(),
    );
    const mgmt = mgmtPlanes.servers[0]!;
    const tenantServer = cluster.server;
    await seedCozystack(mgmt, tenantServer);
    await client(mgmt).apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: management.fluxNamespace } },
      { fieldManager: "flux-install" },
    );

    const { s3 } = cluster.node;
    const secretsFile = join(dir, "local-secrets.json");
    writeFileSync(
      secretsFile,
      JSON.stringify({
        [onePassword.credentialsReference]: JSON.stringify({
          verifier: { salt: "local", localHash: "local" },
          encCredentials: { kid: "local", enc: "A256GCM", cty: "b5+jwk+json", iv: "local", data: "local" },
          version: "2",
          deviceUuid: "local-device",
          uniqueKey: { alg: "A256GCM", k: "local" },
        }),
        [onePassword.tokenReference]: "local-operator-token",
        ...Object.fromEntries(
          instances.flatMap((i) => [
            [`op://${onePassword.vault}/${i.credentialsSecret}/accessKey`, s3.accessKeyId],
            [`op://${onePassword.vault}/${i.credentialsSecret}/secretKey`, s3.secretAccessKey],
          ]),
        ),
      }),
      { mode: 0o600 },
    );
    const patchesFile = join(dir, "local-patches.yaml");
    writeFileSync(patchesFile, stringify(localPatches(s3.podUrl)));

    const git = await startGitServer();
    stops.push(() => git.stop());
    await git.publish();
    const flux = await startFlux(tenantServer, log);
    stops.push(() => flux.stop());
    // Connect and the operator start once create-1password-secret has written their Secrets.
    const chain = await startOnePassword(tenantServer, secretsFile, { pollingSeconds: localPollingSeconds, log });
    stops.push(() => chain.stop());
    const relayKey = await genAuth();
    const t = client(tenantServer);
    await t.apply(
      { apiVersion: "v1", kind: "Namespace", metadata: { name: relayNamespace } },
      { fieldManager: "local-system" },
    );
    await t.apply(
      {
        apiVersion: "v1",
        kind: "Secret",
        type: "Opaque",
        metadata: { namespace: relayNamespace, name: localAuthSecret },
        data: { privateKey: Buffer.from(relayKey).toString("base64") },
      },
      { fieldManager: "local-system" },
    );
    const ccm = playCcmLoop(tenantServer, mgmt);
    stops.push(() => ccm.stop());
    for (const i of instances) log(`bucket ${i.bucket} for ${i.release} on the node's S3 (${s3.podUrl})`);
    return {
      mgmt,
      tenant: tenantServer,
      cluster,
      git,
      flux,
      dir,
      secretsFile,
      onePassword: chain,
      relayKey,
      patchesFile,
      played: [
        `Flux in ${tenant.app}: real (source-, kustomize- and helm-controller), reading this working tree from ${git.url}`,
        ...chain.played,
        `KubeVirt CCM: played (LoadBalancer address ${playedLoadBalancerIp}, a mirror in tenant-root per Service)`,
        `S3: moto on the node (${s3.podUrl}), never the production endpoint (patch); open files ${localNofile}, this machine's limit (patch); a local document-signing key (patch)`,
      ],
      stop: async () => {
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The public host → tenant Service map the played ingress controller routes by. */
export async function relayRoutes(): Promise<Map<string, { namespace: string; service: string; port: string }>> {
  const routes = new Map<string, { namespace: string; service: string; port: string }>();
  for (const i of instances) {
    const svc = (await renderInstance(i)).find((o) => o.kind === "Service")!;
    routes.set(i.host, { namespace: relayNamespace, service: svc.metadata.name, port: "http" });
  }
  return routes;
}
