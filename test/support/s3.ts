// The node's S3 (moto, over loopback) as a fault test reads it: a bucket's keys, its
// versioning, the versions of a document's object as they appear, and one version
// copied under another document id, so the server itself reads back what it had
// saved at a given moment. moto lists a bucket without a signature; reading or
// writing an object needs one, so those go through boto3 (installed with moto).
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Where S3 is and the keys it takes (the node's LocalS3 fits). */
export interface S3Access {
  hostUrl: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

function boto3(s3: S3Access, code: string, ...args: string[]): Promise<string> {
  const client =
    "import boto3,sys; c=boto3.client('s3',endpoint_url=sys.argv[1],region_name=sys.argv[2],aws_access_key_id=sys.argv[3],aws_secret_access_key=sys.argv[4]); a=sys.argv[5:]; ";
  return exec("python3", [
    "-c",
    client + code,
    s3.hostUrl,
    s3.region,
    s3.accessKeyId,
    s3.secretAccessKey,
    ...args,
  ]).then((r) => r.stdout);
}

export async function keys(s3: S3Access, bucket: string): Promise<string[]> {
  return (
    await boto3(
      s3,
      "[print(o['Key']) for p in c.get_paginator('list_objects_v2').paginate(Bucket=a[0]) for o in p.get('Contents',[])]",
      bucket,
    )
  )
    .split("\n")
    .filter(Boolean);
}

/** Keeps every version of every object from now on (S3 PutBucketVersioning). */
export async function enableVersioning(s3: S3Access, bucket: string): Promise<void> {
  await boto3(s3, "c.put_bucket_versioning(Bucket=a[0],VersioningConfiguration={'Status':'Enabled'})", bucket);
}

/** The version ids of `key`, newest first (one unsigned list request). */
export async function versionIds(s3: S3Access, bucket: string, key: string): Promise<string[]> {
  const res = await fetch(`${s3.hostUrl}/${bucket}?versions&prefix=${encodeURIComponent(key)}`, {
    signal: AbortSignal.timeout(5000),
  });
  const xml = await res.text();
  if (!res.ok)
    throw new Error(
      `expected S3 to list the versions of ${bucket}/${key}; it answered ${res.status}: ${xml.slice(0, 200)}`,
    );
  return [
    ...xml.matchAll(/<Version>[\s\S]*?<Key>([^<]*)<\/Key>[\s\S]*?<VersionId>([^<]*)<\/VersionId>[\s\S]*?<\/Version>/g),
  ]
    .filter((m) => m[1] === key)
    .map((m) => m[2]!);
}

/** Copies one version of `key` to `toKey` (the newest version there). */
export async function copyVersion(
  s3: S3Access,
  bucket: string,
  key: string,
  versionId: string,
  toKey: string,
): Promise<void> {
  await boto3(
    s3,
    "c.copy_object(Bucket=a[0],Key=a[3],CopySource={'Bucket':a[0],'Key':a[1],'VersionId':a[2]})",
    bucket,
    key,
    versionId,
    toKey,
  );
}

export interface VersionWatch {
  /** The newest version listed by `at` (ms since the epoch): written before then. */
  latestAt(at: number): string | undefined;
  /** How many versions were written in [from, to). */
  writtenBetween(from: number, to: number): number;
  stop(): Promise<void>;
}

/**
 * Lists the versions of `key` every `everyMs` and notes when each was first listed
 * (so it was written before then): moto stamps versions to the second only, too
 * coarse to tell what a server had saved when it was killed. Bounded: it stops
 * itself after `maxMs`.
 */
export function watchVersions(
  s3: S3Access,
  bucket: string,
  key: string,
  everyMs = 100,
  maxMs = 30 * 60_000,
): VersionWatch {
  const firstSeen = new Map<string, number>();
  const stopAt = Date.now() + maxMs;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && Date.now() < stopAt) {
      const ids = await versionIds(s3, bucket, key).catch(() => [] as string[]);
      const now = Date.now();
      for (const id of ids) if (!firstSeen.has(id)) firstSeen.set(id, now);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    latestAt: (at) => [...firstSeen].filter(([, seen]) => seen <= at).sort((a, b) => b[1] - a[1])[0]?.[0],
    writtenBetween: (from, to) => [...firstSeen.values()].filter((seen) => seen >= from && seen < to).length,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
