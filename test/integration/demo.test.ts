// `npm run demo`, the README's first command: on a machine that can run a node, the
// whole system with real Flux and the real Relay server, every verify check passing
// (or skipped with its reason); elsewhere the API-only demo. Either way nothing is
// left behind: no process, no change to tracked files.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { runCommand } from "../support/flows.ts";
import { detectNodeMode, kubeBinary } from "../platform/index.ts";

const trackedState = () =>
  execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: repoRoot, encoding: "utf8" });
const ours = () =>
  execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })
    .split("\n")
    .filter(
      (l) =>
        l.includes(kubeBinary) ||
        l.includes(`${repoRoot}/.cache/flux/`) ||
        l.includes(`${repoRoot}/.cache/onepassword/`),
    ).length;
const mode = detectNodeMode();

describe("the demo", () => {
  it.runIf(mode.node)(
    "runs the whole system on the node: real Flux installs both relays, and every verify check passes",
    async () => {
      const before = trackedState();
      const running = ours();
      const result = await runCommand(process.execPath, ["--import", "tsx", "test/platform/programs/demo.ts"]);
      expect(result.code, result.all).toBe(0);
      for (const step of [
        /create-1password-secret/,
        /bootstrap --app docs-prod .*--git-url http:\/\/127\.0\.0\.1:\d+\/setup\.git --patches/,
        /bootstrap --app docs-infra-prod/,
        /sync-ingress .*--check/,
        /vendir:remove-entry \(again\)/,
        /verify/,
      ]) {
        expect(result.stdout).toMatch(new RegExp(`^\\$ ${step.source}`, "m"));
      }
      // The relays' S3 credentials come from the real operator, reading the played Connect with the token create-1password-secret wrote.
      expect(result.stdout).toMatch(/1Password Connect: played/);
      expect(result.stdout).toMatch(
        /1Password operator v1\.9\.1 \(real, built from source\): watching every namespace, polling every 5 s \(production: 600 s\), as the chart's ServiceAccount/,
      );
      expect(result.stdout).toMatch(
        /✓ Secret relay\/relay-personal-s3-credentials \(relay-personal's S3 credentials\) has keys accessKey, secretKey/,
      );
      expect(result.stdout).toMatch(
        /✓ HelmRelease flux-system\/relay-personal Ready: Helm test succeeded .*: 1 test hook completed successfully/,
      );
      expect(result.stdout).toMatch(
        /✓ Kustomization flux-system\/docs-prod Ready: Applied revision: main@sha1:[0-9a-f]{40}/,
      );
      expect(result.stdout).toMatch(
        /✓ Deployment relay\/relay-family-relay-server available: 1 pod\(s\), 0 restart\(s\)/,
      );
      expect(result.stdout).toMatch(/✓ GET https:\/\/personal\.relay\.enigma\.vgijssel\.nl\/ready: 200 with valid TLS/);
      // The S3 endpoint of the values files, through a test-CA TLS proxy to moto (a 502 or 503 would be the proxy, not S3).
      expect(result.stdout).toMatch(
        /S3 endpoint s3\.enigma\.vgijssel\.nl \(played\): https:\/\/127\.0\.0\.1:\d+, TLS from the test CA in front of the node's moto/,
      );
      expect(result.stdout).toMatch(
        /✓ attachments of relay-family: S3 endpoint https:\/\/s3\.enigma\.vgijssel\.nl answers over TLS: HTTP (?!502|503)\d{3} with valid TLS/,
      );
      expect(result.stdout).toMatch(
        /- Certificate tenant-root\/relay-personal-tls Ready: cert-manager's CRD is not installed here: not checked/,
      );
      expect(result.stdout).toMatch(/^all \d+ checks passed$/m);
      expect(result.stdout).not.toMatch(/^✗/m);
      expect(trackedState()).toBe(before);
      expect(ours()).toBe(running);
    },
    900_000,
  );

  it.runIf(!mode.node)(
    `runs every flow on two API servers when no node can run here (${mode.reason})`,
    async () => {
      const before = trackedState();
      const running = ours();
      const result = await runCommand(process.execPath, ["--import", "tsx", "test/platform/programs/demo.ts"]);
      expect(result.code, result.all).toBe(0);
      for (const step of [
        /create-1password-secret/,
        /bootstrap --app docs-prod/,
        /bootstrap --app docs-infra-prod/,
        /relay-server:upgrade/,
        /sync-ingress .*--check/,
        /vendir:remove-entry \(again\)/,
        /verify/,
      ]) {
        expect(result.stdout).toMatch(new RegExp(`^\\$ ${step.source}`, "m"));
      }
      expect(result.stdout).toMatch(/No Pods will run/);
      expect(result.stdout).toMatch(
        /ingress backend: https:\/\/personal\.relay\.enigma\.vgijssel\.nl → tenant-root\/a[0-9a-f]{31}:8080/,
      );
      expect(result.stdout).toMatch(/nothing to remove/);
      expect(result.stdout).toMatch(
        /S3 endpoint s3\.enigma\.vgijssel\.nl \(played\): https:\/\/127\.0\.0\.1:\d+ with a test CA/,
      );
      expect(result.stdout).toMatch(
        /✓ attachments of relay-personal: S3 endpoint https:\/\/s3\.enigma\.vgijssel\.nl answers over TLS: HTTP 403 with valid TLS/,
      );
      expect(trackedState()).toBe(before);
      expect(ours()).toBe(running);
    },
    600_000,
  );
});
