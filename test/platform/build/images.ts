// Container images for the local node without any registry: built once as OCI
// archives under .cache/images, named by a hash of their inputs so a second run
// reuses them, and imported into the node's containerd under the names the chart renders.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { relayInstances } from "../../../scripts/lib/instances.ts";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { supportedServerVersions, versionOfTag } from "../../../scripts/lib/server-versions.ts";
import { ensureRelayServer } from "./relay-server.ts";
import { goVersion, sh } from "./shell.ts";
import { renderChart } from "../../../scripts/lib/helm-template.ts";
import type { Manifest } from "../../../scripts/lib/kube.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const cacheDir = join(repoRoot, ".cache/images");
/** Where the server's images come from; the chart renders this repository. */
const relayRepository = "docker.system3.md/relay-server";
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
  let server: string | undefined;
  let test: string | undefined;
  for (const obj of (await renderChart({
    release: "relay",
    chart: join(repoRoot, "libs/relay-server"),
    namespace: "relay",
    valuesFiles: [valuesFile],
  })) as ({ spec?: { template?: { spec?: PodSpec } } & PodSpec } & Manifest)[]) {
    if (obj.kind === "Deployment") server = obj.spec?.template?.spec?.containers?.[0]?.image;
    if (obj.kind === "Pod") test = obj.spec?.containers?.[0]?.image;
  }
  if (!server || !test)
    throw new Error(
      `expected helm template of libs/relay-server with ${valuesFile} to render a Deployment and a test Pod with images; found server=${server}, test=${test}`,
    );
  return { server: withTag(server), test: withTag(test) };
}

interface PodSpec {
  containers?: { image?: string }[];
}

