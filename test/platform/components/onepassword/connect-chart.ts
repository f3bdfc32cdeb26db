// The Connect chart as apps/docs-prod's HelmRelease 1password-operator installs it,
// rendered with the pinned helm from the upstream chart tarball (its Helm repository
// cannot be reached here), so the local operator runs with what the chart gives it:
// its env (WATCH_NAMESPACE, POLLING_INTERVAL, AUTO_RESTART, the token's secretKeyRef)
// and its RBAC. Nothing of the chart is hand-copied.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApp } from "../../../../scripts/lib/apps.ts";
import type { Manifest } from "../../../../scripts/lib/kube.ts";
import { onePassword, tenant } from "../../../../scripts/lib/names.ts";
import { repoRoot } from "../../../../scripts/lib/paths.ts";
import { renderChart } from "../../../../scripts/lib/helm-template.ts";
import { upstreamDir } from "../../build/relay-server.ts";
import { sh } from "../../build/shell.ts";

const cacheDir = join(repoRoot, ".cache/onepassword");

interface HelmRelease {
  metadata: { name: string };
  spec: {
    releaseName?: string;
    targetNamespace?: string;
    chart: { spec: { chart: string; version?: string } };
    values?: Record<string, unknown>;
  };
}

/** The HelmRelease of apps/docs-prod that installs the Connect chart. */
export async function connectHelmRelease(): Promise<HelmRelease> {
  const release = (await buildApp(tenant.appPath)).find(
    (o) => o.kind === "HelmRelease" && (o as unknown as HelmRelease).spec.chart.spec.chart === onePassword.chart.name,
  );
  if (!release)
    throw new Error(`expected a HelmRelease of chart ${onePassword.chart.name} in ${tenant.appPath}; found none`);
  return release as unknown as HelmRelease;
}

/** The chart folder unpacked from ../shared/upstream/connect-chart-<version>.tar.gz, once. */
async function chartDir(version: string): Promise<string> {
  const tarball = join(upstreamDir, `connect-chart-${version}.tar.gz`);
  const dir = join(cacheDir, `connect-helm-charts-connect-${version}`, "charts/connect");
  if (existsSync(join(dir, "Chart.yaml"))) return dir;
  if (!existsSync(tarball))
    throw new Error(
      `expected the upstream chart ${tarball}; it is missing; set RELAY_UPSTREAM_DIR to the folder that holds it`,
    );
  mkdirSync(cacheDir, { recursive: true });
  await sh("tar", ["-xzf", tarball, "-C", cacheDir]);
  if (!existsSync(join(dir, "Chart.yaml"))) throw new Error(`expected ${tarball} to unpack into ${dir}; it did not`);
  return dir;
}

export interface RenderedConnect {
  release: HelmRelease;
  namespace: string;
  objects: Manifest[];
}

/** `helm template` of the chart with the HelmRelease's values, then `overrides` (what this machine changes). */
export async function renderConnectChart(overrides: Record<string, unknown> = {}): Promise<RenderedConnect> {
  const release = await connectHelmRelease();
  const version = release.spec.chart.spec.version ?? onePassword.chart.version;
  const namespace = release.spec.targetNamespace ?? onePassword.namespace;
  const dir = mkdtempSync(join(tmpdir(), "connect-values-"));
  try {
    const files = [join(dir, "release.json"), join(dir, "local.json")];
    writeFileSync(files[0]!, JSON.stringify(release.spec.values ?? {}));
    writeFileSync(files[1]!, JSON.stringify(overrides));
    const objects = await renderChart({
      release: release.spec.releaseName ?? release.metadata.name,
      chart: await chartDir(version),
      namespace,
      valuesFiles: files,
    });
    return { release, namespace, objects };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
