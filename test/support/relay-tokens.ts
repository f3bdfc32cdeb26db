// Keys and document tokens made by the Relay server's own binary (built from the
// upstream source into .cache/relay/bin/<version>): `relay gen-auth --json`, `relay sign`.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { defaultServerTag, versionOfTag } from "../../scripts/lib/server-versions.ts";

const exec = promisify(execFile);
const quiet = { ...process.env, NO_COLOR: "1", RUST_LOG: "error" };

/** The relay binary of `version` (default: the chart's) built from the upstream source, as in the node's image. */
export function relayBinary(version = versionOfTag(defaultServerTag())): string {
  const binary = join(repoRoot, ".cache/relay/bin", version, "relay");
  if (!existsSync(binary))
    throw new Error(
      `expected the relay ${version} binary at ${binary}; it is missing (the node's images build it: npx tsx test/platform/programs/build.ts)`,
    );
  return binary;
}

/** A new private key (`relay gen-auth --json`). */
export async function genAuth(): Promise<string> {
  const out = (await exec(relayBinary(), ["gen-auth", "--json"], { env: quiet })).stdout;
  return (JSON.parse(out.slice(out.indexOf("{"))) as { private_key: string }).private_key;
}

/** A document token for `docId` signed with `privateKey` (`relay sign`); `--auth=` since a key may start with "-". */
export function signDocument(privateKey: string, docId: string): Promise<string> {
  return sign(privateKey, { docId });
}

/** A file (attachment) token for the file with sha256 `fileHash` in `docId`. */
export function signFile(privateKey: string, docId: string, fileHash: string): Promise<string> {
  return sign(privateKey, { type: "file", docId, fileHash });
}

async function sign(privateKey: string, input: Record<string, string>): Promise<string> {
  const child = execFile(relayBinary(), ["sign", `--auth=${privateKey}`], { env: quiet });
  child.stdin!.end(JSON.stringify(input));
  const out = await new Promise<string>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (c: Buffer) => (text += c.toString()));
    // "close", not "exit": the output may still be in flight when the process exits.
    child.once("close", (code) =>
      code === 0 ? resolve(text) : reject(new Error(`expected relay sign to exit 0; it exited ${code}`)),
    );
  });
  return (JSON.parse(out.slice(out.indexOf("{"))) as { token: string }).token;
}
