// The flow bundles: what exists (flows, outDir), when they are stale
// (sourcesMtime), and build(), which `npm run build` runs. Bundles each operator flow
// (scripts/flows/<flow>.ts) into dist/flows/<flow>.mjs with esbuild, plus the CLI
// layer the runner uses (cli.mjs), so a flow starts in a fraction of the time tsx
// needs. A flow's steps (scripts/flows/run/<flow>.ts) become a chunk its main loads
// once the command line is parsed. client-node and the 1Password SDK stay
// external or lazy: loaded only when a flow uses them (zx serves test/platform alone). Shared modules land in chunks both import, so the runner
// and a flow share one secret registry.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const flows = [
  "bootstrap",
  "create-1password-secret",
  "sync-ingress",
  "vendir-remove-entry",
  "verify",
  "relay-helm",
];
export const outDir = join(root, "dist/flows");

/** Newest modification time of the TypeScript the bundles are built from (scripts/flows and scripts/lib). */
export function sourcesMtime() {
  let newest = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(root, "scripts/flows"));
  walk(join(root, "scripts/lib"));
  return newest;
}

// client-node's index re-exports every generated API; we use KubeConfig alone. Marking
// its modules free of side effects lets esbuild drop the rest (a 14 MB chunk becomes small).
const pureClientNode = {
  name: "pure-client-node",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === "pure" || !/client-node/.test(`${args.importer}${args.path}`)) return undefined;
      const resolved = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: "pure" });
      return resolved.path.includes("/@kubernetes/client-node/") ? { ...resolved, sideEffects: false } : undefined;
    });
  },
};

// KubeConfig's module imports proxy agents, node-fetch, an OIDC client and JSONPath at
// its top, with their own dependencies (whatwg-url's 300 KB table, socks): the flows
// use them only for a kubeconfig with a proxy-url, OIDC or a cloud auth provider, and
// loading them cost every flow that talks to a cluster about 40 ms. Each becomes a
// stand-in that loads the real package when first used. The names are those
// client-node 1.4 imports; a name missing here fails the build.
export const lazyPackages = {
  "node-fetch": { default: "call", Headers: "new", AbortError: "new", FetchError: "new" },
  "socks-proxy-agent": { SocksProxyAgent: "new" },
  hpagent: { HttpProxyAgent: "new", HttpsProxyAgent: "new" },
  "jsonpath-plus": { JSONPath: "call" },
  "openid-client": { discovery: "async", refreshTokenGrant: "async" },
};
const lazyClientNodeDeps = {
  name: "lazy-client-node-deps",
  setup(b) {
    const names = Object.keys(lazyPackages);
    const filter = new RegExp(`^(${names.join("|")})$`);
    b.onResolve({ filter }, (args) => {
      if (args.namespace === "lazy") return { path: args.path, external: true };
      if (!args.importer.includes("/@kubernetes/client-node/")) return undefined;
      return { path: args.path, namespace: "lazy" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy" }, ({ path }) => {
      const exports = Object.entries(lazyPackages[path]);
      const esm = exports.every(([, how]) => how === "async");
      const lines = [
        esm
          ? `const load = () => import(${JSON.stringify(path)});`
          : `const load = () => require(${JSON.stringify(path)});`,
      ];
      for (const [name, how] of exports) {
        const head =
          name === "default" ? "export default function" : `export ${how === "async" ? "async " : ""}function ${name}`;
        const real = `(${how === "async" ? "await " : ""}load())[${JSON.stringify(name)}]`;
        lines.push(`${head}(...args) { return ${how === "new" ? `new ${real}` : real}(...args); }`);
      }
      return { contents: lines.join("\n"), loader: "js", resolveDir: root };
    });
  },
};

/**
 * Where the bundles come from, for --version: the commit of this checkout, with a note
 * when scripts/ (what the bundles are built from) has uncommitted changes; outside a git
 * checkout of this repository (a tarball, a copy without .git) it says so.
 */
export function builtFrom(dir = root) {
  const git = (...args) =>
    execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  try {
    // Not a repository further up that happens to hold the copy.
    if (realpathSync(git("rev-parse", "--show-toplevel")) !== realpathSync(dir)) throw new Error("another repository");
    const commit = git("rev-parse", "--short=12", "HEAD");
    const changed = git("status", "--porcelain", "--untracked-files=all", "--", "scripts/flows", "scripts/lib") !== "";
    return `commit ${commit}${changed ? " with uncommitted changes in scripts/" : ""}`;
  } catch {
    return "not built from a git checkout: no commit to name";
  }
}

export async function build() {
  const { build: esbuild } = await import("esbuild");
  // Built beside dist/flows, then moved in file by file (a rename replaces a file at
  // once): a flow that runs meanwhile (moon's root:build may run while a test runs a
  // flow) never loads half a bundle. Chunk names carry a hash; those of earlier builds
  // are removed afterwards, or they pile up.
  const staging = `${outDir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await esbuild({
      entryPoints: [
        ...flows.map((f) => ({ in: join(root, "scripts/flows", `${f}.ts`), out: f })),
        { in: join(root, "scripts/lib/cli.ts"), out: "cli" },
      ],
      outdir: staging,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      // Lazily imported modules (client-node) become chunks of their own, parsed only when used.
      splitting: true,
      chunkNames: "chunks/[name]-[hash]",
      platform: "node",
      format: "esm",
      target: "node22",
      external: ["@1password/sdk", "esbuild"],
      // Some bundled dependencies are CommonJS and call require().
      banner: {
        js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
      },
      define: { __FLOWS_BUILT_FROM__: JSON.stringify(builtFrom()) },
      logLevel: "warning",
      plugins: [lazyClientNodeDeps, pureClientNode],
    });
    const built = new Set(filesUnder(staging).map((f) => relative(staging, f)));
    mkdirSync(join(outDir, "chunks"), { recursive: true });
    // Chunks first, entry points last: a new entry point finds its chunks in place.
    for (const file of [...built].sort((a, b) => Number(!a.startsWith("chunks/")) - Number(!b.startsWith("chunks/"))))
      renameSync(join(staging, file), join(outDir, file));
    for (const file of filesUnder(outDir)) if (!built.has(relative(outDir, file))) rmSync(file);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}
