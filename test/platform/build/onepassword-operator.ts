// Builds the 1Password operator the Connect chart we deploy ships (v1.9.1) with Go,
// as the Flux controllers are built: one Go module of ours (go/onepassword-operator) requires it.
// The module proxy serves the operator only up to v1.8.1, so its source comes from
// the upstream tarball beside the repository (../shared/upstream), unpacked into
// .cache/onepassword where our go.mod's replace line points; its dependencies come
// from the proxy. Later calls reuse the binary while the tarball, go.mod, go.sum
// and Go's version are unchanged.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { upstreamDir } from "./relay-server.ts";
import { ensureGoBinary, goVersion, sh } from "./shell.ts";

const moduleDir = join(repoRoot, "test/platform/build/go/onepassword-operator");
const cacheDir = join(repoRoot, ".cache/onepassword");
export const operatorBinary = join(cacheDir, "onepassword-operator");

/** The operator version our module pins, e.g. v1.9.1. */
export function operatorVersion(): string {
  const goMod = readFileSync(join(moduleDir, "go.mod"), "utf8");
  const match = /^require github\.com\/1Password\/onepassword-operator (v\S+)$/m.exec(goMod);
  if (!match?.[1])
    throw new Error(
      `expected a \`require github.com/1Password/onepassword-operator\` line in ${moduleDir}/go.mod; found none`,
    );
  return match[1];
}

/** The folder our go.mod's replace line names, relative to the module. */
function sourceDir(): string {
  const goMod = readFileSync(join(moduleDir, "go.mod"), "utf8");
  const match = /^replace github\.com\/1Password\/onepassword-operator => (\.\S+)$/m.exec(goMod);
  if (!match?.[1])
    throw new Error(
      `expected a replace line pointing github.com/1Password/onepassword-operator at a folder in ${moduleDir}/go.mod; found none`,
    );
  return join(moduleDir, match[1]);
}

const tarball = () => join(upstreamDir, `onepassword-operator-${operatorVersion().slice(1)}.tar.gz`);

/** Unpacks the tarball where the replace line points, once per tarball. */
async function ensureSource(): Promise<Buffer> {
  const file = tarball();
  if (!existsSync(file))
    throw new Error(
      `expected the upstream source ${file}; it is missing; set RELAY_UPSTREAM_DIR to the folder that holds it`,
    );
  const bytes = readFileSync(file);
  const stamp = createHash("sha256").update(bytes).digest("hex");
  const dir = sourceDir();
  const stampFile = `${dir}.stamp`;
  if (existsSync(join(dir, "go.mod")) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp)
    return bytes;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, ".."), { recursive: true });
  await sh("tar", ["-xzf", file, "-C", join(dir, "..")]);
  if (!existsSync(join(dir, "go.mod")))
    throw new Error(`expected ${file} to unpack into ${dir}; it did not (a different upstream version?)`);
  writeFileSync(stampFile, stamp);
  return bytes;
}

export interface BuiltOperator {
  binary: string;
  version: string;
  /** Seconds the build took; undefined when the binary was already up to date. */
  buildSeconds?: number;
}

/** Returns the operator binary built from the pinned source, building it if needed. */
export async function ensureOperatorBinary(log: (line: string) => void = () => {}): Promise<BuiltOperator> {
  const version = operatorVersion();
  const source = await ensureSource();
  const hash = createHash("sha256")
    .update(await goVersion())
    .update(source);
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(moduleDir, file)));
  const built = await ensureGoBinary({
    what: `the 1Password operator ${version}`,
    moduleDir,
    binary: operatorBinary,
    stamp: hash.digest("hex"),
    args: ["-ldflags", "-s -w", "github.com/1Password/onepassword-operator/cmd"],
    log,
  });
  return { ...built, version };
}
