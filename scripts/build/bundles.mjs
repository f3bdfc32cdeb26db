// The flow bundles: what exists (flows, outDir), when they are stale
// (sourcesMtime), and build(), which `npm run build` runs. Bundles each operator flow
// (scripts/flows/<flow>.ts) into dist/flows/<flow>.mjs with esbuild, plus the CLI
// layer the runner uses (cli.mjs), so a flow starts in a fraction of the time tsx
// needs. client-node, zx and the 1Password SDK stay external or lazy: loaded only
// when a flow uses them. Shared modules land in chunks both import, so the runner
// and a flow share one secret registry.
import { readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const flows = ["bootstrap", "create-1password-secret", "sync-ingress", "vendir-remove-entry", "verify", "relay-helm"];
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

export async function build() {
  const { build: esbuild } = await import("esbuild");
  // Chunk names carry a hash: without this, chunks of earlier builds pile up.
  rmSync(outDir, { recursive: true, force: true });
  await esbuild({
    entryPoints: [...flows.map((f) => ({ in: join(root, "scripts/flows", `${f}.ts`), out: f })), { in: join(root, "scripts/lib/cli.ts"), out: "cli" }],
    outdir: outDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    // Lazily imported modules (client-node) become chunks of their own, parsed only when used.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["zx", "@1password/sdk", "esbuild"],
    // Some bundled dependencies are CommonJS and call require().
    banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
    logLevel: "warning",
    plugins: [pureClientNode],
  });
}

