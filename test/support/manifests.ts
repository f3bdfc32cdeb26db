// Reads the GitOps manifests (apps/*, third_party/vendir) and renders the charts
// they deploy, so the unit, chart and integration tiers check the same objects.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDocument, stringify } from "yaml";
import { management, tenant, type RelayInstance } from "../../scripts/lib/names.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { buildApp } from "../../scripts/lib/apps.ts";
import { renderChart } from "../../scripts/lib/helm-template.ts";
import type { Manifest } from "../../scripts/lib/kube.ts";
import { instanceTemplate } from "../../scripts/lib/relay-services.ts";
import { toolPath } from "../../scripts/lib/tools.ts";
import { parseManifests } from "../../scripts/lib/yaml.ts";

/** The engine's object type: what the flows apply and read. */
export type KubeObject = Manifest;

/** The two app folders, repository-relative. */
export const appDirs = [tenant.appPath, management.appPath] as const;

export const fluxGroups = [
  "source.toolkit.fluxcd.io",
  "kustomize.toolkit.fluxcd.io",
  "helm.toolkit.fluxcd.io",
] as const;

export function repoPath(relativePath: string): string {
  return join(repoRoot, relativePath);
}

export function groupOf(obj: Pick<KubeObject, "apiVersion">): string {
  return obj.apiVersion.includes("/") ? obj.apiVersion.split("/")[0]! : "";
}

export function isFluxObject(obj: KubeObject): boolean {
  return (fluxGroups as readonly string[]).includes(groupOf(obj));
}

/** Every YAML document of a file, as plain objects; empty documents dropped. */
export function readObjects(relativePath: string): KubeObject[] {
  const text = readFileSync(repoPath(relativePath), "utf8");
  return parseManifests(text, relativePath);
}

/** One YAML document as a plain value. */
export function readYaml<T>(relativePath: string): T {
  const doc = parseDocument(readFileSync(repoPath(relativePath), "utf8"));
  if (doc.errors.length > 0)
    throw new Error(`expected valid YAML in ${relativePath}; found: ${doc.errors.map((e) => e.message).join("; ")}`);
  return doc.toJS() as T;
}

/** Manifest files directly in an app folder (what kustomization.yaml must list). */
export function manifestFiles(appDir: string): string[] {
  return readdirSync(repoPath(appDir))
    .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml" && f !== "moon.yml")
    .filter((f) => statSync(repoPath(join(appDir, f))).isFile())
    .sort();
}

export interface KustomizeFile {
  resources?: string[];
  patches?: { target?: Record<string, string>; patch?: string; path?: string }[];
  namespace?: string;
}

export function readKustomization(appDir: string): KustomizeFile {
  return readYaml<KustomizeFile>(join(appDir, "kustomization.yaml"));
}

/** Every object of every file listed in an app's kustomization.yaml, before kustomize runs. */
export function sourceObjects(appDir: string): KubeObject[] {
  return (readKustomization(appDir).resources ?? []).flatMap((file) => readObjects(join(appDir, file)));
}

/** An app folder as kustomize builds it, through the engine (as bootstrap and verify build it). */
export function kustomizeBuild(appDir: string): Promise<KubeObject[]> {
  return buildApp(appDir);
}

export interface ChartRun {
  valuesFiles?: string[];
  values?: Record<string, unknown>;
  namespace: string;
}

/** Fails with a clear message when a chart directory holds no chart (yet). */
export function requireChart(chartDir: string): void {
  if (!existsSync(repoPath(join(chartDir, "Chart.yaml")))) {
    throw new Error(
      `expected a Helm chart at ${chartDir} (a Chart.yaml); there is none; the chart has not landed or the path is wrong`,
    );
  }
}

