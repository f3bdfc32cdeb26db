// The verification flow against real local API servers, playing Flux's, the
// Deployment controller's, CCM's, the 1Password operator's and cert-manager's
// parts through status subresources; /ready over real TLS on loopback.
import { copyFileSync } from "node:fs";
import { createServer } from "node:net";
import type { Server } from "node:https";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { management, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import {
  type ApiServer,
  type ApiServers,
  client,
  playCcm,
  s3EndpointHosts,
  seedCozystack,
  setFluxReady,
  startApiServers,
} from "../platform/index.ts";
import { localSecretsFile, tempDir } from "../support/files.ts";
import { runFlow, type FlowResult } from "../support/flows.ts";
import { readyServer, s3LikeServer, testCa } from "../support/tls.ts";
import { uploadBodySizeAllowed } from "../../scripts/lib/verify/management.ts";
import { readFileSync } from "node:fs";
import { defaultServerTag, versionOfTag } from "../../scripts/lib/server-versions.ts";
import { parseManifests } from "../../scripts/lib/yaml.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const certificateCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "certificates.cert-manager.io" },
  spec: {
    group: "cert-manager.io",
    scope: "Namespaced",
    names: { kind: "Certificate", plural: "certificates", singular: "certificate", listKind: "CertificateList" },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
      },
    ],
  },
};

let cp: ApiServers;
let mgmt: ApiServer, tenantServer: ApiServer;
let dir: string, ingressFile: string, caFile: string;
let https: Server[] = [];
let readyStatus = 200;
let reportedVersion: string | undefined = versionOfTag(defaultServerTag());
let ingressBefore = "";
const connectTo: string[] = [];
const canary = "canary-verify-secret-value";

const verify = (...args: string[]): Promise<FlowResult> =>
  runFlow(
    "verify",
    [
      "--tenant-kubeconfig",
      tenantServer.kubeconfigPath,
      "--ingress-file",
      ingressFile,
      "--ca-file",
      caFile,
      "--request-timeout",
      "3s",
      ...connectTo.flatMap((c) => ["--connect-to", c]),
      ...args,
    ],
    { KUBECONFIG: mgmt.kubeconfigPath },
  );

