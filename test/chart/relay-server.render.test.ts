// What libs/relay-server renders for each value permutation, asserted on the
// parsed objects from the real helm binary.
import { describe, expect, it } from "vitest";
import type {
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1Ingress,
  V1NetworkPolicy,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1Pod,
  V1Secret,
  V1Service,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import { join } from "node:path";
import { defaultServerTag } from "../../scripts/lib/server-versions.ts";
import { fixturesDir, kinds, only, parseRelayToml, render, type RelayToml, type TomlTable } from "../support/chart.ts";
import { nginxSizeBytes, serverUploadLimitBytes } from "../support/manifests.ts";
import type { Manifest } from "../../scripts/lib/kube.ts";

const relayMdKeys = [
  { key_id: "relay_2025_10_22", public_key: "/6OgBTHaRdWLogewMdyE+7AxnI0/HP3WGqRs/bYBlFg=" },
  { key_id: "relay_2025_10_23", public_key: "fbm9JLHrwPpST5HAYORTQR/i1VbZ1kdp2ZEy0XpMbf0=" },
];

function deployment(objects: Manifest[]): V1Deployment {
  return only<V1Deployment>(objects, "Deployment");
}

function container(objects: Manifest[]): V1Container {
  const containers = deployment(objects).spec?.template.spec?.containers ?? [];
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

function relayToml(objects: Manifest[]): RelayToml {
  const text = only<V1ConfigMap>(objects, "ConfigMap").data?.["relay.toml"];
  if (text === undefined) throw new Error("ConfigMap has no relay.toml");
  return parseRelayToml(text);
}

function table(toml: RelayToml, name: string): TomlTable {
  const t = toml[name];
  if (t === undefined || Array.isArray(t)) throw new Error(`relay.toml has no [${name}] table`);
  return t;
}

function env(c: V1Container, name: string) {
  return c.env?.find((e) => e.name === name);
}

describe("relay-server chart defaults", () => {
  it("renders exactly a ServiceAccount, ConfigMap, Service, Deployment and the helm test Pod", async () => {
    const objects = await render();
    expect(kinds(objects)).toEqual(["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]);
  });

  it("runs one replica with the Recreate strategy, so two writers never share the bucket", async () => {
    const d = deployment(await render());
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.strategy).toEqual({ type: "Recreate" });
  });

  it("can be stopped with replicaCount 0", async () => {
    expect(deployment(await render({ values: { replicaCount: 0 } })).spec?.replicas).toBe(0);
  });

  it("pulls the pinned server image, tagged with the chart's appVersion", async () => {
    const c = container(await render());
    expect(c.image).toBe(`docker.system3.md/relay-server:${defaultServerTag()}`);
    expect(c.imagePullPolicy).toBe("IfNotPresent");
  });

  it("passes the public URL as the container argument and works in /app", async () => {
    const c = container(await render({ values: { relay: { url: "https://personal.relay.enigma.vgijssel.nl" } } }));
    expect(c.args).toEqual(["https://personal.relay.enigma.vgijssel.nl"]);
    expect(c.workingDir).toBe("/app");
  });

  it("wraps the entrypoint in sh -c with relay-server as $0 and the default limit of 1024", async () => {
    const c = container(await render());
    expect(c.command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(c.command?.[3]).toBe("relay-server");
    expect(c.command).toHaveLength(4);
    // One command a line, as the template reads.
    const lines = c.command![2]!.split("\n");
    expect(lines[0]).toBe('hard="$(ulimit -Hn)"');
    expect(lines).toContain(
      'ulimit -n 1024 || { echo "relay-server: ulimit -n 1024 failed (hard limit $hard)" >&2; exit 1; }',
    );
    expect(lines.at(-1)).toBe('exec ./run.sh "$@"');
  });

  it("mounts relay.toml from the ConfigMap at /app/relay.toml, and /tmp as an emptyDir", async () => {
    const objects = await render();
    const d = deployment(objects);
    const c = container(objects);
    expect(c.volumeMounts).toContainEqual({
      name: "config",
      mountPath: "/app/relay.toml",
      subPath: "relay.toml",
      readOnly: true,
    });
    expect(c.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
    const volumes = d.spec?.template.spec?.volumes ?? [];
    expect(volumes.find((v) => v.name === "config")?.configMap?.name).toBe(only(objects, "ConfigMap").metadata?.name);
    expect(volumes.find((v) => v.name === "tmp")?.emptyDir).toBeDefined();
  });

  it("probes GET /ready on the named port http (there is no /health), with a startup probe", async () => {
    const c = container(await render());
    expect(c.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      expect(probe?.httpGet).toEqual({ path: "/ready", port: "http" });
      expect(probe?.tcpSocket).toBeUndefined();
    }
    expect(c.startupProbe?.failureThreshold).toBe(60);
    expect(c.livenessProbe?.successThreshold).toBe(1);
  });

  it("stops the server with SIGINT from preStop (it ignores SIGTERM) after the drain pause and one checkpoint interval", async () => {
    const objects = await render();
    const spec = deployment(objects).spec?.template.spec;
    expect(spec?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
    // Defaults: max(preStopSleepSeconds 5, checkpointFreqSeconds 10 + 1).
    expect(container(objects).lifecycle?.preStop?.exec?.command).toEqual(["/bin/sh", "-c", "sleep 11; kill -INT 1"]);
    const longDrain = await render({ values: { preStopSleepSeconds: 30, relay: { checkpointFreqSeconds: 2 } } });
    expect(container(longDrain).lifecycle?.preStop?.exec?.command).toEqual(["/bin/sh", "-c", "sleep 30; kill -INT 1"]);
  });

  it("refuses a grace period that ends before the pause and the server's stop", async () => {
    await expect(render({ values: { terminationGracePeriodSeconds: 21 } })).rejects.toThrow(
      /terminationGracePeriodSeconds \(21\) must exceed the preStop pause \(11 s/,
    );
    await expect(render({ values: { terminationGracePeriodSeconds: 22 } })).resolves.toBeDefined();
  });

  it("meets the restricted profile: non-root fixed UID, no escalation, no capabilities, seccomp, read-only root, no token", async () => {
    const objects = await render();
    const spec = deployment(objects).spec?.template.spec;
    expect(spec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(container(objects).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      runAsNonRoot: true,
    });
    expect(spec?.automountServiceAccountToken).toBe(false);
    expect(only<V1ServiceAccount>(objects, "ServiceAccount").automountServiceAccountToken).toBe(false);
    expect(spec?.serviceAccountName).toBe(only(objects, "ServiceAccount").metadata?.name);
    expect(spec?.enableServiceLinks).toBe(false);
  });

  it("sets a memory limit and no CPU limit", async () => {
    const c = container(await render());
    expect(c.resources?.limits).toEqual({ memory: "512Mi" });
    expect(c.resources?.requests).toEqual({ cpu: "50m", memory: "128Mi" });
  });

  it("exposes a LoadBalancer Service on port 80 to the container port http, named like the chart's fullname", async () => {
    const objects = await render({ release: "relay-personal" });
    const svc = only<V1Service>(objects, "Service");
    expect(svc.metadata?.name).toBe("relay-personal-relay-server");
    expect(svc.spec?.type).toBe("LoadBalancer");
    expect(svc.spec?.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    expect(svc.spec?.loadBalancerClass).toBeUndefined();
    expect(svc.spec?.externalTrafficPolicy).toBeUndefined();
    // The selector matches the pod template and nothing the release does not own.
    expect(svc.spec?.selector).toEqual({
      "app.kubernetes.io/name": "relay-server",
      "app.kubernetes.io/instance": "relay-personal",
    });
    expect(deployment(objects).spec?.template.metadata?.labels).toMatchObject(svc.spec!.selector!);
    expect(deployment(objects).spec?.selector.matchLabels).toEqual(svc.spec?.selector);
  });

  it("sends AWS_REGION as plain env and no credentials when none are configured", async () => {
    const objects = await render();
    const c = container(objects);
    expect(env(c, "AWS_REGION")).toEqual({ name: "AWS_REGION", value: "us-east-1" });
    expect(env(c, "AWS_ACCESS_KEY_ID")).toBeUndefined();
    expect(objects.some((o) => o.kind === "Secret")).toBe(false);
  });

  it("adds no 1Password annotation unless asked", async () => {
    expect(deployment(await render()).metadata?.annotations?.["operator.1password.io/auto-restart"]).toBeUndefined();
  });
});

describe("relay-server relay.toml", () => {
  it("listens on 0.0.0.0 with the port and url from values and stores in S3", async () => {
    const toml = relayToml(await render({ values: { relay: { url: "https://family.relay.enigma.vgijssel.nl" } } }));
    expect(table(toml, "server")).toEqual({
      host: "0.0.0.0",
      port: 8080,
      url: "https://family.relay.enigma.vgijssel.nl",
      checkpoint_freq_seconds: 10,
    });
    expect(table(toml, "store")).toEqual({
      type: "s3",
      bucket: "example-bucket",
      region: "us-east-1",
      path_style: true,
      presigned_url_expiration: 3600,
    });
    expect(toml.metrics).toBeUndefined();
  });

  it("repeats the two Relay.md public keys by default", async () => {
    expect(relayToml(await render()).auth).toEqual(relayMdKeys);
  });

  it("writes no [logging]: the server never applies it (RUST_LOG does)", async () => {
    expect(relayToml(await render()).logging).toBeUndefined();
  });

  it("writes the S3 endpoint, region, path style, prefix and presigned-URL lifetime for an S3-compatible store", async () => {
    const toml = relayToml(
      await render({
        values: {
          storage: {
            s3: {
              endpoint: "https://s3.enigma.vgijssel.nl",
              region: "eu-west-1",
              pathStyle: false,
              bucket: "b-1",
              prefix: "relay-personal/",
              presignedUrlExpiration: 900,
            },
          },
        },
      }),
    );
    expect(table(toml, "store")).toEqual({
      type: "s3",
      bucket: "b-1",
      region: "eu-west-1",
      endpoint: "https://s3.enigma.vgijssel.nl",
      path_style: false,
      prefix: "relay-personal/",
      presigned_url_expiration: 900,
    });
  });

  it("leaves the endpoint out when it is empty, so the server falls back to AWS_ENDPOINT_URL_S3", async () => {
    const objects = await render({ valuesFiles: [join(fixturesDir, "good/s3-shared-bucket.yaml")] });
    expect(table(relayToml(objects), "store").endpoint).toBeUndefined();
    expect(env(container(objects), "AWS_ENDPOINT_URL_S3")).toEqual({
      name: "AWS_ENDPOINT_URL_S3",
      value: "https://objects.example.net",
    });
  });

  it("writes the configured auth keys instead of the defaults", async () => {
    const toml = relayToml(
      await render({ values: { relay: { auth: { publicKeys: [{ keyId: "k1", publicKey: "cGs=" }] } } } }),
    );
    expect(toml.auth).toEqual([{ key_id: "k1", public_key: "cGs=" }]);
  });

  it("adds [metrics] and a container port named metrics when metrics are enabled", async () => {
    const objects = await render({ values: { relay: { metrics: { enabled: true, port: 9100 } } } });
    expect(table(relayToml(objects), "metrics")).toEqual({ port: 9100 });
    expect(container(objects).ports).toContainEqual({ name: "metrics", containerPort: 9100, protocol: "TCP" });
    // The metrics port stays off the public Service unless a ServiceMonitor needs it.
    expect(only<V1Service>(objects, "Service").spec?.ports?.map((p) => p.name)).toEqual(["http"]);
  });

  it("follows relay.port in the toml, the container port and the probes", async () => {
    const objects = await render({ values: { relay: { port: 3000 } } });
    expect(table(relayToml(objects), "server").port).toBe(3000);
    expect(container(objects).ports?.[0]).toEqual({ name: "http", containerPort: 3000, protocol: "TCP" });
  });

  it("escapes strings so odd values stay valid TOML", async () => {
    const toml = relayToml(await render({ values: { storage: { s3: { prefix: 'a "quoted" \\ prefix/' } } } }));
    expect(table(toml, "store").prefix).toBe('a "quoted" \\ prefix/');
  });

  it("changes the pod's checksum annotation when relay.toml changes", async () => {
    const checksum = async (bucket: string) =>
      deployment(await render({ values: { storage: { s3: { bucket } } } })).spec?.template.metadata?.annotations?.[
        "checksum/config"
      ];
    const a = await checksum("bucket-a");
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await checksum("bucket-b")).not.toBe(a);
    expect(await checksum("bucket-a")).toBe(a);
  });
});

describe("relay-server logs", () => {
  it("sets RUST_LOG to relay.logging.level and NO_COLOR=1 by default", async () => {
    const c = container(await render());
    expect(env(c, "RUST_LOG")).toEqual({ name: "RUST_LOG", value: "info" });
    expect(env(c, "NO_COLOR")).toEqual({ name: "NO_COLOR", value: "1" });
  });

  it("passes a filter with directives through RUST_LOG unchanged", async () => {
    const c = container(
      await render({ values: { relay: { logging: { level: "debug,hyper=warn,tower_http=info" } } } }),
    );
    expect(env(c, "RUST_LOG")?.value).toBe("debug,hyper=warn,tower_http=info");
  });

  it("keeps NO_COLOR with the filesystem store and with the plain entrypoint", async () => {
    const c = container(
      await render({
        valuesFiles: [join(fixturesDir, "good/filesystem.yaml")],
        values: { storage: { s3: { bucket: "" } }, ulimits: { nofile: null } },
      }),
    );
    expect(env(c, "NO_COLOR")?.value).toBe("1");
    expect(env(c, "RUST_LOG")?.value).toBe("info");
  });
});

describe("relay-server credentials", () => {
  const inline = { storage: { s3: { accessKeyId: "AKIAINLINETEST", secretAccessKey: "inline-secret-value" } } };

  it("renders a Secret for inline keys and reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from it", async () => {
    const objects = await render({ release: "relay-personal", values: inline });
    const secret = only<V1Secret>(objects, "Secret");
    expect(secret.metadata?.name).toBe("relay-personal-relay-server-s3");
    expect(Buffer.from(secret.data?.accessKeyId ?? "", "base64").toString()).toBe("AKIAINLINETEST");
    expect(Buffer.from(secret.data?.secretAccessKey ?? "", "base64").toString()).toBe("inline-secret-value");
    const c = container(objects);
    expect(env(c, "AWS_ACCESS_KEY_ID")?.valueFrom?.secretKeyRef).toEqual({
      name: "relay-personal-relay-server-s3",
      key: "accessKeyId",
    });
    expect(env(c, "AWS_SECRET_ACCESS_KEY")?.valueFrom?.secretKeyRef).toEqual({
      name: "relay-personal-relay-server-s3",
      key: "secretAccessKey",
    });
    expect(deployment(objects).spec?.template.metadata?.annotations?.["checksum/secret"]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("never puts credentials into the ConfigMap or any object but the Secret", async () => {
    const objects = await render({ values: inline });
    for (const o of objects.filter((o) => o.kind !== "Secret")) {
      const text = JSON.stringify(o);
      expect(text).not.toContain("AKIAINLINETEST");
      expect(text).not.toContain("inline-secret-value");
      expect(text).not.toContain(Buffer.from("inline-secret-value").toString("base64"));
    }
  });

  it("uses an existing Secret with our 1Password key names (accessKey / secretKey) and renders no Secret", async () => {
    const objects = await render({
      values: { storage: { s3: { ...inline.storage.s3, existingSecret: "relay-personal-s3-credentials" } } },
    });
    expect(objects.some((o) => o.kind === "Secret")).toBe(false);
    const c = container(objects);
    expect(env(c, "AWS_ACCESS_KEY_ID")?.valueFrom?.secretKeyRef).toEqual({
      name: "relay-personal-s3-credentials",
      key: "accessKey",
    });
    expect(env(c, "AWS_SECRET_ACCESS_KEY")?.valueFrom?.secretKeyRef).toEqual({
      name: "relay-personal-s3-credentials",
      key: "secretKey",
    });
  });

  it("reads other key names from an existing Secret when configured", async () => {
    const c = container(
      await render({
        values: {
          storage: {
            s3: { existingSecret: "s3", existingSecretKeys: { accessKeyId: "AWS_KEY", secretAccessKey: "AWS_SECRET" } },
          },
        },
      }),
    );
    expect(env(c, "AWS_ACCESS_KEY_ID")?.valueFrom?.secretKeyRef?.key).toBe("AWS_KEY");
    expect(env(c, "AWS_SECRET_ACCESS_KEY")?.valueFrom?.secretKeyRef?.key).toBe("AWS_SECRET");
  });

  it("passes a private key Secret as RELAY_SERVER_AUTH, with its key id", async () => {
    const c = container(
      await render({
        values: { relay: { auth: { privateKeySecret: { name: "relay-key", key: "pk", keyId: "self_1" } } } },
      }),
    );
    expect(env(c, "RELAY_SERVER_AUTH")?.valueFrom?.secretKeyRef).toEqual({ name: "relay-key", key: "pk" });
    expect(env(c, "RELAY_SERVER_KEY_ID")).toEqual({ name: "RELAY_SERVER_KEY_ID", value: "self_1" });
  });

  it("adds the 1Password auto-restart annotation to the Deployment when asked", async () => {
    const d = deployment(await render({ values: { onePassword: { autoRestart: true } } }));
    expect(d.metadata?.annotations?.["operator.1password.io/auto-restart"]).toBe("true");
  });
});

describe("relay-server image", () => {
  const digest = "sha256:" + "ab".repeat(32);

  it("uses an explicit tag", async () => {
    expect(container(await render({ values: { image: { tag: "v0.9.9" } } })).image).toBe(
      "docker.system3.md/relay-server:v0.9.9",
    );
  });

  it("pulls by digest alone when only a digest is set", async () => {
    expect(container(await render({ values: { image: { digest } } })).image).toBe(
      `docker.system3.md/relay-server@${digest}`,
    );
  });

  it("keeps an explicit tag beside the digest", async () => {
    expect(container(await render({ values: { image: { tag: "v0.9.2", digest } } })).image).toBe(
      `docker.system3.md/relay-server:v0.9.2@${digest}`,
    );
  });
});

describe("relay-server open-files limit", () => {
  it("renders the configured limit into the wrapper", async () => {
    const c = container(await render({ values: { ulimits: { nofile: 65536 } } }));
    expect(c.command?.[2]).toContain("ulimit -n 65536 ");
    expect(c.command?.[2]).toContain('[ "$hard" -lt 65536 ]');
  });

  it("renders the plain entrypoint with the URL as the only argument when nofile is null", async () => {
    const c = container(await render({ values: { ulimits: { nofile: null } } }));
    expect(c.command).toBeUndefined();
    expect(c.args).toEqual(["https://relay.example.com"]);
  });
});

describe("relay-server probes", () => {
  it("switches any probe to tcpSocket on port http", async () => {
    const c = container(
      await render({ values: { livenessProbe: { type: "tcpSocket" }, startupProbe: { type: "tcpSocket" } } }),
    );
    expect(c.livenessProbe?.tcpSocket).toEqual({ port: "http" });
    expect(c.livenessProbe?.httpGet).toBeUndefined();
    expect(c.startupProbe?.tcpSocket).toEqual({ port: "http" });
    expect(c.readinessProbe?.httpGet).toEqual({ path: "/ready", port: "http" });
  });

  it("takes every timing from values", async () => {
    const timings = {
      initialDelaySeconds: 7,
      periodSeconds: 11,
      timeoutSeconds: 4,
      failureThreshold: 9,
      successThreshold: 2,
    };
    const c = container(await render({ values: { readinessProbe: timings } }));
    expect(c.readinessProbe).toMatchObject(timings);
  });

  it("drops a disabled probe", async () => {
    const c = container(await render({ values: { startupProbe: { enabled: false } } }));
    expect(c.startupProbe).toBeUndefined();
    expect(c.livenessProbe).toBeDefined();
  });
});

describe("relay-server Service", () => {
  it("takes annotations, loadBalancerClass and externalTrafficPolicy", async () => {
    const svc = only<V1Service>(
      await render({
        values: {
          service: {
            annotations: { "metallb.universe.tf/address-pool": "public" },
            loadBalancerClass: "example.com/lb",
            externalTrafficPolicy: "Local",
            port: 8081,
          },
        },
      }),
      "Service",
    );
    expect(svc.metadata?.annotations).toEqual({ "metallb.universe.tf/address-pool": "public" });
    expect(svc.spec?.loadBalancerClass).toBe("example.com/lb");
    expect(svc.spec?.externalTrafficPolicy).toBe("Local");
    expect(svc.spec?.ports?.[0]?.port).toBe(8081);
  });

  it("allows ClusterIP, without the LoadBalancer-only fields", async () => {
    const svc = only<V1Service>(
      await render({
        values: { service: { type: "ClusterIP", loadBalancerClass: "x", externalTrafficPolicy: "Local" } },
      }),
      "Service",
    );
    expect(svc.spec?.type).toBe("ClusterIP");
    expect(svc.spec?.loadBalancerClass).toBeUndefined();
    expect(svc.spec?.externalTrafficPolicy).toBeUndefined();
  });
});

describe("relay-server pod options", () => {
  it("adds pod annotations, pod labels, extra env, nodeSelector, tolerations and affinity", async () => {
    const objects = await render({ valuesFiles: [join(fixturesDir, "good/full.yaml")] });
    const pod = deployment(objects).spec?.template;
    expect(pod?.metadata?.annotations?.["example.com/scrape"]).toBe("true");
    expect(pod?.metadata?.labels?.team).toBe("docs");
    expect(env(container(objects), "RELAY_SERVER_REDACT_ERRORS")).toEqual({
      name: "RELAY_SERVER_REDACT_ERRORS",
      value: "true",
    });
    expect(pod?.spec?.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    expect(pod?.spec?.tolerations).toEqual([
      { key: "dedicated", operator: "Equal", value: "relay", effect: "NoSchedule" },
    ]);
    expect(pod?.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution).toHaveLength(1);
    expect(pod?.spec?.imagePullSecrets).toEqual([{ name: "regcred" }]);
  });

  it("does not let podLabels override the selector labels", async () => {
    const d = deployment(
      await render({
        release: "relay-family",
        values: { podLabels: { "app.kubernetes.io/instance": "other", team: "docs" } },
      }),
    );
    expect(d.spec?.template.metadata?.labels?.["app.kubernetes.io/instance"]).toBe("relay-family");
    expect(d.spec?.template.metadata?.labels?.team).toBe("docs");
  });

  it("lets a securityContext field be dropped with null", async () => {
    const d = deployment(await render({ values: { podSecurityContext: { fsGroup: null } } }));
    expect(d.spec?.template.spec?.securityContext?.fsGroup).toBeUndefined();
    expect(d.spec?.template.spec?.securityContext?.runAsUser).toBe(10001);
  });

  it("uses an existing ServiceAccount when create is false", async () => {
    const objects = await render({ values: { serviceAccount: { create: false, name: "relay" } } });
    expect(objects.some((o) => o.kind === "ServiceAccount")).toBe(false);
    expect(deployment(objects).spec?.template.spec?.serviceAccountName).toBe("relay");
  });
});

describe("relay-server optional objects", () => {
  it("renders NetworkPolicy, ServiceMonitor, PodDisruptionBudget and Ingress only when enabled", async () => {
    const objects = await render({ valuesFiles: [join(fixturesDir, "good/full.yaml")] });
    expect(kinds(objects)).toEqual([
      "ConfigMap",
      "Deployment",
      "Ingress",
      "NetworkPolicy",
      "Pod",
      "PodDisruptionBudget",
      "Secret",
      "Service",
      "ServiceAccount",
      "ServiceMonitor",
    ]);
  });

  it("limits the NetworkPolicy to http in, metrics from the listed peers, and DNS plus the S3 port out", async () => {
    const objects = await render({ valuesFiles: [join(fixturesDir, "good/full.yaml")] });
    const np = only<V1NetworkPolicy>(objects, "NetworkPolicy");
    expect(np.spec?.podSelector?.matchLabels).toEqual(deployment(objects).spec?.selector.matchLabels);
    expect(np.spec?.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(np.spec?.ingress?.[0]).toEqual({ ports: [{ port: "http", protocol: "TCP" }] });
    expect(np.spec?.ingress?.[1]?.ports).toEqual([{ port: "metrics", protocol: "TCP" }]);
    // Parsed YAML keeps the wire name `from` (the client's type calls it `_from`).
    expect((np.spec?.ingress?.[1] as Record<string, unknown> | undefined)?.from).toEqual([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
    ]);
    expect(np.spec?.egress?.[0]?.ports?.map((p) => p.port)).toEqual([53, 53]);
    // full.yaml's endpoint is http://minio.storage.svc:9000: the port comes from the URL.
    expect(np.spec?.egress?.[1]).toEqual({
      to: [{ ipBlock: { cidr: "0.0.0.0/0" } }],
      ports: [{ port: 9000, protocol: "TCP" }],
    });
  });

  it("allows S3 egress on 443 for an https endpoint without a port", async () => {
    const np = only<V1NetworkPolicy>(
      await render({
        values: { networkPolicy: { enabled: true }, storage: { s3: { endpoint: "https://s3.enigma.vgijssel.nl" } } },
      }),
      "NetworkPolicy",
    );
    expect(np.spec?.egress?.[1]?.ports).toEqual([{ port: 443, protocol: "TCP" }]);
    expect(np.spec?.ingress).toHaveLength(1);
  });

  it("points the ServiceMonitor at the metrics port, which the Service then carries", async () => {
    const objects = await render({ valuesFiles: [join(fixturesDir, "good/full.yaml")] });
    const sm = only(objects, "ServiceMonitor") as Manifest & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
    };
    expect(sm.spec.endpoints).toEqual([{ port: "metrics", path: "/metrics", interval: "30s" }]);
    expect(sm.spec.selector.matchLabels).toEqual(only<V1Service>(objects, "Service").spec?.selector);
    expect(only<V1Service>(objects, "Service").spec?.ports).toContainEqual({
      name: "metrics",
      port: 9100,
      targetPort: "metrics",
      protocol: "TCP",
    });
  });

  it("keeps the PodDisruptionBudget at maxUnavailable 1 so it never blocks a drain", async () => {
    const pdb = only<V1PodDisruptionBudget>(
      await render({ values: { podDisruptionBudget: { enabled: true } } }),
      "PodDisruptionBudget",
    );
    expect(pdb.spec?.maxUnavailable).toBe(1);
    expect(pdb.spec?.minAvailable).toBeUndefined();
  });

  it("routes the Ingress host taken from relay.url to the Service's http port", async () => {
    const objects = await render({
      release: "relay-family",
      values: {
        relay: { url: "https://family.relay.enigma.vgijssel.nl" },
        ingress: { enabled: true, tlsSecretName: "family-tls" },
      },
    });
    const ing = only<V1Ingress>(objects, "Ingress");
    expect(ing.spec?.rules).toEqual([
      {
        host: "family.relay.enigma.vgijssel.nl",
        http: {
          paths: [
            {
              path: "/",
              pathType: "Prefix",
              backend: { service: { name: "relay-family-relay-server", port: { name: "http" } } },
            },
          ],
        },
      },
    ]);
    expect(ing.spec?.tls).toEqual([{ hosts: ["family.relay.enigma.vgijssel.nl"], secretName: "family-tls" }]);
    expect(ing.spec?.ingressClassName).toBeUndefined();
  });

  it("lets the Ingress pass bodies up to the server's 250 MB upload limit, unless an annotation says otherwise", async () => {
    const annotations = async (ingress: Record<string, unknown>) =>
      only<V1Ingress>(await render({ values: { ingress: { enabled: true, ...ingress } } }), "Ingress").metadata
        ?.annotations ?? {};
    const bodySize = (await annotations({}))["nginx.ingress.kubernetes.io/proxy-body-size"];
    expect(nginxSizeBytes(bodySize)).toBeGreaterThanOrEqual(serverUploadLimitBytes);
    expect(
      (await annotations({ annotations: { "nginx.ingress.kubernetes.io/proxy-body-size": "1g" } }))[
        "nginx.ingress.kubernetes.io/proxy-body-size"
      ],
    ).toBe("1g");
    expect((await annotations({ proxyBodySize: "" }))["nginx.ingress.kubernetes.io/proxy-body-size"]).toBeUndefined();
  });
});

describe("relay-server filesystem store", () => {
  const filesystem = {
    valuesFiles: [join(fixturesDir, "good/filesystem.yaml")],
    values: { storage: { s3: { bucket: "" } } },
  };

  it("points [store] at the mounted volume and sends no S3 settings", async () => {
    const objects = await render({ release: "relay-personal", ...filesystem });
    expect(table(relayToml(objects), "store")).toEqual({ type: "filesystem", path: "/data" });
    const c = container(objects);
    expect(c.env?.map((e) => e.name).filter((n) => n.startsWith("AWS_"))).toEqual([]);
    expect(c.volumeMounts).toContainEqual({ name: "data", mountPath: "/data" });
    expect(deployment(objects).spec?.template.spec?.volumes).toContainEqual({
      name: "data",
      persistentVolumeClaim: { claimName: "relay-personal-relay-server-data" },
    });
  });

  it("creates a ReadWriteOnce claim with the size and storage class, kept on uninstall", async () => {
    const pvc = only<V1PersistentVolumeClaim>(
      await render({ release: "relay-personal", ...filesystem }),
      "PersistentVolumeClaim",
    );
    expect(pvc.metadata?.name).toBe("relay-personal-relay-server-data");
    expect(pvc.metadata?.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    expect(pvc.spec).toEqual({
      accessModes: ["ReadWriteOnce"],
      storageClassName: "standard",
      resources: { requests: { storage: "10Gi" } },
    });
  });

  it("mounts an existing claim at the configured path and creates none", async () => {
    const objects = await render({
      valuesFiles: [join(fixturesDir, "good/filesystem-existing-claim.yaml")],
      values: { storage: { s3: { bucket: "" } } },
    });
    expect(objects.some((o) => o.kind === "PersistentVolumeClaim")).toBe(false);
    expect(table(relayToml(objects), "store")).toEqual({ type: "filesystem", path: "/var/lib/relay" });
    expect(container(objects).volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/relay" });
    expect(deployment(objects).spec?.template.spec?.volumes).toContainEqual({
      name: "data",
      persistentVolumeClaim: { claimName: "relay-data" },
    });
  });

  it("stays a single writer: one replica, Recreate, writable by the non-root user through fsGroup under a read-only root", async () => {
    const d = deployment(await render(filesystem));
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.strategy).toEqual({ type: "Recreate" });
    expect(d.spec?.template.spec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      fsGroup: 10001,
    });
    expect(d.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it("drops the S3 egress rule from the NetworkPolicy", async () => {
    const np = only<V1NetworkPolicy>(await render(filesystem), "NetworkPolicy");
    expect(np.spec?.egress).toHaveLength(1);
    expect(np.spec?.egress?.[0]?.ports?.map((p) => p.port)).toEqual([53, 53]);
  });
});

describe("relay-server helm test", () => {
  it("GETs /ready through the Service (its injected env address) with a pinned busybox that meets the restricted profile", async () => {
    const objects = await render({ release: "relay-personal", namespace: "relay" });
    const pod = only<V1Pod>(objects, "Pod");
    expect(pod.metadata?.annotations?.["helm.sh/hook"]).toBe("test");
    const c = pod.spec?.containers[0];
    expect(c?.image).toBe("busybox:1.37.0");
    // Through the Service's ClusterIP from the env variables Kubernetes injects: no cluster DNS needed.
    expect(c?.command).toContain(
      "http://$(RELAY_PERSONAL_RELAY_SERVER_SERVICE_HOST):$(RELAY_PERSONAL_RELAY_SERVER_SERVICE_PORT_HTTP)/ready",
    );
    expect(pod.spec?.enableServiceLinks).toBe(true);
    expect(c?.command?.[0]).toBe("wget");
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(c?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    // Without the selector labels the Service never routes to the test pod.
    const selector = only<V1Service>(objects, "Service").spec?.selector ?? {};
    expect(Object.entries(selector).every(([k, v]) => pod.metadata?.labels?.[k] === v)).toBe(false);
  });
});

describe("relay-server releases side by side", () => {
  it("gives relay-personal and relay-family disjoint names and selectors in one namespace", async () => {
    const everything = { valuesFiles: [join(fixturesDir, "good/full.yaml")] };
    const personal = await render({ release: "relay-personal", ...everything });
    const family = await render({ release: "relay-family", ...everything });
    const ids = (objs: Manifest[]) => objs.map((o) => `${o.kind}/${o.metadata?.name}`);
    const overlap = ids(personal).filter((id) => ids(family).includes(id));
    expect(overlap).toEqual([]);
    const sel = (objs: Manifest[]) => deployment(objs).spec?.selector.matchLabels;
    expect(sel(personal)).not.toEqual(sel(family));
    // Neither Service selects the other release's pods.
    const familyPodLabels = deployment(family).spec?.template.metadata?.labels ?? {};
    const personalSelector = only<V1Service>(personal, "Service").spec?.selector ?? {};
    expect(Object.entries(personalSelector).every(([k, v]) => familyPodLabels[k] === v)).toBe(false);
  });

  it("keeps exactly one Service per release, whatever is enabled", async () => {
    const objects = await render({ valuesFiles: [join(fixturesDir, "good/full.yaml")] });
    expect(objects.filter((o) => o.kind === "Service")).toHaveLength(1);
  });
});
