// The GitOps manifests agree with each other and with scripts/lib/names.ts, read
// straight from the files (no kubectl or helm; those checks are in test/chart).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isMap, isPair, isScalar, isSeq, parseAllDocuments, parseDocument, type Document, type Node } from "yaml";
import {
  git,
  management,
  onePassword,
  relayChartPath,
  relayNamespace,
  s3,
  s3CredentialKeys,
  tenant,
} from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import {
  appDirs,
  groupOf,
  ingressFor,
  ingresses,
  isFluxObject,
  manifestFiles,
  named,
  nginxSizeBytes,
  ofKind,
  readKustomization,
  readObjects,
  readYaml,
  relayValues,
  repoPath,
  serverUploadLimitBytes,
  sourceObjects,
  tenantFluxNamespaceSetting,
  vendirConfig,
  vendirDir,
  vendirLock,
  vendoredHelmChart,
  type FluxKustomization,
  type GitRepository,
  type HelmRelease,
  type HelmRepository,
  type KubeObject,
} from "../support/manifests.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const tenantObjects = sourceObjects(tenant.appPath);
const managementObjects = sourceObjects(management.appPath);
const tenantReleases = ofKind<HelmRelease>(tenantObjects, "HelmRelease");

function releaseNamed(name: string): HelmRelease {
  return named(tenantReleases, name, `a HelmRelease in ${tenant.appPath}`);
}

function relayRelease(release: string): HelmRelease {
  return releaseNamed(release);
}

function hostOf(url: string): string {
  return new URL(url).host;
}

/** Parses a Kubernetes quantity (cpu or memory) into a comparable number. */
function quantity(q: string | undefined): number {
  if (q === undefined) return Number.NaN;
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|k|M|G)?$/.exec(q);
  if (!m) return Number.NaN;
  const factor: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] ? factor[m[2]]! : 1);
}

/**
 * The comment written directly above the entry at `path`, from the YAML Document.
 * The yaml package keeps a comment above a collection's first entry on the collection.
 */