beforeAll(async () => {
  cp = await startApiServers([{ name: management.cluster, extraCrds: [certificateCrd] }, { name: tenant.app }]);
  [mgmt, tenantServer] = cp.servers as [ApiServer, ApiServer];
  dir = tempDir("verify-");
  ingressFile = join(dir, "ingress-relay.yaml");
  copyFileSync(join(process.cwd(), management.ingressFile), ingressFile);
  await seedCozystack(mgmt, tenantServer);
  const secrets = localSecretsFile(dir, {
    "op://setup-docs-prod/setup-docs-prod Credentials File/1password-credentials.json": JSON.stringify({
      verifier: canary,
      encCredentials: {},
      version: "2",
      deviceUuid: "d",
      uniqueKey: {},
    }),
    "op://setup-docs-prod/r6ufzahoerausmijqrh6prg3ja/credential": canary,
  });
  const t = client(tenantServer);
  const m = client(mgmt);
  for (const [script, args] of [
    ["bootstrap", ["--app", "docs-prod", "--no-wait", "--secrets-from", "local", "--local-secrets", secrets]],
    ["relay-helm", ["upgrade", "--instance", "personal", "--no-wait"]],
    ["relay-helm", ["upgrade", "--instance", "family", "--no-wait"]],
  ] as const) {
    const r = await runFlow(script, [...args, "--tenant-kubeconfig", tenantServer.kubeconfigPath], {
      KUBECONFIG: mgmt.kubeconfigPath,
    });
    expect(r.code, r.all).toBe(0);
  }
  // Flux: every Kustomization and HelmRelease Ready.
  await setFluxReady(
    tenantServer,
    "Kustomization",
    "kustomize.toolkit.fluxcd.io/v1",
    "flux-system",
    "docs-prod",
    true,
    "Applied revision: main@sha1:abc",
  );
  for (const name of ["1password-operator", "1password-secrets", "relay-personal", "relay-family"]) {
    await setFluxReady(
      tenantServer,
      "HelmRelease",
      "helm.toolkit.fluxcd.io/v2",
      "flux-system",
      name,
      true,
      "Helm install succeeded",
    );
  }
  for (const instance of instances) {
    // The 1Password operator: the S3 credentials Secret with the item's field labels as keys.
    await t.apply(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: relayNamespace, name: instance.credentialsSecret },
        data: { accessKey: Buffer.from(canary).toString("base64"), secretKey: Buffer.from(canary).toString("base64") },
      },
      { fieldManager: "onepassword-operator" },
    );
    const [deployment] = await t.list(
      "apps/v1",
      "Deployment",
      relayNamespace,
      `app.kubernetes.io/instance=${instance.release}`,
    );
    await t.patchStatus(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { namespace: relayNamespace, name: deployment!.metadata!.name! },
      },
      {
        replicas: 1,
        readyReplicas: 1,
        availableReplicas: 1,
        conditions: [
          {
            type: "Available",
            status: "True",
            reason: "MinimumReplicasAvailable",
            message: "Deployment has minimum availability.",
          },
        ],
      },
    );
    // The cloud provider: a LoadBalancer address.
    const [svc] = await t.list("v1", "Service", relayNamespace, `app.kubernetes.io/instance=${instance.release}`);
    await t.patchStatus(
      { apiVersion: "v1", kind: "Service", metadata: { namespace: relayNamespace, name: svc!.metadata!.name! } },
      { loadBalancer: { ingress: [{ ip: "10.0.0.10" }] } },
    );
  }
  await playCcm(tenantServer, mgmt);
  const sync = await runFlow(
    "sync-ingress",
    ["--tenant-kubeconfig", tenantServer.kubeconfigPath, "--ingress-file", ingressFile],
    { KUBECONFIG: mgmt.kubeconfigPath },
  );
  expect(sync.code, sync.all).toBe(0);
  // Flux in the management cluster: the Ingresses as in the file; cert-manager: TLS Secrets and Ready Certificates.
  for (const ingress of parseManifests(readFileSync(ingressFile, "utf8"), ingressFile)) {
    await m.apply(ingress, { fieldManager: "kustomize-controller" });
    const secretName = (ingress.spec as { tls: { secretName: string }[] }).tls[0]!.secretName;
    await m.apply(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: management.tenantNamespace, name: secretName },
        type: "Opaque",
        data: { "tls.crt": "", "tls.key": "" },
      },
      { fieldManager: "cert-manager" },
    );
    await m.apply(
      {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { namespace: management.tenantNamespace, name: secretName },
        spec: { secretName },
      },
      { fieldManager: "cert-manager" },
    );
    await m.patchStatus(
      {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { namespace: management.tenantNamespace, name: secretName },
      },
      {
        conditions: [
          { type: "Ready", status: "True", reason: "Ready", message: "Certificate is up to date and has not expired" },
        ],
      },
    );
  }
  // The relays behind the ingress: HTTPS on loopback with a test CA.
  const ca = testCa(dir);
  caFile = ca.caFile;
  for (const instance of instances) {
    const { server, port } = await readyServer(
      ca.issue([instance.host], instance.name),
      () => readyStatus,
      () => reportedVersion,
    );
    https.push(server);
    connectTo.push(`${instance.host}=127.0.0.1:${port}`);
  }
  // The S3 endpoint of the values files, answering as S3 does (attachments go there by presigned URL).
  for (const host of s3EndpointHosts()) {
    const { server, port } = await s3LikeServer(ca.issue([host], "s3-endpoint"));
    https.push(server);
    connectTo.push(`${host}=127.0.0.1:${port}`);
  }
});
afterAll(async () => {
  for (const s of https) s.close();
  await cp?.stop();
});

