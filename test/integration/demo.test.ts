// `npm run demo`, the README's first command: the whole system on two local API
// servers, leaving no process and no change to tracked files behind.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { runCommand } from "../local/flows.ts";
import { kubeBinary } from "../local/kube-binary.ts";

const trackedState = () => execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repoRoot, encoding: "utf8" });
const apiservers = () => execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(kubeBinary)).length;

describe("the demo", () => {
  it("runs every flow on a local default and leaves nothing behind", async () => {
    const before = trackedState();
    const running = apiservers();
    const result = await runCommand(process.execPath, ["--import", "tsx", "test/local/demo.ts"]);
    expect(result.code, result.all).toBe(0);
    for (const step of [/create-1password-secret/, /bootstrap --app docs-prod/, /bootstrap --app docs-infra-prod/, /relay-server:upgrade/, /sync-ingress .*--check/, /vendir:remove-entry \(again\)/, /verify/]) {
      expect(result.stdout).toMatch(new RegExp(`^\\$ ${step.source}`, "m"));
    }
    expect(result.stdout).toMatch(/No Pods will run/);
    expect(result.stdout).toMatch(/ingress backend: https:\/\/personal\.relay\.enigma\.vgijssel\.nl → tenant-root\/a[0-9a-f]{31}:8080/);
    expect(result.stdout).toMatch(/nothing to remove/);
    expect(result.stdout).toMatch(/✗ GET https:\/\/family\.relay\.enigma\.vgijssel\.nl\/ready: no answer: ECONNREFUSED/);
    expect(trackedState()).toBe(before);
    expect(apiservers()).toBe(running);
  });
});