function commentAbove(doc: Document, path: (string | number)[]): string {
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1];
  const parent = (parentPath.length ? doc.getIn(parentPath, true) : doc.contents) as Node | undefined;
  let index = -1;
  let own: string | undefined;
  if (isMap(parent)) {
    index = parent.items.findIndex((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
    const pairKey = parent.items[index]?.key;
    own = isScalar(pairKey) ? (pairKey.commentBefore ?? undefined) : undefined;
  } else if (isSeq(parent) && typeof key === "number") {
    index = key;
    own = (parent.items[key] as Node | undefined)?.commentBefore ?? undefined;
  } else {
    return "";
  }
  if (index < 0) return "";
  return own ?? (index === 0 ? (parent.commentBefore ?? "") : "");
}

describe("kustomization.yaml files", () => {
  it.each(appDirs)("%s/kustomization.yaml lists every manifest file in its folder and nothing else", (appDir) => {
    const listed = [...(readKustomization(appDir).resources ?? [])].sort();
    expect(listed).toEqual(manifestFiles(appDir));
  });

  it.each(appDirs)("%s/kustomization.yaml lists each file once", (appDir) => {
    const listed = readKustomization(appDir).resources ?? [];
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("apps/docs-prod holds no plain OnePasswordItem: its CRD only arrives with the Connect chart", () => {
    expect(tenantObjects.filter((o) => groupOf(o) === "onepassword.com")).toEqual([]);
  });
});

describe("the tenant's Flux namespace", () => {
  it("is written once, in apps/docs-prod/kustomization.yaml, and equals names.ts", () => {
    expect(tenantFluxNamespaceSetting()).toBe(tenant.fluxNamespace);
  });

  it("is not contradicted by any Flux object, sourceRef or dependsOn in apps/docs-prod", () => {
    const pinned = tenantObjects.filter(isFluxObject).flatMap((o) => {
      const spec = (o as HelmRelease).spec as Record<string, unknown>;
      const refs: (string | undefined)[] = [
        o.metadata.namespace,
        (spec.sourceRef as { namespace?: string } | undefined)?.namespace,
        (o as HelmRelease).spec.chart?.spec.sourceRef.namespace,
        ...((o as HelmRelease).spec.dependsOn ?? []).map((d) => d.namespace),
      ];
      return refs
        .filter((ns): ns is string => ns !== undefined && ns !== tenant.fluxNamespace)
        .map((ns) => `${o.kind}/${o.metadata.name}: ${ns}`);
    });
    expect(pinned).toEqual([]);
  });

  it("namespace-flux-system.yaml declares flux-system, which Flux never prunes", () => {
    const [ns, ...rest] = readObjects(join(tenant.appPath, "namespace-flux-system.yaml"));
    expect(rest).toEqual([]);
    expect(ns).toMatchObject({
      kind: "Namespace",
      metadata: { name: "flux-system", annotations: { "kustomize.toolkit.fluxcd.io/prune": "disabled" } },
    });
  });
});

describe("apps/docs-prod agrees with names.ts", () => {
  it("declares the relay and 1password namespaces", () => {
    const names = ofKind(tenantObjects, "Namespace").map((n) => n.metadata.name);
    expect(names).toEqual(expect.arrayContaining([relayNamespace, onePassword.namespace]));
  });

  it("GitRepository setup follows this repository's main branch", () => {
    const repo = named(ofKind<GitRepository>(tenantObjects, "GitRepository"), tenant.gitRepository, "a GitRepository");
    expect(repo.apiVersion).toBe("source.toolkit.fluxcd.io/v1");
    expect(repo.spec.url).toBe(git.url);
    expect(repo.spec.ref?.branch).toBe(git.branch);
    expect(repo.spec.interval).toBeTruthy();
  });

  it("Kustomization docs-prod applies ./apps/docs-prod from GitRepository setup with prune and wait", () => {
    const ks = named(
      ofKind<FluxKustomization>(tenantObjects, "Kustomization"),
      tenant.kustomization,
      "a Flux Kustomization",
    );
    expect(ks.apiVersion).toBe("kustomize.toolkit.fluxcd.io/v1");
    expect(ks.spec.path).toBe(`./${tenant.appPath}`);
    expect(ks.spec.sourceRef).toEqual({ kind: "GitRepository", name: tenant.gitRepository });
    expect(ks.spec).toMatchObject({ prune: true, wait: true });
    expect(ks.spec.interval).toBeTruthy();
    expect(ks.spec.timeout).toBeTruthy();
  });

  it("every HelmRelease is helm.toolkit.fluxcd.io/v2 with releaseName equal to its name and explicit target and storage namespaces", () => {
    for (const hr of tenantReleases) {
      expect(hr.apiVersion, hr.metadata.name).toBe("helm.toolkit.fluxcd.io/v2");
      expect(hr.spec.releaseName, hr.metadata.name).toBe(hr.metadata.name);
      expect(hr.spec.targetNamespace, hr.metadata.name).toBeTruthy();
      expect(hr.spec.storageNamespace, hr.metadata.name).toBe(hr.spec.targetNamespace);
    }
  });

  it("every HelmRelease remediates failed installs and upgrades and corrects drift", () => {
    for (const hr of tenantReleases) {
      expect(hr.spec.install?.remediation?.retries, hr.metadata.name).toBeGreaterThan(0);
      expect(hr.spec.upgrade?.remediation?.retries, hr.metadata.name).toBeGreaterThan(0);
      expect(hr.spec.driftDetection?.mode, hr.metadata.name).toBe("enabled");
    }
  });

  it.each(instances)(
    "HelmRelease $release runs ./libs/relay-server at every Git revision with the chart's defaults and its own values file in namespace relay",
    (instance) => {
      const hr = relayRelease(instance.release);
      expect(hr.spec.releaseName).toBe(instance.release);
      expect(hr.spec.targetNamespace).toBe(relayNamespace);
      expect(hr.spec.storageNamespace).toBe(relayNamespace);
      expect(hr.spec.chart.spec).toMatchObject({
        chart: `./${relayChartPath}`,
        reconcileStrategy: "Revision",
        sourceRef: { kind: "GitRepository", name: tenant.gitRepository },
        // Flux uses valuesFiles instead of the chart's values.yaml, not on top of it: without the chart's own
        // file first, every default (the test image, the probes) is missing and the install fails.
        valuesFiles: [`${relayChartPath}/values.yaml`, instance.valuesFile],
      });
    },
  );

  it.each(instances)(
    "HelmRelease $release runs the chart's helm test after each install and upgrade, and a failed test fails the release",
    (instance) => {
      const hr = relayRelease(instance.release);
      expect(hr.spec.test?.enable).toBe(true);
      expect(hr.spec.test?.ignoreFailures ?? false).toBe(false);
    },
  );

  it("the relay releases wait for 1password-secrets, which waits for 1password-operator", () => {
    for (const instance of instances)
      expect(relayRelease(instance.release).spec.dependsOn).toEqual([{ name: "1password-secrets" }]);
    expect(releaseNamed("1password-secrets").spec.dependsOn).toEqual([{ name: "1password-operator" }]);
    expect(releaseNamed("1password-operator").spec.dependsOn ?? []).toEqual([]);
  });

  it("kubeconfig.yaml.op.tpl is the one 1Password reference of the tenant kubeconfig", () => {
    const text = readFileSync(repoPath(tenant.kubeconfigTemplate), "utf8").trim();
    expect(text).toBe(`{{ op://${onePassword.vault}/kubeconfig.yaml/kubeconfig.yaml }}`);
  });
});

describe("cross-references inside each app", () => {
  it("every HelmRelease chart taken from a GitRepository is a chart in this repository", () => {
    const missing = tenantReleases
      .filter((hr) => hr.spec.chart.spec.sourceRef.kind === "GitRepository")
      .map((hr) => hr.spec.chart.spec.chart)
      .filter((path) => !existsSync(repoPath(join(path, "Chart.yaml"))));
    expect(missing, "chart paths without a Chart.yaml").toEqual([]);
  });

  it("every valuesFiles entry exists in this repository", () => {
    const missing = tenantReleases
      .flatMap((hr) => hr.spec.chart.spec.valuesFiles ?? [])
      .filter((f) => !existsSync(repoPath(f)));
    expect(missing).toEqual([]);
  });

  it("every dependsOn names a HelmRelease of apps/docs-prod", () => {
    const names = new Set(tenantReleases.map((hr) => hr.metadata.name));
    const dangling = tenantReleases.flatMap((hr) =>
      (hr.spec.dependsOn ?? []).filter((d) => !names.has(d.name)).map((d) => `${hr.metadata.name} -> ${d.name}`),
    );
    expect(dangling).toEqual([]);
  });

  it.each(appDirs)("every sourceRef in %s names a source declared in the same folder", (appDir) => {
    const objects = appDir === tenant.appPath ? tenantObjects : managementObjects;
    const declared = new Set(
      objects.filter((o) => groupOf(o) === "source.toolkit.fluxcd.io").map((o) => `${o.kind}/${o.metadata.name}`),
    );
    const refs = objects.flatMap((o): { from: string; kind: string; name: string }[] => {
      const spec = (
        o as KubeObject & {
          spec?: {
            sourceRef?: { kind: string; name: string };
            chart?: { spec: { sourceRef: { kind: string; name: string } } };
          };
        }
      ).spec;
      const ref = spec?.sourceRef ?? spec?.chart?.spec.sourceRef;
      return ref ? [{ from: `${o.kind}/${o.metadata.name}`, kind: ref.kind, name: ref.name }] : [];
    });
    expect(refs.length).toBeGreaterThan(0);
    expect(refs.filter((r) => !declared.has(`${r.kind}/${r.name}`))).toEqual([]);
  });
});

describe("1Password", () => {
  const operator = () => releaseNamed("1password-operator");

  it("the Connect chart comes from its Helm repository at exactly the version vendir.yml pins", () => {
    const pin = vendoredHelmChart(onePassword.chart.name).content.helmChart!;
    const chart = operator().spec.chart.spec;
    const repo = named(
      ofKind<HelmRepository>(tenantObjects, "HelmRepository"),
      chart.sourceRef.name,
      "a HelmRepository",
    );
    expect(chart.sourceRef.kind).toBe("HelmRepository");
    expect(chart.chart).toBe(pin.name);
    expect(chart.version).toBe(pin.version);
    expect(repo.spec.url).toBe(pin.repository?.url);
    expect({ name: chart.chart, version: chart.version, repository: repo.spec.url }).toEqual(onePassword.chart);
  });

  it("the Connect release enables the operator and reads the Secrets named in names.ts, in namespace 1password", () => {
    const hr = operator();
    expect(hr.spec.targetNamespace).toBe(onePassword.namespace);
    expect(hr.spec.install?.crds).toBe("CreateReplace");
    expect(hr.spec.upgrade?.crds).toBe("CreateReplace");
    expect(hr.spec.values).toEqual({
      connect: {
        credentialsName: onePassword.credentialsSecret.name,
        credentialsKey: onePassword.credentialsSecret.key,
      },
      operator: { create: true, token: { name: onePassword.tokenSecret.name, key: onePassword.tokenSecret.key } },
    });
  });

  it("1password-secrets renders libs/1password-secrets with one item per relay instance, as names.ts names them", () => {
    const hr = releaseNamed("1password-secrets");
    expect(hr.spec.chart.spec).toMatchObject({
      chart: "./libs/1password-secrets",
      reconcileStrategy: "Revision",
      sourceRef: { kind: "GitRepository", name: tenant.gitRepository },
    });
    expect(hr.spec.values).toEqual({
      items: instances.map((i) => ({ name: i.credentialsSecret, namespace: relayNamespace, itemPath: i.itemPath })),
    });
  });

  it.each(instances)(
    "$release's existingSecret is an OnePasswordItem in the namespace the release runs in",
    (instance) => {
      const items = (releaseNamed("1password-secrets").spec.values as { items: { name: string; namespace?: string }[] })
        .items;
      const values = relayValues(instance);
      const ns = relayRelease(instance.release).spec.targetNamespace;
      expect(items).toContainEqual(
        expect.objectContaining({ name: values.storage?.s3?.existingSecret, namespace: ns }),
      );
    },
  );
});

describe("relay instance values", () => {
  const contract = [
    "relay.url",
    "relay.logging.level",
    "ulimits.nofile",
    "resources",
    "storage.type",
    "storage.s3.region",
    "storage.s3.bucket",
    "storage.s3.endpoint",
    "storage.s3.pathStyle",
    "storage.s3.prefix",
    "storage.s3.presignedUrlExpiration",
    "storage.s3.existingSecret",
    "storage.s3.existingSecretKeys.accessKeyId",
    "storage.s3.existingSecretKeys.secretAccessKey",
    "onePassword.autoRestart",
    "service.type",
    "service.port",
    "image.repository",
    "image.tag",
  ];

  function leafKeys(value: unknown, prefix = ""): string[] {
    if (prefix === "resources") return [prefix];
    if (value === null || typeof value !== "object" || Array.isArray(value)) return [prefix];
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      leafKeys(v, prefix ? `${prefix}.${k}` : k),
    );
  }

  it.each(instances)("$release uses only keys of the chart's values contract", (instance) => {
    expect(leafKeys(relayValues(instance)).filter((k) => !contract.includes(k))).toEqual([]);
  });

  it.each(instances)("$release has its URL, bucket, S3 endpoint and credentials Secret from names.ts", (instance) => {
    const v = relayValues(instance);
    expect(v.relay?.url).toBe(instance.url);
    expect(v.storage?.type).toBe("s3");
    expect(v.storage?.s3).toEqual({
      region: s3.region,
      bucket: instance.bucket,
      endpoint: s3.endpoint,
      pathStyle: s3.pathStyle,
      existingSecret: instance.credentialsSecret,
      existingSecretKeys: {
        accessKeyId: s3CredentialKeys.accessKeyId,
        secretAccessKey: s3CredentialKeys.secretAccessKey,
      },
    });
    expect(v.onePassword?.autoRestart).toBe(true);
    expect(v.service?.type).toBe("LoadBalancer");
  });

  it("each instance has its own bucket and credentials Secret", () => {
    const values = instances.map(relayValues);
    expect(new Set(values.map((v) => v.storage?.s3?.bucket)).size).toBe(instances.length);
    expect(new Set(values.map((v) => v.storage?.s3?.existingSecret)).size).toBe(instances.length);
  });

  it("personal runs with lower resource limits than family (about 100m/256Mi against 500m/512Mi)", () => {
    const personal = relayValues(instances.find((i) => i.name === "personal")!).resources;
    const family = relayValues(instances.find((i) => i.name === "family")!).resources;
    expect(quantity(personal?.limits?.cpu)).toBeCloseTo(0.1);
    expect(quantity(personal?.limits?.memory)).toBe(256 * 2 ** 20);
    expect(quantity(family?.limits?.cpu)).toBeCloseTo(0.5);
    expect(quantity(family?.limits?.memory)).toBe(512 * 2 ** 20);
    expect(quantity(personal?.requests?.cpu)).toBeLessThanOrEqual(quantity(personal?.limits?.cpu));
    expect(quantity(family?.requests?.cpu)).toBeLessThanOrEqual(quantity(family?.limits?.cpu));
  });

  it.each(instances)(
    "$release raises nofile above the runtime's soft 1024, below its hard 524288, and says why",
    (instance) => {
      const nofile = relayValues(instance).ulimits?.nofile;
      expect(nofile).toBeGreaterThan(1024);
      expect(nofile).toBeLessThanOrEqual(524288);
      const doc = parseDocument(readFileSync(repoPath(instance.valuesFile), "utf8"));
      expect(commentAbove(doc, ["ulimits", "nofile"]).length, "a comment above ulimits.nofile").toBeGreaterThan(40);
    },
  );

  it.each(instances)("$release runs the chart's default server (its appVersion): no image of its own", (instance) => {
    expect(relayValues(instance).image).toBeUndefined();
  });

  it.each(instances)("$release promises no JSON logs: the server only logs plain text", (instance) => {
    expect(readFileSync(repoPath(instance.valuesFile), "utf8")).not.toMatch(/json/i);
  });

  it("family gets a higher nofile than personal", () => {
    const [personal, family] = ["personal", "family"].map(
      (n) => relayValues(instances.find((i) => i.name === n)!).ulimits?.nofile ?? 0,
    );
    expect(family).toBeGreaterThan(personal!);
  });
});

describe("apps/docs-infra-prod", () => {
  it("GitRepository and Kustomization docs-infra-prod apply ./apps/docs-infra-prod in the management Flux namespace", () => {
    const repo = named(
      ofKind<GitRepository>(managementObjects, "GitRepository"),
      management.gitRepository,
      "a GitRepository",
    );
    const ks = named(
      ofKind<FluxKustomization>(managementObjects, "Kustomization"),
      management.kustomization,
      "a Flux Kustomization",
    );
    expect(repo.metadata.namespace).toBe(management.fluxNamespace);
    expect(repo.spec.url).toBe(git.url);
    expect(repo.spec.ref?.branch).toBe(git.branch);
    expect(ks.metadata.namespace).toBe(management.fluxNamespace);
    expect(ks.spec.path).toBe(`./${management.appPath}`);
    expect(ks.spec.sourceRef).toEqual({ kind: "GitRepository", name: management.gitRepository });
    expect(ks.spec.prune).toBe(true);
  });

  it("ingress-relay.yaml holds one Ingress per instance, in tenant-root, class tenant-root", () => {
    expect(ingresses()).toHaveLength(instances.length);
    for (const instance of instances) {
      const ing = ingressFor(instance);
      expect(ing.metadata.namespace).toBe(management.tenantNamespace);
      expect(ing.spec.ingressClassName).toBe("tenant-root");
    }
  });

  it.each(instances)("$release's relay.url host is an ingress rule host and a TLS host", (instance) => {
    const host = hostOf(relayValues(instance).relay?.url ?? "");
    const ing = ingressFor(instance);
    expect(ing.spec.rules?.map((r) => r.host)).toContain(host);
    expect(ing.spec.tls?.flatMap((t) => t.hosts ?? [])).toContain(host);
    expect(ing.spec.tls?.every((t) => t.secretName)).toBe(true);
  });

  it.each(instances)(
    "the $release Ingress gets a letsencrypt-prod certificate and WebSocket-friendly nginx settings",
    (instance) => {
      expect(ingressFor(instance).metadata.annotations).toMatchObject({
        "cert-manager.io/cluster-issuer": "letsencrypt-prod",
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
        "nginx.ingress.kubernetes.io/proxy-buffering": "off",
      });
    },
  );

  it.each(instances)(
    "the $release Ingress lets attachment uploads through up to the server's 250 MB limit (ingress-nginx defaults to 1m)",
    (instance) => {
      const size = ingressFor(instance).metadata.annotations?.["nginx.ingress.kubernetes.io/proxy-body-size"];
      expect(size, "nginx.ingress.kubernetes.io/proxy-body-size").toBeDefined();
      expect(nginxSizeBytes(size)).toBeGreaterThanOrEqual(serverUploadLimitBytes);
    },
  );

  it.each(instances)(
    "the $release backend is a marked placeholder or a KubeVirt CCM mirror name, on the values file's service.port",
    (instance) => {
      const backend = ingressFor(instance).spec.rules?.[0]?.http?.paths[0]?.backend.service;
      expect(backend?.name).toMatch(new RegExp(`^(${instance.release}-mirror-unset|a[0-9a-f]{31})$`));
      expect(backend?.port.number).toBe(relayValues(instance).service?.port);
    },
  );

  it("each placeholder backend carries a comment saying sync-ingress fills it in", () => {
    const docs = parseAllDocuments(readFileSync(repoPath(management.ingressFile), "utf8")) as Document[];
    const path = ["spec", "rules", 0, "http", "paths", 0, "backend", "service", "name"];
    for (const doc of docs) {
      const name = String(doc.getIn(path));
      if (name.endsWith("-mirror-unset")) expect(commentAbove(doc, path)).toMatch(/sync-ingress/);
    }
    expect(docs).toHaveLength(instances.length);
  });
});

describe("third_party/vendir", () => {
  const config = vendirConfig();
  const lock = vendirLock();

  it("vendir.yml and vendir.lock.yml are vendir's own Config and LockConfig", () => {
    expect(config).toMatchObject({ apiVersion: "vendir.k14s.io/v1alpha1", kind: "Config" });
    expect(lock).toMatchObject({ apiVersion: "vendir.k14s.io/v1alpha1", kind: "LockConfig" });
  });

  it("pins the Connect chart to the version and repository in names.ts", () => {
    expect(vendoredHelmChart(onePassword.chart.name).content.helmChart).toEqual({
      name: onePassword.chart.name,
      version: onePassword.chart.version,
      repository: { url: onePassword.chart.repository },
    });
  });

  it("declares one directory per chart, charts/<name>, with the chart at its root, as the repository this one continues does", () => {
    for (const dir of config.directories) {
      expect(dir.path).toMatch(/^charts\/[a-z0-9][a-z0-9.-]*$/);
      expect(
        dir.contents.map((c) => c.path),
        dir.path,
      ).toEqual(["."]);
    }
    expect(config.directories.map((d) => d.path)).toContain("charts/1password-connect");
  });

  it("no longer vendors the old relay-server chart: the migration removed it", () => {
    const entries = config.directories.flatMap((d) => d.contents);
    expect(config.directories.map((d) => d.path)).not.toContain("charts/relay-server");
    expect(entries.map((c) => c.path)).not.toContain("relay-server");
    expect(entries.some((c) => c.git?.url === "https://github.com/No-Instructions/relay-server-template")).toBe(false);
  });

  it("the pre-migration copy (for the demo) pins the old chart at a commit, only its guides/kubernetes folder", () => {
    const before = parseDocument(
      readFileSync(repoPath("test/fixtures/vendir/pre-migration/vendir.yml"), "utf8"),
    ).toJS() as typeof config;
    const entries = before.directories.flatMap((d) => d.contents).filter((c) => c.git);
    const relay = entries.find((c) => c.git?.url === "https://github.com/No-Instructions/relay-server-template");
    expect(relay?.git?.ref).toMatch(/^[0-9a-f]{40}$/);
    expect(relay?.includePaths).toEqual(["guides/kubernetes/**"]);
    expect(relay?.newRootPath).toBe("guides/kubernetes");
  });

  it("the lock file has the same entries, with the pinned chart versions and git commits", () => {
    const declared = config.directories.map((d) => ({ path: d.path, contents: d.contents.map((c) => c.path) }));
    const locked = lock.directories.map((d) => ({ path: d.path, contents: d.contents.map((c) => c.path) }));
    expect(locked).toEqual(declared);
    for (const dir of config.directories) {
      const lockedDir = lock.directories.find((d) => d.path === dir.path)!;
      for (const c of dir.contents) {
        const l = lockedDir.contents.find((x) => x.path === c.path)!;
        if (c.helmChart) expect(l.helmChart?.version, c.path).toBe(c.helmChart.version);
        if (c.git) expect(l.git?.sha, c.path).toBe(c.git.ref);
      }
    }
  });

  it("each chart's directory entry in vendir.yml has a comment block directly above it", () => {
    const doc = parseDocument(readFileSync(repoPath(join(vendirDir, "vendir.yml")), "utf8"));
    config.directories.forEach((dir, d) => expect(commentAbove(doc, ["directories", d]), dir.path).not.toBe(""));
  });

  it("keeps vendored contents out of git", () => {
    const ignore = readFileSync(repoPath(join(vendirDir, ".gitignore")), "utf8")
      .split("\n")
      .map((l) => l.trim());
    // A folder pattern ("charts/") covers every chart under it.
    for (const dir of config.directories)
      expect(
        ignore.some((l) => l.endsWith("/") && `${dir.path}/`.startsWith(l)),
        dir.path,
      ).toBe(true);
  });
});

describe("moon tasks of the apps", () => {
  interface MoonFile {
    tasks?: Record<string, { command: string; env?: Record<string, string> }>;
  }

  it("apps/docs-prod offers bootstrap and create-1password-secret, which take the 1Password references from names.ts alone", () => {
    const tasks = readYaml<MoonFile>(join(tenant.appPath, "moon.yml")).tasks ?? {};
    expect(tasks.bootstrap?.command).toBe(
      "$workspaceRoot/scripts/build/node $workspaceRoot/scripts/build/flow.mjs bootstrap --app docs-prod",
    );
    expect(tasks["create-1password-secret"]?.command).toBe(
      "$workspaceRoot/scripts/build/node $workspaceRoot/scripts/build/flow.mjs create-1password-secret",
    );
    // One place for the references: no moon.yml repeats an op:// reference of names.ts.
    const moonText = readFileSync(repoPath(join(tenant.appPath, "moon.yml")), "utf8");
    for (const reference of [onePassword.credentialsReference, onePassword.tokenReference])
      expect(moonText).not.toContain(reference);
    expect(moonText).not.toContain("op://");
  });

  it("apps/docs-infra-prod offers bootstrap and sync-ingress", () => {
    const tasks = readYaml<MoonFile>(join(management.appPath, "moon.yml")).tasks ?? {};
    expect(tasks.bootstrap?.command).toBe(
      "$workspaceRoot/scripts/build/node $workspaceRoot/scripts/build/flow.mjs bootstrap --app docs-infra-prod",
    );
    expect(tasks["sync-ingress"]?.command).toBe(
      "$workspaceRoot/scripts/build/node $workspaceRoot/scripts/build/flow.mjs sync-ingress",
    );
  });

  it("every moon task that runs a flow names one that is bundled", async () => {
    const { flows } = await import("../../scripts/build/bundles.mjs");
    const files = [...appDirs, "libs/relay-server", "third_party/vendir"].map((d) => join(d, "moon.yml"));
    const named = files.flatMap((f) =>
      Object.values(readYaml<MoonFile>(f).tasks ?? {}).flatMap(
        (t) => /scripts\/build\/flow\.mjs (\S+)/.exec(t.command)?.[1] ?? [],
      ),
    );
    expect(named.length).toBeGreaterThanOrEqual(8);
    for (const flow of named) expect(flows).toContain(flow);
  });
});

// Keeps the raw file list honest: a manifest whose YAML does not parse fails here first.
describe("every manifest parses", () => {
  it.each(appDirs.flatMap((d) => manifestFiles(d).map((f) => join(d, f))))("%s", (file) => {
    const objects = readObjects(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) expect(o.metadata?.name, file).toBeTruthy();
  });
});
