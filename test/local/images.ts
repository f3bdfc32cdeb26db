// Container images for the local node without any registry: built once as OCI
// archives under .cache/images, named by a hash of their inputs so a second run
// reuses them, and imported into the node's containerd under the names the chart renders.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { runTool } from "../../scripts/lib/tools.ts";

const exec = promisify(execFile);
const cacheDir = join(repoRoot, ".cache/images");
const relayDir = join(repoRoot, ".cache/relay");
// The upstream sources sit beside the repository (../shared/upstream), as on the team's machines and in CI.
export const upstreamDir = process.env.RELAY_UPSTREAM_DIR ?? join(repoRoot, "../shared/upstream");
const relayTarball = join(upstreamDir, "relay-server-0.9.6.tar.gz");
const rustyS3Tarball = join(upstreamDir, "rusty-s3-377ce9a.tar.gz");
// The upstream image uses debian trixie-slim; bookworm (Debian 12, as the test
// machines) runs the same server and links against the same glibc we build with.
const debianSuite = "bookworm";
const path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** An image as an OCI archive, and the fully qualified reference it is imported as. */
export interface ImageArchive {
  reference: string;
  archive: string;
}

type Log = (line: string) => void;

async function run(command: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    return (await exec(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 256 * 1024 * 1024 })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; code?: string };
    if (e.code === "ENOENT") throw new Error(`expected \`${command}\` on PATH to build the local node's images; it is missing (see .ci/run for the packages)`);
    throw new Error(`expected \`${command} ${args.join(" ")}\` to succeed; it failed:\n${(e.stderr ?? String(error)).trim().split("\n").slice(-20).join("\n")}`);
  }
}

function sha256(...parts: (string | Buffer)[]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part).update("\0");
  return hash.digest("hex").slice(0, 16);
}

/** `busybox` → `docker.io/library/busybox`, as containerd and the kubelet expand it. */
export function qualify(repository: string): string {
  const first = repository.split("/")[0]!;
  if (!repository.includes("/")) return `docker.io/library/${repository}`;
  if (first.includes(".") || first.includes(":") || first === "localhost") return repository;
  return `docker.io/${repository}`;
}

/** The images a release of the chart runs (server and helm test Pod), read from `helm template`. */
export async function chartImages(valuesFile: string): Promise<{ server: string; test: string }> {
  const rendered = await runTool("helm", ["template", "relay", join(repoRoot, "libs/relay-server"), "-f", valuesFile]);
  let server: string | undefined;
  let test: string | undefined;
  for (const doc of parseAllDocuments(rendered)) {
    const obj = doc.toJS() as { kind?: string; spec?: { template?: { spec?: PodSpec } } & PodSpec } | null;
    if (obj?.kind === "Deployment") server = obj.spec?.template?.spec?.containers?.[0]?.image;
    if (obj?.kind === "Pod") test = obj.spec?.containers?.[0]?.image;
  }
  if (!server || !test) throw new Error(`expected helm template of libs/relay-server with ${valuesFile} to render a Deployment and a test Pod with images; found server=${server}, test=${test}`);
  return { server: withTag(server), test: withTag(test) };
}

interface PodSpec {
  containers?: { image?: string }[];
}

function withTag(image: string): string {
  if (image.includes("@")) throw new Error(`expected a tagged image to import locally; the chart renders a digest (${image}), which a local build cannot match`);
  const colon = image.lastIndexOf(":");
  if (colon <= image.lastIndexOf("/")) throw new Error(`expected the chart to render an image with a tag; found ${image}`);
  return `${qualify(image.slice(0, colon))}${image.slice(colon)}`;
}

function archivePath(reference: string, key: string): string {
  return join(cacheDir, `${reference.replace(/[/:]/g, "_")}-${key}.oci.tar`);
}

/** Splits `docker.io/local/pause:abc` into `docker.io/local/pause` and `abc`. */
function splitReference(reference: string): [string, string] {
  const colon = reference.lastIndexOf(":");
  return [reference.slice(0, colon), reference.slice(colon + 1)];
}

/**
 * Writes an OCI archive from layer tarballs with umoci: the layout's tag is the
 * reference's tag, and `ctr images import --base-name <repository>` names it.
 */
