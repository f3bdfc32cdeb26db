// The Relay server's versions as the chart and verify see them: the default is the
// chart's appVersion (libs/relay-server/Chart.yaml, the one place it is written),
// and what a version reported by a live server (`relay-server-version`) tells about it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./paths.ts";

/** The image tag the chart deploys by default (appVersion), e.g. "v0.10.0". */
export function defaultServerTag(
  chartYaml = readFileSync(join(repoRoot, "libs/relay-server/Chart.yaml"), "utf8"),
): string {
  const match = /^appVersion:\s*"?(v\d+\.\d+\.\d+)"?\s*$/m.exec(chartYaml);
  if (!match?.[1])
    throw new Error(
      "expected libs/relay-server/Chart.yaml to set appVersion to an image tag v<major>.<minor>.<patch>; it does not",
    );
  return match[1];
}

/** The release behind an image tag: "v0.10.0" → "0.10.0" (image tags carry a `v`, git tags do not). */
export function versionOfTag(tag: string): string {
  const match = /^v(\d+\.\d+\.\d+)$/.exec(tag);
  if (!match?.[1])
    throw new Error(`expected an image tag v<major>.<minor>.<patch> (the server's release tags); got "${tag}"`);
  return match[1];
}

/** The release that refuses WebSocket upgrades without a token when [[auth]] keys exist (upstream commit b15b026b). */
export const anonymousAccessFixedIn = "0.9.7";

/**
 * Release commits, for a server built outside a tag checkout: its version header is
 * then a commit id (`git describe --always`) rather than the release (0.9.6's build.rs).
 */
const releaseCommits: Record<string, string> = {
  "57a856a9bedd4519e3bbf0d6718126a6f0d57efa": "0.9.6",
  d6bfdf0bf1489ff565605ba6a64aa610b0916777: "0.10.0",
};

/** -1, 0 or 1 as `a` is older than, the same as, or newer than `b` (both x.y.z). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i]! < pb[i]! ? -1 : 1;
  return 0;
}

/** The release a `relay-server-version` header names, when it names one: "0.10.0", "v0.9.6", "0.9.6-3-gabc" or a release's commit id. */
export function releaseOf(header: string | undefined): string | undefined {
  const value = header?.trim() ?? "";
  const semver = /^v?(\d+\.\d+\.\d+)(?:$|[-+])/.exec(value)?.[1];
  if (semver) return semver;
  if (/^[0-9a-f]{7,40}$/.test(value))
    return Object.entries(releaseCommits).find(([commit]) => commit.startsWith(value))?.[1];
  return undefined;
}

export type AnonymousAccess = { known: true; release: string; open: boolean } | { known: false; reported: string };

/**
 * Whether an anonymous client could open documents on a server that reports
 * `header`, decided from the version alone: a probe would create the document on
 * a server that accepts it, so none is made.
 */
export function anonymousAccess(header: string | undefined): AnonymousAccess {
  const release = releaseOf(header);
  if (!release) return { known: false, reported: header?.trim() || "no header" };
  return { known: true, release, open: compareVersions(release, anonymousAccessFixedIn) < 0 };
}

/** Older releases the chart still supports (and tests), for anyone pinned to one; the default is appVersion. */
export const olderSupportedVersions: readonly string[] = ["0.9.6"];

/** Every release the chart supports, the default first. */
export function supportedServerVersions(): string[] {
  return [versionOfTag(defaultServerTag()), ...olderSupportedVersions];
}