describe("verify", () => {
  it("passes every check when everything is in place", async () => {
    const result = await verify();
    expect(result.code, result.all).toBe(0);
    expect(result.stdout).not.toMatch(/✗/);
    expect(result.stdout).toMatch(/✓ Kustomization flux-system\/docs-prod Ready/);
    expect(result.stdout).toMatch(/✓ HelmRelease flux-system\/relay-family Ready/);
    expect(result.stdout).toMatch(/✓ Deployment relay\/\S+ available: 0 pod\(s\), 0 restart\(s\)/);
    expect(result.stdout).toMatch(
      /✓ Secret relay\/relay-personal-s3-credentials \(relay-personal's S3 credentials\) has keys accessKey, secretKey/,
    );
    expect(result.stdout).toMatch(/✓ mirror of Service relay\/\S+ in tenant-root: Service a[0-9a-f]{31}/);
    expect(result.stdout).toMatch(/✓ Certificate tenant-root\/relay-family-tls Ready/);
    expect(result.stdout).toContain(
      `✓ GET https://personal.relay.enigma.vgijssel.nl/ready: 200 with valid TLS, relay-server-version ${versionOfTag(defaultServerTag())}; S3 reachable`,
    );
    expect(result.stdout).toContain(
      `✓ https://family.relay.enigma.vgijssel.nl refuses clients without a token: server ${versionOfTag(defaultServerTag())} answers 401 to a WebSocket without a token (since 0.9.7)`,
    );
    expect(result.stdout).toMatch(
      /✓ attachments of relay-family: S3 endpoint https:\/\/s3.enigma.vgijssel.nl answers over TLS: HTTP 403 with valid TLS \(storage.s3.endpoint\); clients upload and download attachments from this host by presigned URL/,
    );
    expect(result.all).not.toContain(canary);
  });

  it("prints the same checks as JSON and narrows them with --only", async () => {
    const result = await verify("--json", "--only", "network");
    expect(result.code, result.all).toBe(0);
    const parsed = JSON.parse(result.stdout) as { ok: boolean; checks: { scope: string; ok: boolean }[] };
    expect(parsed.ok).toBe(true);
    // /ready and anonymous access of both hosts, and the S3 endpoint of both (S3) instances.
    expect(parsed.checks).toHaveLength(6);
    expect(parsed.checks.every((c) => c.scope === "network")).toBe(true);
  });

  it("names an ingress file that does not exist as such, with what to do, and still checks the rest", async () => {
    const missing = join(dir, "no-such-ingress.yaml");
    const result = await runFlow(
      "verify",
      ["--only", "management", "--tenant-kubeconfig", tenantServer.kubeconfigPath, "--ingress-file", missing],
      { KUBECONFIG: mgmt.kubeconfigPath },
    );
    expect(result.code, result.all).toBe(1);
    expect(result.stdout).toContain(
      `✗ ingress file ${missing}: cannot be read: it does not exist (ENOENT)\n    next: pass an existing, readable ingress file with --ingress-file`,
    );
    expect(result.stdout).not.toContain("fix access to the cluster");
    expect(result.stdout).toMatch(/✓ mirror of Service relay\/\S+ in tenant-root: Service a[0-9a-f]{31}/);
  });

  const t = () => client(tenantServer);
  const m = () => client(mgmt);
  it.each([
    [
      "the root Kustomization is not Ready",
      "tenant",
      () =>
        setFluxReady(
          tenantServer,
          "Kustomization",
          "kustomize.toolkit.fluxcd.io/v1",
          "flux-system",
          "docs-prod",
          false,
          "kustomize build failed",
        ),
      /✗ Kustomization flux-system\/docs-prod Ready: ReconciliationFailed: kustomize build failed\n    next: see Flux's events/,
      () =>
        setFluxReady(
          tenantServer,
          "Kustomization",
          "kustomize.toolkit.fluxcd.io/v1",
          "flux-system",
          "docs-prod",
          true,
          "ok",
        ),
    ],
    [
      "a HelmRelease failed",
      "tenant",
      () =>
        setFluxReady(
          tenantServer,
          "HelmRelease",
          "helm.toolkit.fluxcd.io/v2",
          "flux-system",
          "relay-family",
          false,
          "install retries exhausted",
        ),
      /✗ HelmRelease flux-system\/relay-family Ready: ReconciliationFailed: install retries exhausted/,
      () =>
        setFluxReady(
          tenantServer,
          "HelmRelease",
          "helm.toolkit.fluxcd.io/v2",
          "flux-system",
          "relay-family",
          true,
          "ok",
        ),
    ],
    [
      "a relay Pod is crash-looping",
      "tenant",
      async () => {
        const [deployment] = await t().list(
          "apps/v1",
          "Deployment",
          relayNamespace,
          "app.kubernetes.io/instance=relay-family",
        );
        const name = deployment!.metadata!.name!;
        await t().patchStatus(
          { apiVersion: "apps/v1", kind: "Deployment", metadata: { namespace: relayNamespace, name } },
          {
            readyReplicas: 0,
            availableReplicas: 0,
            conditions: [
              {
                type: "Available",
                status: "False",
                reason: "MinimumReplicasUnavailable",
                message: "Deployment does not have minimum availability.",
              },
            ],
          },
        );
        const pod = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: {
            namespace: relayNamespace,
            name: "relay-family-crashing",
            labels: { "app.kubernetes.io/name": "relay-server", "app.kubernetes.io/instance": "relay-family" },
          },
          spec: { containers: [{ name: "relay-server", image: "docker.system3.md/relay-server:v0.9.2" }] },
        };
        await t().apply(pod, { fieldManager: "kubelet" });
        await t().patchStatus(pod, {
          phase: "Running",
          containerStatuses: [
            {
              name: "relay-server",
              image: "relay",
              imageID: "",
              ready: false,
              restartCount: 5,
              state: { waiting: { reason: "CrashLoopBackOff" } },
            },
          ],
        });
      },
      /✗ Deployment relay\/relay-family-relay-server available: MinimumReplicasUnavailable: Deployment does not have minimum availability.; 1 pod\(s\), 5 restart\(s\), relay-family-crashing in CrashLoopBackOff\n    next: read the pod's log/,
      async () => {
        await t().request("DELETE", "/api/v1/namespaces/relay/pods/relay-family-crashing");
        const [deployment] = await t().list(
          "apps/v1",
          "Deployment",
          relayNamespace,
          "app.kubernetes.io/instance=relay-family",
        );
        await t().patchStatus(
          {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { namespace: relayNamespace, name: deployment!.metadata!.name! },
          },
          {
            replicas: 1,
            readyReplicas: 1,
            availableReplicas: 1,
            conditions: [{ type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "ok" }],
          },
        );
      },
    ],
    [
      "a Secret lacks a key",
      "tenant",
      () =>
        t().request(
          "PATCH",
          "/api/v1/namespaces/relay/secrets/relay-family-s3-credentials",
          { data: { secretKey: null } },
          "application/merge-patch+json",
        ),
      /✗ Secret relay\/relay-family-s3-credentials \(relay-family's S3 credentials\) has keys accessKey, secretKey: missing secretKey; has accessKey/,
      () =>
        t().request(
          "PATCH",
          "/api/v1/namespaces/relay/secrets/relay-family-s3-credentials",
          { data: { secretKey: "eA==" } },
          "application/merge-patch+json",
        ),
    ],
    [
      "a LoadBalancer has no address",
      "tenant",
      async () =>
        t().patchStatus(
          {
            apiVersion: "v1",
            kind: "Service",
            metadata: {
              namespace: relayNamespace,
              name: (await t().list("v1", "Service", relayNamespace, "app.kubernetes.io/instance=relay-personal"))[0]!
                .metadata!.name!,
            },
          },
          { loadBalancer: { ingress: null } },
        ),
      /✗ Service relay\/\S+ has a LoadBalancer address: no address yet\n    next: check that KubeVirt CCM runs/,
      async () =>
        t().patchStatus(
          {
            apiVersion: "v1",
            kind: "Service",
            metadata: {
              namespace: relayNamespace,
              name: (await t().list("v1", "Service", relayNamespace, "app.kubernetes.io/instance=relay-personal"))[0]!
                .metadata!.name!,
            },
          },
          { loadBalancer: { ingress: [{ ip: "10.0.0.10" }] } },
        ),
    ],
    [
      "a mirror is missing",
      "management",
      async () => {
        const [mirror] = await m().list(
          "v1",
          "Service",
          management.tenantNamespace,
          "cluster.x-k8s.io/tenant-service-name=relay-family-relay-server",
        );
        await m().request("DELETE", `/api/v1/namespaces/tenant-root/services/${mirror!.metadata!.name}`);
      },
      /✗ mirror of Service relay\/relay-family\S* in tenant-root: .*no mirror/i,
      () => playCcm(tenantServer, mgmt),
    ],
    [
      "an ingress backend is stale",
      "management",
      async () => {
        const text = readFileSync(ingressFile, "utf8");
        const [mirror] = await m().list(
          "v1",
          "Service",
          management.tenantNamespace,
          "cluster.x-k8s.io/tenant-service-name=relay-family-relay-server",
        );
        (await import("node:fs")).writeFileSync(
          ingressFile,
          text.replace(mirror!.metadata!.name!, "a0000000000000000000000000000000"),
        );
      },
      /✗ \S*ingress-relay.yaml backends match the mirrors: stale: family.relay.enigma.vgijssel.nl/,
      () =>
        runFlow("sync-ingress", ["--tenant-kubeconfig", tenantServer.kubeconfigPath, "--ingress-file", ingressFile], {
          KUBECONFIG: mgmt.kubeconfigPath,
        }),
    ],
    [
      "an instance has no rule in the ingress file",
      "management",
      async () => {
        ingressBefore = readFileSync(ingressFile, "utf8");
        (await import("node:fs")).writeFileSync(
          ingressFile,
          ingressBefore.replaceAll("family.relay.enigma.vgijssel.nl", "other.app.enigma.vgijssel.nl"),
        );
      },
      /✗ Ingress rule for family.relay.enigma.vgijssel.nl: expected an Ingress rule for family.relay.enigma.vgijssel.nl \(relay instance relay-family\) in \S*ingress-relay.yaml; found none/,
      async () => (await import("node:fs")).writeFileSync(ingressFile, ingressBefore),
    ],
    [
      "a TLS Secret is missing",
      "management",
      () => m().request("DELETE", "/api/v1/namespaces/tenant-root/secrets/relay-personal-tls"),
      /✗ TLS Secret tenant-root\/relay-personal-tls for personal.relay.enigma.vgijssel.nl: not found/,
      () =>
        m().apply(
          {
            apiVersion: "v1",
            kind: "Secret",
            metadata: { namespace: "tenant-root", name: "relay-personal-tls" },
            data: { "tls.crt": "" },
          },
          { fieldManager: "cert-manager" },
        ),
    ],
    [
      "/ready fails",
      "network",
      async () => void (readyStatus = 503),
      /✗ GET https:\/\/personal.relay.enigma.vgijssel.nl\/ready: HTTP 503/,
      async () => void (readyStatus = 200),
    ],
    [
      "a host runs a server that lets clients without a token in (0.9.6)",
      "network",
      async () => void (reportedVersion = "0.9.6"),
      new RegExp(
        `✗ https://personal.relay.enigma.vgijssel.nl refuses clients without a token: server 0.9.6 gives a WebSocket without a token full access to any document \\(fixed in 0.9.7\\)\n    next: set image.tag in apps/docs-prod/relay-personal/values.yaml to ${defaultServerTag()} \\(or remove it: the chart's appVersion\\), then upgrade`,
      ),
      async () => void (reportedVersion = versionOfTag(defaultServerTag())),
    ],
    [
      "a host reports no release, so verify cannot tell (and does not try)",
      "network",
      async () => void (reportedVersion = undefined),
      /✗ https:\/\/family.relay.enigma.vgijssel.nl refuses clients without a token: the server reports no release \(relay-server-version: no header\), so verify cannot tell, and it does not try/,
      async () => void (reportedVersion = versionOfTag(defaultServerTag())),
    ],
  ])("fails when %s, with the reason and what to do", async (_what, only, breakIt, message, repair) => {
    await breakIt();
    try {
      const result = await verify("--only", only);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(message);
      expect(result.stdout).toMatch(/[12] of \d+ checks failed/);
    } finally {
      await repair();
    }
  });

  it("fails on a certificate the CA did not sign for the host", async () => {
    const result = await runFlow("verify", [
      "--only",
      "network",
      "--request-timeout",
      "3s",
      ...connectTo.flatMap((c) => ["--connect-to", c]),
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✗ GET https:\/\/personal.relay.enigma.vgijssel.nl\/ready: TLS not valid/);
    expect(result.stdout).toMatch(
      /✗ attachments of relay-personal: S3 endpoint https:\/\/s3.enigma.vgijssel.nl answers over TLS: TLS not valid: \S+ .*\n    next: clients upload and download attachments from this host by presigned URL, so it needs a certificate they trust/,
    );
  });

  it("fails honestly when nothing listens", async () => {
    const result = await runFlow("verify", [
      "--only",
      "network",
      "--request-timeout",
      "2s",
      ...["personal.relay.enigma.vgijssel.nl", "family.relay.enigma.vgijssel.nl", ...s3EndpointHosts()].flatMap((h) => [
        "--connect-to",
        `${h}=127.0.0.1:1`,
      ]),
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✗ GET https:\/\/family.relay.enigma.vgijssel.nl\/ready: no answer: ECONNREFUSED/);
    expect(result.stdout).toMatch(
      /✗ attachments of relay-family: S3 endpoint https:\/\/s3.enigma.vgijssel.nl answers over TLS: no answer: ECONNREFUSED.*\n    next: clients upload and download attachments from this host by presigned URL, so it must be reachable from the internet, not only from the cluster: check DNS for s3.enigma.vgijssel.nl, that S3 listens on port 443/,
    );
    expect(result.stdout).toMatch(/^4 of 4 checks failed$/m);
  });

  it("says when the S3 endpoint accepts the connection but gives no answer within the timeout", async () => {
    // TCP accepts, TLS never starts: the request times out.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const port = (silent.address() as { port: number }).port;
      const result = await runFlow("verify", [
        "--only",
        "network",
        "--request-timeout",
        "1s",
        "--ca-file",
        caFile,
        ...connectTo.filter((c) => !c.startsWith("s3.")).flatMap((c) => ["--connect-to", c]),
        ...s3EndpointHosts().flatMap((h) => ["--connect-to", `${h}=127.0.0.1:${port}`]),
      ]);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(
        /✗ attachments of relay-personal: S3 endpoint https:\/\/s3.enigma.vgijssel.nl answers over TLS: no answer: .*no answer within 1 s/,
      );
      expect(result.stdout).toMatch(/^2 of 6 checks failed$/m);
    } finally {
      silent.close();
    }
  });

  describe("with the filesystem store, the live Ingress takes uploads up to the server's 250 MB", () => {
    const family = instances.find((i) => i.name === "family")!;
    const annotate = (size: string | null) =>
      client(mgmt).request(
        "PATCH",
        "/apis/networking.k8s.io/v1/namespaces/tenant-root/ingresses/relay-family",
        { metadata: { annotations: { "nginx.ingress.kubernetes.io/proxy-body-size": size } } },
        "application/merge-patch+json",
      );
    afterAll(() => annotate("250m"));

    it.each([
      ["250m", "nginx.ingress.kubernetes.io/proxy-body-size 250m, at least the server's 250 MB per file"],
      ["0", "nginx.ingress.kubernetes.io/proxy-body-size 0 (no limit), at least the server's 250 MB per file"],
      ["1g", "nginx.ingress.kubernetes.io/proxy-body-size 1g, at least the server's 250 MB per file"],
    ])("passes with %s", async (size, detail) => {
      await annotate(size);
      expect(await uploadBodySizeAllowed(client(mgmt), family)).toEqual({
        ok: true,
        name: "attachments of relay-family (filesystem store): Ingress tenant-root/relay-family takes uploads up to 250 MB",
        detail,
      });
    });

    it.each([
      [
        null,
        /^no nginx.ingress.kubernetes.io\/proxy-body-size annotation: ingress-nginx refuses bodies over 1m, so larger attachment uploads fail with HTTP 413$/,
      ],
      ["10m", /^nginx.ingress.kubernetes.io\/proxy-body-size is 10m, below the server's 250 MB per file/],
      ["250MB", /^nginx.ingress.kubernetes.io\/proxy-body-size is "250MB", not an nginx size/],
    ])("fails with %s, naming the annotation", async (size, detail) => {
      await annotate(size);
      const result = await uploadBodySizeAllowed(client(mgmt), family);
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(detail);
      expect(result.next).toBe(
        "set nginx.ingress.kubernetes.io/proxy-body-size: 250m on that Ingress in apps/docs-infra-prod/ingress-relay.yaml and commit it (uploads go through the relay with the filesystem store)",
      );
    });

    it("fails when no live Ingress serves the host", async () => {
      const result = await uploadBodySizeAllowed(client(mgmt), { ...family, host: "other.relay.enigma.vgijssel.nl" });
      expect(result).toMatchObject({
        ok: false,
        detail: "no Ingress in tenant-root serves other.relay.enigma.vgijssel.nl",
      });
    });
  });
});
