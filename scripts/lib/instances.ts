// The relay instances, read from the manifests Flux deploys, never from a list in
// code: each HelmRelease of apps/docs-prod whose chart is libs/relay-server, its
// own values file (the last of its valuesFiles), what that file says (relay.url,
// the bucket and the credentials Secret), and the OnePasswordItem that writes that
// Secret (HelmRelease 1password-secrets). A new instance is manifests only.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { OperatorError } from "./errors.ts";
import type { Manifest } from "./kube.ts";
import { instanceName, onePassword, relayChartPath, type RelayInstance, tenant } from "./names.ts";
import { repoRoot } from "./paths.ts";
import { parseManifests, throwYamlError } from "./yaml.ts";

interface HelmRelease extends Manifest {
  spec?: {
    releaseName?: string;
    chart?: { spec?: { chart?: string; valuesFiles?: string[] } };
    values?: { items?: { name?: string; itemPath?: string }[] };
  };
}

interface RelayValues {
  relay?: { url?: string };
  storage?: { type?: string; s3?: { bucket?: string; existingSecret?: string } };
}

function readYaml<T>(root: string, path: string): T {
  let text: string;
  try {
    text = readFileSync(join(root, path), "utf8");
  } catch {
    throw new OperatorError(
      `expected ${path} (the relay instances are read from apps/docs-prod); it cannot be read; restore it`,
    );
  }
  const doc = parseDocument(text);
  throwYamlError(text, path, doc.errors);
  return (doc.toJS() ?? {}) as T;
}

/** The objects of apps/docs-prod's kustomization.yaml resources, as written (before kustomize). */
function appObjects(root: string): HelmRelease[] {
  const resources =
    readYaml<{ resources?: string[] }>(root, join(tenant.appPath, "kustomization.yaml")).resources ?? [];
  return resources.flatMap((file) => {
    const path = join(tenant.appPath, file);
    return parseManifests(readFileSync(join(root, path), "utf8"), path) as HelmRelease[];
  });
}

const chartOf = (hr: HelmRelease) => hr.spec?.chart?.spec?.chart?.replace(/^\.\//, "");

/** One instance from its HelmRelease and values file; an incomplete one fails in one line naming the file. */
function instanceOf(root: string, hr: HelmRelease, items: Map<string, string>): RelayInstance {
  const release = hr.spec?.releaseName ?? hr.metadata.name;
  const own = (hr.spec?.chart?.spec?.valuesFiles ?? []).filter((f) => f !== join(relayChartPath, "values.yaml"));
  if (own.length !== 1) {
    throw new OperatorError(
      `expected HelmRelease ${hr.metadata.name} in ${tenant.appPath} to list ${relayChartPath}/values.yaml and one values file of its own in spec.chart.spec.valuesFiles; found ${own.length} of its own; fix the HelmRelease`,
    );
  }
  const valuesFile = own[0]!;
  const values = readYaml<RelayValues>(root, valuesFile);
  let url: URL;
  try {
    url = new URL(String(values.relay?.url));
  } catch {
    throw new OperatorError(
      `expected relay.url in ${valuesFile} to be the public URL users register (https://<host>); found "${values.relay?.url ?? ""}"; set it`,
    );
  }
  const s3 = values.storage?.type === "filesystem" ? undefined : values.storage?.s3;
  const credentialsSecret = s3?.existingSecret ?? "";
  return {
    name: instanceName(release),
    release,
    host: url.host,
    url: url.origin,
    bucket: s3?.bucket ?? "",
    credentialsSecret,
    itemPath: items.get(credentialsSecret) ?? `vaults/${onePassword.vault}/items/${credentialsSecret}`,
    valuesFile,
  };
}

const read = new Map<string, RelayInstance[]>();

/** Every relay instance apps/docs-prod deploys, in the order of its resources. */
export function relayInstances(root = repoRoot): RelayInstance[] {
  let found = read.get(root);
  if (!found) {
    const objects = appObjects(root).filter((o) => o.kind === "HelmRelease");
    const items = new Map(
      objects
        .filter((hr) => chartOf(hr) === "libs/1password-secrets")
        .flatMap((hr) => hr.spec?.values?.items ?? [])
        .flatMap((i) => (i.name && i.itemPath ? [[i.name, i.itemPath] as const] : [])),
    );
    found = objects.filter((hr) => chartOf(hr) === relayChartPath).map((hr) => instanceOf(root, hr, items));
    if (found.length === 0)
      throw new OperatorError(
        `expected at least one HelmRelease with chart ./${relayChartPath} in ${tenant.appPath}; found none`,
      );
    read.set(root, found);
  }
  return found;
}

/** The instance `--instance NAME` names. */
export function instanceByName(name: string, root = repoRoot): RelayInstance {
  const all = relayInstances(root);
  const found = all.find((i) => i.name === name);
  if (!found)
    throw new OperatorError(
      `expected an instance name (${all.map((i) => i.name).join(", ")}); got "${name}"; pass --instance ${all[0]!.name}`,
    );
  return found;
}
