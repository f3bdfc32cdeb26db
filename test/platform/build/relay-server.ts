// The Relay server built with cargo from its upstream release sources
// (../shared/upstream/relay-server-<version>.tar.gz, as its README says), one binary
// per version under .cache/relay/bin/<version>. The versions share one cargo target
// dir (their lockfiles differ in two crates), so a second version builds in a minute.
// Each binary reports its real release in the relay-server-version header.
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { sh } from "./shell.ts";

const relayDir = join(repoRoot, ".cache/relay");
// The upstream sources sit beside the repository (../shared/upstream), as on the team's machines and in CI.
export const upstreamDir = process.env.RELAY_UPSTREAM_DIR ?? join(repoRoot, "../shared/upstream");
const rustyS3Tarball = join(upstreamDir, "rusty-s3-377ce9a.tar.gz");

export interface RelayBuild {
  version: string;
  binary: string;
  /** The unpacked release's crates/ folder: its run.sh and relay.toml go into the image. */
  crates: string;
}

type Log = (line: string) => void;

/** The source tarball of a release; a version with none there fails in one line that says so. */
export function relaySourceTarball(version: string): string {
  const tarball = join(upstreamDir, `relay-server-${version}.tar.gz`);
  if (existsSync(tarball)) return tarball;
  const have = existsSync(upstreamDir)
    ? readdirSync(upstreamDir).flatMap((f) => /^relay-server-(.+)\.tar\.gz$/.exec(f)?.[1] ?? [])
    : [];
  throw new Error(
    `expected the source of relay-server ${version} at ${tarball} to build image tag v${version}; there is none (sources here: ${have.join(", ") || "none"}; set RELAY_UPSTREAM_DIR to the folder that holds them)`,
  );
}

function sha256(...parts: (string | Buffer)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/**
 * Unpacks a release under .cache/relay/src, points its rusty-s3 git dependency at
 * the unpacked rusty-s3 (GitHub is not reachable here), and commits it in a git
 * repository of its own tagged with the release: 0.9.6's build script reports
 * `git describe --tags`, 0.10.0's reads RELAY_VERSION first.
 */
async function unpack(version: string, tarball: string): Promise<string> {
  const root = join(relayDir, "src", `relay-server-${version}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(relayDir, "src"), { recursive: true });
  await sh("tar", ["-xzf", tarball, "-C", join(relayDir, "src")]);
  const rustyS3 = join(relayDir, "rusty-s3");
  if (!existsSync(rustyS3)) await sh("tar", ["-xzf", rustyS3Tarball, "-C", relayDir]);
  const gitDependency = 'rusty-s3 = { git = "https://github.com/dtkav/rusty-s3", branch = "main" }';
  for (const manifest of ["crates/Cargo.toml", "crates/y-sweet-core/Cargo.toml"]) {
    const file = join(root, manifest);
    const text = readFileSync(file, "utf8");
    if (!text.includes(gitDependency))
      throw new Error(`expected ${file} to depend on rusty-s3 from GitHub; it does not (a different upstream layout?)`);
    writeFileSync(file, text.replace(gitDependency, `rusty-s3 = { path = "${rustyS3}" }`));
  }
  const git = (...args: string[]) =>
    sh("git", ["-c", "user.name=local", "-c", "user.email=local@localhost", "-c", "commit.gpgsign=false", ...args], {
      cwd: root,
    });
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-qm", `relay-server ${version}`);
  await git("tag", version);
  return root;
}

/** Returns the server binary of `version`, building it if its sources or cargo changed. */
export async function ensureRelayServer(version: string, log: Log = () => {}): Promise<RelayBuild> {
  const tarball = relaySourceTarball(version);
  if (!existsSync(rustyS3Tarball))
    throw new Error(
      `expected the upstream source ${rustyS3Tarball}; it is missing; set RELAY_UPSTREAM_DIR to the folder that holds it`,
    );
  const crates = join(relayDir, "src", `relay-server-${version}`, "crates");
  const binary = join(relayDir, "bin", version, "relay");
  const stampFile = join(relayDir, "bin", version, "stamp");
  const stamp = `${sha256(readFileSync(tarball), readFileSync(rustyS3Tarball))} ${(await sh("cargo", ["--version"])).trim()}`;
  if (existsSync(binary) && existsSync(crates) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp)
    return { version, binary, crates };
  await unpack(version, tarball);
  log(
    `building the Relay server ${version} with cargo (a first build takes about 6 minutes on 2 cores; a second version about 1)`,
  );
  const started = Date.now();
  const target = join(relayDir, "target");
  await sh("cargo", ["build", "--release", "-p", "relay"], {
    cwd: crates,
    // The ceiling keeps git (the build script's) inside the release's own repository.
    env: { CARGO_TARGET_DIR: target, RELAY_VERSION: version, GIT_CEILING_DIRECTORIES: join(relayDir, "src") },
  });
  mkdirSync(join(relayDir, "bin", version), { recursive: true });
  copyFileSync(join(target, "release/relay"), `${binary}.tmp`);
  renameSync(`${binary}.tmp`, binary);
  writeFileSync(stampFile, stamp);
  log(`cargo build of ${version} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return { version, binary, crates };
}
