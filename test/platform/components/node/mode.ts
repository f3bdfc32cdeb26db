// Whether this machine can run a real node (Linux, root, containerd, runc, the CNI
// plugins and moto's S3 server), or only API servers: one line saying which and why.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cniDir, cniPlugins } from "./config.ts";

export interface NodeMode {
  node: boolean;
  /** One line: which mode and why. */
  reason: string;
}

/** Node mode needs Linux, root, and containerd, runc, the CNI plugins and moto installed; otherwise API-only. */
export function detectNodeMode(): NodeMode {
  if (process.platform !== "linux")
    return { node: false, reason: `API-only mode: a real node needs Linux; this is ${process.platform}` };
  if (process.getuid?.() !== 0)
    return { node: false, reason: "API-only mode: a real node needs root (containerd, cgroups, network)" };
  const missing = ["containerd", "runc", "ctr", "unshare", "nsenter", "ip", "python3"].filter((tool) => !onPath(tool));
  missing.push(...cniPlugins.filter((p) => !existsSync(join(cniDir, p))).map((p) => join(cniDir, p)));
  if (missing.length > 0) {
    return {
      node: false,
      reason: `API-only mode: a real node needs ${missing.join(", ")} (apt-get install containerd runc containernetworking-plugins, see .ci/run)`,
    };
  }
  try {
    execFileSync("python3", ["-c", "import moto.server"], { stdio: "ignore" });
  } catch {
    return {
      node: false,
      reason:
        "API-only mode: a real node needs moto's S3 server for its Pods (pip install 'moto[server]', see .ci/run)",
    };
  }
  return { node: true, reason: "node mode: Linux, root, containerd, runc, CNI plugins and moto present" };
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => dir && existsSync(join(dir, tool)));
}