/** A chart rendered by the engine's `helm template`, with values files and values; throws with helm's message when rendering fails. */
export async function helmTemplate(release: string, chartDir: string, opts: ChartRun): Promise<KubeObject[]> {
  requireChart(chartDir);
  const dir = opts.values ? mkdtempSync(join(tmpdir(), "values-")) : undefined;
  try {
    const valuesFiles = (opts.valuesFiles ?? []).map(repoPath);
    if (dir) {
      writeFileSync(join(dir, "values.yaml"), stringify(opts.values));
      valuesFiles.push(join(dir, "values.yaml"));
    }
    return await renderChart({ release, chart: repoPath(chartDir), namespace: opts.namespace, valuesFiles });
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm lint --strict`; returns helm's output, throws with it when lint fails. */
export function helmLint(chartDir: string, opts: ChartRun): string {
  requireChart(chartDir);
  return withValues(opts, (args) =>
    run(
      toolPath("helm"),
      ["lint", "--strict", repoPath(chartDir), "--namespace", opts.namespace, ...args],
      `helm lint --strict ${chartDir}`,
    ),
  );
}

function withValues<T>(opts: ChartRun, body: (args: string[]) => T): T {
  const args = (opts.valuesFiles ?? []).flatMap((f) => ["--values", repoPath(f)]);
  if (!opts.values) return body(args);
  const dir = mkdtempSync(join(tmpdir(), "values-"));
  try {
    const file = join(dir, "values.yaml");
    writeFileSync(file, stringify(opts.values));
    return body([...args, "--values", file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(command: string, args: string[], what: string): string {
  try {
    return execFileSync(command, args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`expected \`${what}\` to succeed; it failed:\n${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

// --- Flux objects -----------------------------------------------------------

export interface SourceRef {
  kind: string;
  name: string;
  namespace?: string;
}

export interface HelmRelease extends KubeObject {
  spec: {
    releaseName?: string;
    targetNamespace?: string;
    storageNamespace?: string;
    dependsOn?: { name: string; namespace?: string }[];
    chart: {
      spec: {
        chart: string;
        version?: string;
        reconcileStrategy?: string;
        sourceRef: SourceRef;
        valuesFiles?: string[];
      };
    };
    install?: { crds?: string; remediation?: { retries?: number } };
    upgrade?: { crds?: string; cleanupOnFail?: boolean; remediation?: { retries?: number } };
    driftDetection?: { mode?: string };
    test?: { enable?: boolean; ignoreFailures?: boolean };
    values?: Record<string, unknown>;
  };
}

export interface FluxKustomization extends KubeObject {
  spec: { interval?: string; timeout?: string; path: string; prune: boolean; wait?: boolean; sourceRef: SourceRef };
}

export interface GitRepository extends KubeObject {
  spec: { interval?: string; url: string; ref?: { branch?: string } };
}

export interface HelmRepository extends KubeObject {
  spec: { interval?: string; url: string };
}

export function ofKind<T extends KubeObject>(objects: readonly KubeObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function named<T extends KubeObject>(objects: readonly T[], name: string, what: string): T {
  const found = objects.find((o) => o.metadata.name === name);
  if (!found)
    throw new Error(
      `expected ${what} named ${name}; found ${objects.map((o) => o.metadata.name).join(", ") || "none"}`,
    );
  return found;
}

/** The namespace the docs-prod kustomization.yaml patch puts every Flux object in. */
export function tenantFluxNamespaceSetting(): string | undefined {
  const patches = readKustomization(tenant.appPath).patches ?? [];
  for (const p of patches) {
    if (!p.target?.group || !p.patch) continue;
    const ops = parseDocument(p.patch).toJS() as { op: string; path: string; value?: unknown }[];
    const op = ops.find((o) => o.path === "/metadata/namespace" && (o.op === "add" || o.op === "replace"));
    if (op && typeof op.value === "string") return op.value;
  }
  return undefined;
}

// --- Relay instances -----------------------------------------------------------

export interface RelayValues {
  relay?: { url?: string; logging?: { level?: string } };
  ulimits?: { nofile?: number | null };
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
  storage?: {
    type?: "s3" | "filesystem";
    s3?: {
      bucket?: string;
      region?: string;
      endpoint?: string;
      pathStyle?: boolean;
      prefix?: string;
      presignedUrlExpiration?: number;
      existingSecret?: string;
      existingSecretKeys?: { accessKeyId?: string; secretAccessKey?: string };
    };
    filesystem?: { path?: string; size?: string; storageClass?: string; existingClaim?: string };
  };
  onePassword?: { autoRestart?: boolean };
  service?: { type?: string; port?: number };
  image?: { repository?: string; tag?: string };
}

export function relayValues(instance: RelayInstance): RelayValues {
  return readYaml<RelayValues>(instance.valuesFile);
}

/** The chart's rendering of one instance, in its namespace, from its values file. */
export function renderRelay(instance: RelayInstance): Promise<KubeObject[]> {
  return renderChart(instanceTemplate(instance));
}

export interface Service extends KubeObject {
  spec: { type?: string; ports: { name?: string; port: number }[] };
}

/** The one Service the chart renders for an instance (what KubeVirt CCM mirrors). */
export async function renderedService(instance: RelayInstance): Promise<Service> {
  const services = ofKind<Service>(await renderRelay(instance), "Service");
  if (services.length !== 1) {
    throw new Error(
      `expected the chart to render exactly one Service for ${instance.release}; it rendered ${services.length}`,
    );
  }
  return services[0]!;
}

export interface Ingress extends KubeObject {
  spec: {
    ingressClassName?: string;
    tls?: { hosts?: string[]; secretName?: string }[];
    rules?: {
      host?: string;
      http?: {
        paths: {
          path?: string;
          pathType?: string;
          backend: { service?: { name: string; port: { number?: number; name?: string } } };
        }[];
      };
    }[];
  };
}

export { nginxSizeBytes, serverUploadLimitBytes } from "../../scripts/lib/relay-storage.ts";

export function ingresses(): Ingress[] {
  return ofKind<Ingress>(readObjects(management.ingressFile), "Ingress");
}

/** The Ingress whose rule serves an instance's host. */
export function ingressFor(instance: RelayInstance): Ingress {
  const found = ingresses().filter((i) => i.spec.rules?.some((r) => r.host === instance.host));
  if (found.length !== 1)
    throw new Error(
      `expected one Ingress for host ${instance.host} in ${management.ingressFile}; found ${found.length}`,
    );
  return found[0]!;
}

// --- vendir -----------------------------------------------------------------------

export const vendirDir = "third_party/vendir";

export interface VendirContent {
  path: string;
  helmChart?: { name: string; version: string; repository?: { url: string } };
  git?: { url: string; ref: string };
  includePaths?: string[];
  newRootPath?: string;
}

export interface VendirConfig {
  apiVersion: string;
  kind: string;
  directories: { path: string; contents: VendirContent[] }[];
}

export interface VendirLockContent {
  path: string;
  helmChart?: { version: string; appVersion?: string };
  git?: { sha: string; commitTitle?: string; tags?: string[] };
}

export interface VendirLock {
  apiVersion: string;
  kind: string;
  directories: { path: string; contents: VendirLockContent[] }[];
}

export function vendirConfig(): VendirConfig {
  return readYaml<VendirConfig>(join(vendirDir, "vendir.yml"));
}

export function vendirLock(): VendirLock {
  return readYaml<VendirLock>(join(vendirDir, "vendir.lock.yml"));
}

export interface VendoredEntry {
  /** Repository-relative folder `vendir sync` fills. */
  dir: string;
  content: VendirContent;
}

export function vendoredEntries(): VendoredEntry[] {
  return vendirConfig().directories.flatMap((d) =>
    d.contents.map((content) => ({ dir: join(vendirDir, d.path, content.path), content })),
  );
}

export function vendoredHelmChart(name: string): VendoredEntry {
  const found = vendoredEntries().filter((e) => e.content.helmChart?.name === name);
  if (found.length !== 1)
    throw new Error(`expected one helmChart entry named ${name} in ${vendirDir}/vendir.yml; found ${found.length}`);
  return found[0]!;
}

/** Why a declared vendored entry cannot be checked, or undefined when it is synced. */
export function notSyncedReason(entry: VendoredEntry): string | undefined {
  if (existsSync(repoPath(entry.dir)) && readdirSync(repoPath(entry.dir)).length > 0) return undefined;
  return `${entry.dir} is declared in ${vendirDir}/vendir.yml but not synced (vendored contents are not committed); run \`vendir sync\` in ${vendirDir} to check it`;
}
