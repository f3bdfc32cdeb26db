// Builds Flux's three controllers (source, kustomize, helm) from the Go module
// proxy, one Go module of ours each (test/platform/build/go/flux/<controller>), into
// .cache/flux/<controller>; later calls reuse a binary while its go.mod, go.sum
// and Go's version are unchanged.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/lib/paths.ts";
import { ensureGoBinary, goVersion } from "./shell.ts";

export const fluxControllers = ["source-controller", "kustomize-controller", "helm-controller"] as const;
export type FluxController = (typeof fluxControllers)[number];

const moduleDir = (c: FluxController) => join(repoRoot, "test/platform/build/go/flux", c);
const outDir = (c: FluxController) => join(repoRoot, ".cache/flux", c);
export const fluxBinary = (c: FluxController) => join(outDir(c), c);

/** The controller version our module pins, e.g. v1.7.3. */
export function fluxControllerVersion(c: FluxController): string {
  const goMod = readFileSync(join(moduleDir(c), "go.mod"), "utf8");
  const match = new RegExp(`^require github\\.com/fluxcd/${c} (v\\S+)$`, "m").exec(goMod);
  if (!match?.[1])
    throw new Error(`expected a \`require github.com/fluxcd/${c}\` line in ${moduleDir(c)}/go.mod; found none`);
  return match[1];
}

function stamp(c: FluxController, go: string): string {
  const hash = createHash("sha256").update(go);
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(moduleDir(c), file)));
  return hash.digest("hex");
}

export interface BuiltController {
  controller: FluxController;
  binary: string;
  /** Seconds the build took; undefined when the binary was already up to date. */
  buildSeconds?: number;
}

/** Returns a binary built from the current module files, building it if needed. */
export async function ensureFluxBinary(
  c: FluxController,
  log: (line: string) => void = () => {},
): Promise<BuiltController> {
  const built = await ensureGoBinary({
    what: `Flux ${c} ${fluxControllerVersion(c)}`,
    moduleDir: moduleDir(c),
    binary: fluxBinary(c),
    stamp: stamp(c, await goVersion()),
    args: ["-ldflags", "-s -w", `github.com/fluxcd/${c}`],
    log,
  });
  return { controller: c, ...built };
}

/** Builds the three controllers one after another (each build uses every core). */
export async function ensureFluxBinaries(
  log: (line: string) => void = () => {},
): Promise<Record<FluxController, string>> {
  const out = {} as Record<FluxController, string>;
  for (const c of fluxControllers) out[c] = (await ensureFluxBinary(c, log)).binary;
  return out;
}