function withTag(image: string): string {
  if (image.includes("@"))
    throw new Error(
      `expected a tagged image to import locally; the chart renders a digest (${image}), which a local build cannot match`,
    );
  const colon = image.lastIndexOf(":");
  if (colon <= image.lastIndexOf("/"))
    throw new Error(`expected the chart to render an image with a tag; found ${image}`);
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
async function buildArchive(
  reference: string,
  key: string,
  layers: readonly string[],
  config: readonly string[],
): Promise<ImageArchive> {
  const archive = archivePath(reference, key);
  if (existsSync(archive)) return { reference, archive };
  const tag = splitReference(reference)[1];
  const layout = join(cacheDir, `layout-${process.pid}`);
  rmSync(layout, { recursive: true, force: true });
  try {
    await sh("umoci", ["init", "--layout", layout]);
    await sh("umoci", ["new", "--image", `${layout}:${tag}`]);
    for (const layer of layers) await sh("umoci", ["raw", "add-layer", "--image", `${layout}:${tag}`, layer]);
    await sh("umoci", ["config", "--image", `${layout}:${tag}`, "--config.env", `PATH=${path}`, ...config]);
    await sh("tar", ["-C", layout, "-cf", `${archive}.tmp`, "."]);
    renameSync(`${archive}.tmp`, archive);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
  return { reference, archive };
}

/** A tar of `files` (path in the image → source or content), owned by root. */
async function layerFrom(
  name: string,
  files: Record<string, { from?: string; mode: number; link?: string }>,
): Promise<string> {
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
  await sh("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", stage, "-cf", tar, "."]);
  rmSync(stage, { recursive: true, force: true });
  return tar;
}

/** The sandbox ("pause") image: a static Go program that waits for SIGTERM. */
export async function ensurePauseImage(log: Log = () => {}): Promise<ImageArchive> {
  mkdirSync(cacheDir, { recursive: true });
  const src = join(repoRoot, "test/platform/build/go/pause");
  const go = await goVersion();
  const key = sha256(go, readFileSync(join(src, "go.mod")), readFileSync(join(src, "main.go")));
  const reference = `docker.io/local/pause:${key}`;
  const archive = archivePath(reference, key);
  if (existsSync(archive)) return { reference, archive };
  log("building the pause image");
  const binary = join(cacheDir, `pause-${process.pid}`);
  await sh("go", ["build", "-trimpath", "-ldflags=-s -w", "-o", binary, "."], { cwd: src, env: { CGO_ENABLED: "0" } });
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
  if (!existsSync(busybox))
    throw new Error(
      "expected /bin/busybox (Debian package busybox-static) for the helm test image; it is missing; apt-get install busybox-static",
    );
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

/** A Debian root filesystem (mmdebstrap minbase + ca-certificates, as upstream's image has). */
export async function ensureRootfs(log: Log = () => {}): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  const rootfs = join(cacheDir, `rootfs-${debianSuite}-minbase.tar`);
  if (existsSync(rootfs)) return rootfs;
  log(`building a Debian ${debianSuite} root filesystem with mmdebstrap (about a minute)`);
  await sh("mmdebstrap", [
    "--quiet",
    "--variant=minbase",
    "--include=ca-certificates",
    "--format=tar",
    debianSuite,
    `${rootfs}.tmp`,
  ]);
  renameSync(`${rootfs}.tmp`, rootfs);
  return rootfs;
}

/** The Relay server image of `version` laid out like upstream's crates/Dockerfile, under the name the chart renders for tag v<version>. */
export async function ensureRelayImage(version: string, log: Log = () => {}): Promise<ImageArchive> {
  const { binary, crates } = await ensureRelayServer(version, log);
  const reference = `${qualify(relayRepository)}:v${version}`;
  const rootfs = await ensureRootfs(log);
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
  const layer = await layerFrom(`relay-${version}`, files);
  try {
    // Upstream: WORKDIR /app, ENTRYPOINT ["./run.sh"], no CMD, no USER (root).
    return await buildArchive(
      reference,
      key,
      [rootfs, layer],
      ["--config.workingdir", "/app", "--config.entrypoint", "./run.sh"],
    );
  } finally {
    rmSync(layer, { force: true });
  }
}

/** Imports archives into containerd's k8s.io namespace (where the kubelet looks). */
export async function importImages(containerdAddress: string, images: readonly ImageArchive[]): Promise<void> {
  for (const image of images) {
    const [repository] = splitReference(image.reference);
    await sh("ctr", [
      "--address",
      containerdAddress,
      "-n",
      "k8s.io",
      "images",
      "import",
      "--base-name",
      repository,
      image.archive,
    ]);
  }
  const listed = (await sh("ctr", ["--address", containerdAddress, "-n", "k8s.io", "images", "ls", "-q"])).split("\n");
  const missing = images.filter((i) => !listed.includes(i.reference));
  if (missing.length > 0)
    throw new Error(
      `expected containerd to list ${missing.map((i) => i.reference).join(", ")} after import; it lists: ${listed.filter(Boolean).join(", ")}`,
    );
}

/**
 * Builds (or reuses) the node's images: pause, the helm test image the chart
 * renders, and the Relay server of every supported version (the default, which the
 * instances render, and the older ones the version tests install).
 */
export async function nodeImages(
  log: (line: string) => void = () => {},
): Promise<{ images: ImageArchive[]; pauseImage: string }> {
  const pause = await ensurePauseImage(log);
  const images = new Map<string, ImageArchive>([[pause.reference, pause]]);
  for (const instance of instances) {
    const { server, test } = await chartImages(join(repoRoot, instance.valuesFile));
    if (!server.startsWith(`${qualify(relayRepository)}:`))
      throw new Error(
        `expected ${instance.valuesFile} to render the server image ${relayRepository}:<tag>; it renders ${server}`,
      );
    if (!images.has(server))
      images.set(server, await ensureRelayImage(versionOfTag(server.slice(server.lastIndexOf(":") + 1)), log));
    if (!images.has(test)) images.set(test, await ensureTestImage(test, log));
  }
  for (const version of supportedServerVersions()) {
    const image = await ensureRelayImage(version, log);
    images.set(image.reference, image);
  }
  return { images: [...images.values()], pauseImage: pause.reference };
}
