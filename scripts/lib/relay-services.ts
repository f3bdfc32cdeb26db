// Each relay instance's Service and public host, derived from the chart and the
// instance's values file (never a second hand-written copy of the names).
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { oneLine, OperatorError } from "./errors.ts";
import type { Manifest } from "./kube.ts";
import type { ServicePort } from "./mirrors.ts";
import { relayInstances } from "./instances.ts";
import { relayChartPath, relayNamespace, type RelayInstance } from "./names.ts";
import { repoRoot } from "./paths.ts";
import { helmTemplate, type TemplateOptions } from "./helm-template.ts";
import { toolPath } from "./tools.ts";
import { parseManifests } from "./yaml.ts";

export interface RelayService {
  instance: RelayInstance;
  /** The Service the chart renders, in namespace relay. */
  name: string;
  namespace: string;
  type: string;
  ports: ServicePort[];
  /** The port the relay serves on: the one named "http", else the only one. */
  port: ServicePort;
  /** The ingress host: the host of relay.url in the values file (instances.ts reads it). */
  host: string;
}

interface Rendered {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { type?: string; ports?: ServicePort[] };
}

/** The one Service in `helm template` output for an instance. */
export function serviceFromRendered(text: string, instance: RelayInstance): Omit<RelayService, "host"> {
  const services = (parseManifests(text, `helm template ${instance.release} ${relayChartPath}`) as Rendered[]).filter(
    (o) => o.kind === "Service",
  );
  if (services.length !== 1) {
    throw new OperatorError(
      `expected ${relayChartPath} to render exactly one Service for ${instance.release} (${instance.valuesFile}); it rendered ${services.length}; fix the chart or the values file`,
    );
  }
  const svc = services[0]!;
  const ports = svc.spec?.ports ?? [];
  const port = ports.find((p) => p.name === "http") ?? (ports.length === 1 ? ports[0] : undefined);
  if (!svc.metadata?.name || !port) {
    throw new OperatorError(
      `expected the Service ${relayChartPath} renders for ${instance.release} to have a name and a port named "http"; found name "${svc.metadata?.name ?? ""}" and ports [${ports.map((p) => p.name ?? p.port).join(", ")}]; fix the chart`,
    );
  }
  return {
    instance,
    name: svc.metadata.name,
    namespace: svc.metadata.namespace ?? relayNamespace,
    type: svc.spec?.type ?? "ClusterIP",
    ports,
    port,
  };
}

/** `-f` for the instance's values file and then each extra values file (relay-server's --values), in order. */
export function valuesArgs(instance: RelayInstance, extraValues: readonly string[] = []): string[] {
  return [instance.valuesFile, ...extraValues].flatMap((file) => ["-f", file]);
}

/** How one instance renders, as its HelmRelease renders it (release name, namespace, values file). */
export function instanceTemplate(instance: RelayInstance, extraValues: readonly string[] = []): TemplateOptions {
  return {
    release: instance.release,
    chart: relayChartPath,
    namespace: relayNamespace,
    valuesFiles: [instance.valuesFile, ...extraValues],
  };
}

// One render per instance and process: verify needs the Service and the Deployment,
// and the sync-ingress logic it shares needs the Service again.
const rendered = new Map<string, Promise<string>>();

/** The rendered manifests of one instance, with the pinned helm (extra values files on top of its own). */
export function renderInstanceText(instance: RelayInstance, extraValues: readonly string[] = []): Promise<string> {
  const key = [instance.release, ...extraValues].join("\0");
  let text = rendered.get(key);
  if (!text) {
    text = helmTemplate(instanceTemplate(instance, extraValues)).catch((error: Error) => {
      rendered.delete(key);
      throw new OperatorError(
        `expected helm to render ${relayChartPath} for ${instance.release}; ${oneLine(error.message)}; fix the chart or ${[instance.valuesFile, ...extraValues].join(", ")}`,
      );
    });
    rendered.set(key, text);
  }
  return text;
}

/** The objects of one instance's release, without Helm's test hooks, each with its namespace. */
export async function renderInstance(
  instance: RelayInstance,
  extraValues: readonly string[] = [],
): Promise<Manifest[]> {
  return parseManifests(
    await renderInstanceText(instance, extraValues),
    `helm template ${instance.release} ${relayChartPath}`,
  )
    .filter((o) => !o.metadata.annotations?.["helm.sh/hook"])
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? relayNamespace } }));
}

// Deriving a Service takes a helm render, most of the time of sync-ingress --check.
// What it yields (the Service's name, namespace, type and ports: nothing secret)
// is kept per instance under .cache/, with a hash of
// everything the render reads: each file of the chart, the values file, the release,
// the namespace, and the pinned helm binary. Any change to them renders again.
const serviceCacheDir = join(repoRoot, ".cache/relay-services");

/** The cache key of an instance's render (`chartDir` other than the repository's only in tests). */
export function renderInputsHash(instance: RelayInstance, chartDir = join(repoRoot, relayChartPath)): string {
  const hash = createHash("sha256");
  const helm = statSync(toolPath("helm"));
  hash.update(`${instance.release}\0${relayNamespace}\0${helm.size}\0${helm.mtimeMs}\0`);
  const files = readdirSync(chartDir, { recursive: true, encoding: "utf8" }).sort();
  const inputs: [string, string][] = [
    ...files.map((f): [string, string] => [f, join(chartDir, f)]),
    ["values", resolve(repoRoot, instance.valuesFile)],
  ];
  for (const [name, path] of inputs) {
    if (statSync(path).isFile()) hash.update(`${name}\0`).update(readFileSync(path)).update("\0");
  }
  return hash.digest("hex");
}

type CachedService = Omit<RelayService, "instance" | "host">;

function readCachedService(instance: RelayInstance, key: string): CachedService | undefined {
  try {
    const cached = JSON.parse(readFileSync(join(serviceCacheDir, `${instance.release}.json`), "utf8")) as {
      key?: string;
      service?: CachedService;
    };
    return cached.key === key ? cached.service : undefined;
  } catch {
    return undefined;
  }
}

/** A cache that cannot be written (a read-only checkout) only costs the next run a render. */
function writeCachedService(instance: RelayInstance, key: string, service: CachedService): void {
  const path = join(serviceCacheDir, `${instance.release}.json`);
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(serviceCacheDir, { recursive: true });
    writeFileSync(tmp, JSON.stringify({ key, service }));
    renameSync(tmp, path);
  } catch {
    rmSync(tmp, { force: true });
  }
}

/** The Service the chart renders for one instance, and its public host. */
export async function relayService(instance: RelayInstance): Promise<RelayService> {
  const key = renderInputsHash(instance);
  const cached = readCachedService(instance, key);
  if (cached) return { instance, ...cached, host: instance.host };
  const { instance: _instance, ...service } = serviceFromRendered(await renderInstanceText(instance), instance);
  writeCachedService(instance, key, service);
  return { instance, ...service, host: instance.host };
}

export function relayServices(instances: readonly RelayInstance[] = relayInstances()): Promise<RelayService[]> {
  return Promise.all(instances.map(relayService));
}
