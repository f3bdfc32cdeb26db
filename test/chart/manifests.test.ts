// The GitOps manifests as Flux and Helm will see them: built with the pinned
// kubectl, the relay chart rendered and linted with each instance's values file.
import { describe, expect, it } from "vitest";
import {
  management,
  onePassword,
  relayChartPath,
  relayNamespace,
  s3CredentialKeys,
  tenant,
} from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { defaultServerTag } from "../../scripts/lib/server-versions.ts";
import {
  appDirs,
  groupOf,
  helmLint,
  helmTemplate,
  ingressFor,
  isFluxObject,
  kustomizeBuild,
  notSyncedReason,
  ofKind,
  relayValues,
  renderedService,
  renderRelay,
  vendoredEntries,
  vendoredHelmChart,
  type HelmRelease,
  type KubeObject,
} from "../support/manifests.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const fluxNamespaceOf: Record<string, string> = {
  [tenant.appPath]: tenant.fluxNamespace,
  [management.appPath]: management.fluxNamespace,
};

describe("kustomize builds", () => {
  it.each(appDirs)("%s builds with the pinned kubectl", async (appDir) => {
    expect((await kustomizeBuild(appDir)).length).toBeGreaterThan(0);
  });

  it.each(appDirs)("every Flux object of %s lands in its cluster's Flux namespace", async (appDir) => {
    const misplaced = (await kustomizeBuild(appDir))
      .filter(isFluxObject)
      .filter((o) => o.metadata.namespace !== fluxNamespaceOf[appDir])
      .map((o) => `${o.kind}/${o.metadata.name} in ${o.metadata.namespace ?? "(none)"}`);
    expect(misplaced).toEqual([]);
  });

  it.each(appDirs)(
    "every sourceRef and dependsOn of %s resolves to an object in the same namespace",
    async (appDir) => {
      const built = await kustomizeBuild(appDir);
      const key = (kind: string, ns: string | undefined, name: string) => `${kind}/${ns}/${name}`;
      const present = new Set(built.map((o) => key(o.kind, o.metadata.namespace, o.metadata.name)));
      const dangling: string[] = [];
      for (const o of built.filter(isFluxObject)) {
        const ns = o.metadata.namespace;
        const spec = (o as KubeObject & { spec: Record<string, unknown> }).spec;
        const sourceRef = (spec.sourceRef ?? (o as HelmRelease).spec.chart?.spec.sourceRef) as
          { kind: string; name: string; namespace?: string } | undefined;
        if (sourceRef && !present.has(key(sourceRef.kind, sourceRef.namespace ?? ns, sourceRef.name))) {
          dangling.push(
            `${o.kind}/${o.metadata.name} -> ${sourceRef.kind}/${sourceRef.namespace ?? ns}/${sourceRef.name}`,
          );
        }
        for (const dep of (o as HelmRelease).spec.dependsOn ?? []) {
          if (!present.has(key(o.kind, dep.namespace ?? ns, dep.name)))
            dangling.push(`${o.kind}/${o.metadata.name} dependsOn ${dep.namespace ?? ns}/${dep.name}`);
        }
      }
      expect(dangling).toEqual([]);
    },
  );

  it("the build of apps/docs-prod holds no OnePasswordItem, so a fresh cluster can apply it", async () => {
    expect((await kustomizeBuild(tenant.appPath)).filter((o) => groupOf(o) === "onepassword.com")).toEqual([]);
  });

  it("the build of apps/docs-prod keeps every Namespace's own name", async () => {
    const names = ofKind(await kustomizeBuild(tenant.appPath), "Namespace")
      .map((n) => n.metadata.name)
      .sort();
    expect(names).toEqual([onePassword.namespace, "flux-system", relayNamespace].sort());
  });
});

describe.each(instances)("relay instance $release", (instance) => {
  it("passes helm lint --strict with its values file (schema included)", () => {
    expect(() =>
      helmLint(relayChartPath, { valuesFiles: [instance.valuesFile], namespace: relayNamespace }),
    ).not.toThrow();
  });

  it("renders exactly one Service, of type LoadBalancer, for KubeVirt CCM to mirror", async () => {
    expect((await renderedService(instance)).spec.type).toBe("LoadBalancer");
  });

  it("its Ingress backend port equals the port of the Service the chart renders", async () => {
    const ports = (await renderedService(instance)).spec.ports.map((p) => p.port);
    const backend = ingressFor(instance).spec.rules?.[0]?.http?.paths[0]?.backend.service;
    expect(ports).toContain(backend?.port.number);
  });

  it("its Deployment reads the S3 keys from the OnePasswordItem's Secret and restarts when they rotate", async () => {
    const deployments = ofKind<
      KubeObject & {
        spec: {
          template: {
            spec: { containers: { env?: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[] };
          };
        };
      }
    >(await renderRelay(instance), "Deployment");
    expect(deployments).toHaveLength(1);
    const deployment = deployments[0]!;
    const refs = deployment.spec.template.spec.containers
      .flatMap((c) => c.env ?? [])
      .flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    expect(refs).toEqual(
      expect.arrayContaining([
        { name: instance.credentialsSecret, key: s3CredentialKeys.accessKeyId },
        { name: instance.credentialsSecret, key: s3CredentialKeys.secretAccessKey },
      ]),
    );
    expect(deployment.metadata.annotations?.["operator.1password.io/auto-restart"]).toBe("true");
  });

  it("renders the server image its values file names, else the chart's default (appVersion)", async () => {
    const images = JSON.stringify((await renderRelay(instance)).filter((o) => o.kind === "Deployment"));
    const { repository = "docker.system3.md/relay-server", tag = defaultServerTag() } =
      relayValues(instance).image ?? {};
    expect(images).toContain(`"${repository}:${tag}"`);
  });
});

describe("vendored charts", () => {
  const helmCharts = vendoredEntries().filter((e) => e.content.helmChart);

  it.for(helmCharts.map((e) => [e.dir, e] as const))("%s lints when it has been synced", ([, entry], ctx) => {
    const reason = notSyncedReason(entry);
    if (reason) ctx.skip(reason);
    expect(() => helmLint(entry.dir, { namespace: "default" })).not.toThrow();
  });

  it("the synced Connect chart renders the operator with the Secrets apps/docs-prod names", async (ctx) => {
    const entry = vendoredHelmChart(onePassword.chart.name);
    const reason = notSyncedReason(entry);
    if (reason) ctx.skip(reason);
    const release = ofKind<HelmRelease>(await kustomizeBuild(tenant.appPath), "HelmRelease").find(
      (hr) => hr.spec.chart.spec.chart === onePassword.chart.name,
    )!;
    const rendered = JSON.stringify(
      await helmTemplate(release.spec.releaseName!, entry.dir, {
        values: release.spec.values,
        namespace: onePassword.namespace,
      }),
    );
    expect(rendered).toContain(onePassword.credentialsSecret.name);
    expect(rendered).toContain(onePassword.tokenSecret.name);
  });
});