async function buildArchive(reference: string, key: string, layers: readonly string[], config: readonly string[]): Promise<ImageArchive> {
  const archive = archivePath(reference, key);
  if (existsSync(archive)) return { reference, archive };
  const tag = splitReference(reference)[1];
  const layout = join(cacheDir, `layout-${process.pid}`);
  rmSync(layout, { recursive: true, force: true });
  try {
    await run("umoci", ["init", "--layout", layout]);
    await run("umoci", ["new", "--image", `${layout}:${tag}`]);
    for (const layer of layers) await run("umoci", ["raw", "add-layer", "--image", `${layout}:${tag}`, layer]);
    await run("umoci", ["config", "--image", `${layout}:${tag}`, "--config.env", `PATH=${path}`, ...config]);
    await run("tar", ["-C", layout, "-cf", `${archive}.tmp`, "."]);
    renameSync(`${archive}.tmp`, archive);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
  return { reference, archive };
}

/** A tar of `files` (path in the image → source or content), owned by root. */
async function layerFrom(name: string, files: Record<string, { from?: string; mode: number; link?: string }>): Promise<string> {
  const stage = join(cacheDir, `stage-${name}-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  for (const [target, spec] of Object.entries(files)) {
    const dest = join(stage, target);
    mkdirSync(join(dest, ".."), { recursive: true });
    if (spec.link) symlinkSync(spec.link, dest);
    else if (spec.from) {
      copyFileSync(spec.from, dest);
      chmodSync(dest, spec.mode);
    } else mkdirSync(dest, { recursive: true, mode: spec.mode });
  }
  const tar = join(cacheDir, `layer-${name}-${process.pid}.tar`);
  await run("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", stage, "-cf", tar, "."]);
  rmSync(stage, { recursive: true, force: true });
  return tar;
}

/** The sandbox ("pause") image: a static Go program that waits for SIGTERM. */
export async function ensurePauseImage(log: Log = () => {}): Promise<ImageArchive> {
  mkdirSync(cacheDir, { recursive: true });
  const src = join(repoRoot, "test/local/pause");
  const goVersion = await run("go", ["version"]);
  const key = sha256(goVersion, readFileSync(join(src, "go.mod")), readFileSync(join(src, "main.go")));
  const reference = `docker.io/local/pause:${key}`;
  const archive = archivePath(reference, key);
  if (existsSync(archive)) return { reference, archive };
  log("building the pause image");
  const binary = join(cacheDir, `pause-${process.pid}`);
  await run("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", binary, "."], { cwd: src, env: { CGO_ENABLED: "0" } });
  const layer = await layerFrom("pause", { pause: { from: binary, mode: 0o755 } });
  try {
    return await buildArchive(reference, key, [layer], ["--config.entrypoint", "/pause"]);
  } finally {
    rmSync(binary, { force: true });
    rmSync(layer, { force: true });
  }
}

/** The image the chart's helm test Pod runs (busybox's wget), from Debian's static busybox. */
export async function ensureTestImage(reference: string, log: Log = () => {}): Promise<ImageArchive> {
  mkdirSync(cacheDir, { recursive: true });
  const busybox = "/bin/busybox";
  if (!existsSync(busybox)) throw new Error("expected /bin/busybox (Debian package busybox-static) for the helm test image; it is missing; apt-get install busybox-static");
  const key = sha256(readFileSync(busybox));
  const archive = archivePath(reference, key);
  if (existsSync(archive)) return { reference, archive };
  log(`building ${reference} from Debian's busybox-static`);
  const layer = await layerFrom("busybox", {
    "bin/busybox": { from: busybox, mode: 0o755 },
    "bin/sh": { link: "busybox", mode: 0o777 },
    "bin/wget": { link: "busybox", mode: 0o777 },
    tmp: { mode: 0o1777 },
  });
  try {
    return await buildArchive(reference, key, [layer], []);
  } finally {
    rmSync(layer, { force: true });
  }
}

/**
 * The Relay server built from the upstream source tarball with cargo, as
 * ../shared/upstream/README.md says: both tarballs unpacked under .cache/relay,
 * the rusty-s3 git dependency pointed at the unpacked folder.
 */
export async function ensureRelayBinary(log: Log = () => {}): Promise<string> {
  for (const file of [relayTarball, rustyS3Tarball]) {
    if (!existsSync(file)) throw new Error(`expected the upstream source ${file}; it is missing; set RELAY_UPSTREAM_DIR to the folder that holds it`);
  }
  const stamp = sha256(readFileSync(relayTarball), readFileSync(rustyS3Tarball));
  const stampFile = join(relayDir, "stamp");
  const crates = join(relayDir, "relay-server-0.9.6/crates");
  if (!existsSync(stampFile) || readFileSync(stampFile, "utf8") !== stamp) {
    rmSync(relayDir, { recursive: true, force: true });
    mkdirSync(relayDir, { recursive: true });
    await run("tar", ["-xzf", relayTarball, "-C", relayDir]);
    await run("tar", ["-xzf", rustyS3Tarball, "-C", relayDir]);
    // GitHub is not reachable here: the pinned commit is the unpacked rusty-s3.
    const gitDependency = 'rusty-s3 = { git = "https://github.com/dtkav/rusty-s3", branch = "main" }';
    for (const [manifest, relative] of [["Cargo.toml", "../../rusty-s3"], ["y-sweet-core/Cargo.toml", "../../../rusty-s3"]] as const) {
      const file = join(crates, manifest);
      const text = readFileSync(file, "utf8");
      if (!text.includes(gitDependency)) throw new Error(`expected ${file} to depend on rusty-s3 from GitHub; it does not (a different upstream version?)`);
      writeFileSync(file, text.replace(gitDependency, `rusty-s3 = { path = "${relative}" }`));
    }
    writeFileSync(stampFile, stamp);
  }
  const binary = join(crates, "target/release/relay");
  // The sources come from the tarballs only, so they and cargo's version decide the binary
  // ("outside git": see the build below).
  const buildStamp = `${stamp} ${(await run("cargo", ["--version"])).trim()} outside git`;
  const buildStampFile = join(relayDir, "build-stamp");
  if (existsSync(binary) && existsSync(buildStampFile) && readFileSync(buildStampFile, "utf8") === buildStamp) return binary;
  log("building the Relay server with cargo (a first build takes about 6 minutes on 2 cores)");
  const started = Date.now();
  // The server's build script asks git for a commit to report as its version; the tarball has
  // no .git, and without a ceiling git would find this repository and report our commit.
  await run("cargo", ["build", "--release", "-p", "relay"], { cwd: crates, env: { GIT_CEILING_DIRECTORIES: relayDir } });
  writeFileSync(buildStampFile, buildStamp);
  log(`cargo build done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return binary;
}

/** A Debian root filesystem (mmdebstrap minbase + ca-certificates, as upstream's image has). */
export async function ensureRootfs(log: Log = () => {}): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  const rootfs = join(cacheDir, `rootfs-${debianSuite}-minbase.tar`);
  if (existsSync(rootfs)) return rootfs;
  log(`building a Debian ${debianSuite} root filesystem with mmdebstrap (about a minute)`);
  await run("mmdebstrap", ["--quiet", "--variant=minbase", "--include=ca-certificates", "--format=tar", debianSuite, `${rootfs}.tmp`]);
  renameSync(`${rootfs}.tmp`, rootfs);
  return rootfs;
}

/** The Relay server image laid out like upstream's crates/Dockerfile, under `reference`, around `binary` (ensureRelayBinary). */
export async function ensureRelayImage(reference: string, binary: string, log: Log = () => {}): Promise<ImageArchive> {
  const rootfs = await ensureRootfs(log);
  const crates = join(relayDir, "relay-server-0.9.6/crates");
  const files = {
    "app/relay": { from: binary, mode: 0o755 },
    "app/run.sh": { from: join(crates, "run.sh"), mode: 0o755 },
    "app/relay.toml": { from: join(crates, "relay.toml"), mode: 0o644 },
    "app/data": { mode: 0o755 },
  };
  const key = sha256(
    readFileSync(binary),
    readFileSync(rootfs),
    readFileSync(join(crates, "run.sh")),
    readFileSync(join(crates, "relay.toml")),
  );
  const archive = archivePath(reference, key);
  if (existsSync(archive)) return { reference, archive };
  log(`building ${reference} (Debian ${debianSuite} + the relay binary)`);
  const layer = await layerFrom("relay", files);
  try {
    // Upstream: WORKDIR /app, ENTRYPOINT ["./run.sh"], no CMD, no USER (root).
    return await buildArchive(reference, key, [rootfs, layer], ["--config.workingdir", "/app", "--config.entrypoint", "./run.sh"]);
  } finally {
    rmSync(layer, { force: true });
  }
}

/** Imports archives into containerd's k8s.io namespace (where the kubelet looks). */
export async function importImages(containerdAddress: string, images: readonly ImageArchive[]): Promise<void> {
  for (const image of images) {
    const [repository] = splitReference(image.reference);
    await run("ctr", ["--address", containerdAddress, "-n", "k8s.io", "images", "import", "--base-name", repository, image.archive]);
  }
  const listed = (await run("ctr", ["--address", containerdAddress, "-n", "k8s.io", "images", "ls", "-q"])).split("\n");
  const missing = images.filter((i) => !listed.includes(i.reference));
  if (missing.length > 0) throw new Error(`expected containerd to list ${missing.map((i) => i.reference).join(", ")} after import; it lists: ${listed.filter(Boolean).join(", ")}`);
}
