// Where an instance keeps documents and attachments: its values file over the
// chart's defaults (storage.*, and AWS_ENDPOINT_URL_S3 in extraEnv), and what the
// attachment path needs from the ingress for the filesystem store.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { OperatorError } from "./errors.ts";
import { relayChartPath, type RelayInstance } from "./names.ts";
import { repoRoot } from "./paths.ts";

export interface RelayStorage {
  /** "s3" (clients move attachments straight to the endpoint by presigned URL) or "filesystem" (uploads go through the relay). */
  type: string;
  s3: {
    bucket: string;
    region: string;
    /** storage.s3.endpoint; "" lets the server use AWS_ENDPOINT_URL_S3, else AWS S3. */
    endpoint: string;
    pathStyle: boolean;
    existingSecret: string;
    existingSecretKeys: { accessKeyId: string; secretAccessKey: string };
  };
  /** AWS_ENDPOINT_URL_S3 in extraEnv: its value, or fromRef when it comes from a Secret or ConfigMap (valueFrom). */
  awsEndpointEnv?: { value?: string; fromRef?: true };
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);

/** Helm's merge of values: maps merge key by key, anything else replaces. */
function mergeValues(base: unknown, over: unknown): unknown {
  if (!isTree(base) || !isTree(over)) return over === undefined ? base : over;
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeValues(base[k], v);
  return out;
}

function parseValues(text: string, file: string): Tree {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new OperatorError(`expected valid YAML in ${file}; ${doc.errors[0]!.message.split("\n")[0]}; fix the file`);
  const js = doc.toJS() as unknown;
  return isTree(js) ? js : {};
}

/** The storage settings of a values file (text) over the chart's values.yaml (text). */
export function storageFromValues(values: string, chartDefaults: string, file = "the values file"): RelayStorage {
  const chart = parseValues(chartDefaults, `${relayChartPath}/values.yaml`);
  const own = parseValues(values, file);
  const storage = mergeValues(chart.storage, own.storage) as RelayStorage;
  const env = (
    (own.extraEnv ?? chart.extraEnv ?? []) as { name?: string; value?: unknown; valueFrom?: unknown }[]
  ).find((e) => e?.name === "AWS_ENDPOINT_URL_S3");
  const awsEndpointEnv = !env
    ? undefined
    : env.valueFrom
      ? { fromRef: true as const }
      : { value: String(env.value ?? "") };
  return { ...storage, type: String(storage.type), ...(awsEndpointEnv ? { awsEndpointEnv } : {}) };
}

export function instanceStorage(instance: RelayInstance): RelayStorage {
  const read = (path: string) => readFileSync(join(repoRoot, path), "utf8");
  return storageFromValues(read(instance.valuesFile), read(`${relayChartPath}/values.yaml`), instance.valuesFile);
}

/**
 * The largest request body the server takes: direct attachment uploads with the
 * filesystem store (relay-server crates/relay/src/server.rs,
 * `DefaultBodyLimit::max(250 * 1024 * 1024)`, since 0.9.4).
 */
export const serverUploadLimitBytes = 250 * 1024 * 1024;

/** The ingress-nginx annotation that caps request bodies (its default is 1m). */
export const bodySizeAnnotation = "nginx.ingress.kubernetes.io/proxy-body-size";

/**
 * Bytes allowed by an nginx size (ingress-nginx proxy-body-size: a number with an
 * optional k/m/g suffix, powers of 1024); "0" lifts the limit. NaN when missing or
 * malformed, so a comparison with it fails.
 */
export function nginxSizeBytes(size: string | undefined): number {
  const m = /^([0-9]+)([kKmMgG]?)$/.exec(size ?? "");
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  if (n === 0) return Number.POSITIVE_INFINITY;
  return n * ({ "": 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[m[2]!.toLowerCase()] ?? Number.NaN);
}
