// Pure pieces of the part-1 flows: option parsing, redaction, 1Password
// references and templates, credential checks, branch override, durations.
import { describe, expect, it } from "vitest";
import { sourcePatches, withPatchesKept } from "../../scripts/lib/apps.ts";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "../../scripts/lib/cli.ts";
import { checkCredentials, connectSecrets } from "../../scripts/lib/connect-secrets.ts";
import { clusterOptionSpecs, parseFlowArgs } from "../../scripts/lib/cli.ts";
import { OperatorError, redact, redactError, registerSecret } from "../../scripts/lib/errors.ts";
import { writeAllOrNone, writeIfChanged } from "../../scripts/lib/files.ts";
import { readCaFile } from "../../scripts/lib/verify/network.ts";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseKubeconfig, writeKubeconfig } from "../../scripts/lib/clusters.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import type { Manifest } from "../../scripts/lib/kube.ts";
import { injectSecrets, LocalSecretSource, OnePasswordSdkSource } from "../../scripts/lib/onepassword.ts";
import { localSecretsFile, tempDir } from "../support/files.ts";

describe("flow options", () => {
  it("gives every flow the same common options with their defaults", () => {
    const { common } = parseFlowArgs(["--dry-run", "--management-context", "enigma"], clusterOptionSpecs);
    expect(common).toEqual({ managementContext: "enigma", tenantKubeconfig: undefined, tenantKubeconfigFrom: "secret", tenantKubeconfigKey: "super-admin.conf", dryRun: true, verbose: false });
  });

  it("refuses an unknown option and an unknown kubeconfig source", () => {
    expect(() => parseFlowArgs(["--dryrun"], {})).toThrow(/Unknown option '--dryrun'; see --help/);
    expect(() => parseFlowArgs(["--tenant-kubeconfig-from", "vault"], clusterOptionSpecs)).toThrow(/expected --tenant-kubeconfig-from secret or 1password; got "vault"/);
  });
});

describe("redaction", () => {
  it("replaces every registered secret value in a text", () => {
    registerSecret("s3cr3t-value");
    expect(redact("token s3cr3t-value and again s3cr3t-value")).toBe("token [redacted] and again [redacted]");
  });
});

describe("1Password", () => {
  it("renders an op inject template from the local source, every reference resolved", async () => {
    const file = localSecretsFile(tempDir("op-"), { "op://v/item one/field": "A", "op://v/i/f": "B" });
    const out = await injectSecrets("a: {{ op://v/item one/field }}\nb: {{op://v/i/f}}\nc: {{ op://v/i/f }}\n", new LocalSecretSource(file));
    expect(out).toBe("a: A\nb: B\nc: B\n");
  });

  it("names the missing reference, not a value", async () => {
    const file = localSecretsFile(tempDir("op-"), { "op://v/i/f": "hidden-value" });
    await expect(new LocalSecretSource(file).resolve("op://v/i/other")).rejects.toThrow(/op:\/\/v\/i\/other; no item matched/);
  });

  it("never quotes a secrets file that is not valid JSON, and names a JSON value that is not an object", async () => {
    const dir = tempDir("op-");
    const cases: [string, RegExp][] = [
      ['ZQXCANARY9", "op://v/i/f": "x"}', /it is not valid JSON; fix the file \(its content is not shown: it holds secrets\)$/],
      ["null", /found null; write it as/],
      ['["ZQXCANARY9"]', /found an array; write it as/],
      ["42", /found a number; write it as/],
    ];
    for (const [content, message] of cases) {
      const file = join(dir, "secrets.json");
      writeFileSync(file, content);
      const error = (() => {
        try {
          new LocalSecretSource(file);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error).toBeInstanceOf(OperatorError);
      expect(error!.message).toMatch(message);
      expect(error!.message).not.toContain("ZQXCANARY9");
    }
  });

  it("refuses a malformed reference before asking anyone", async () => {
    await expect(new LocalSecretSource(localSecretsFile(tempDir("op-"), {})).resolve("vault/item")).rejects.toThrow(/expected a secret reference like op:\/\/vault\/item\/field; got "vault\/item"/);
  });

  it("turns an SDK failure into an error naming the reference and never the token", async () => {
    const token = "ops_not-a-real-service-account-token";
    const error = await new OnePasswordSdkSource(token).resolve("op://setup-docs-prod/x/y").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toMatch(/^expected 1Password to resolve op:\/\/setup-docs-prod\/x\/y; it answered/);
    expect(redact((error as Error).message)).not.toContain(token);
  }, 60_000);

  it("asks for OP_SERVICE_ACCOUNT_TOKEN when it is not set", async () => {
    await expect(new OnePasswordSdkSource("").resolve("op://v/i/f")).rejects.toThrow(/expected OP_SERVICE_ACCOUNT_TOKEN/);
  });
});

describe("Connect credentials", () => {
  it("accepts a credentials file with the fields Connect reads", () => {
    expect(() => checkCredentials(JSON.stringify({ verifier: {}, encCredentials: {}, version: "2", deviceUuid: "d", uniqueKey: {} }), "op://r")).not.toThrow();
  });

  it("names the missing fields of an incomplete file", () => {
    expect(() => checkCredentials(JSON.stringify({ verifier: {}, version: "2" }), "op://r")).toThrow(/missing encCredentials, deviceUuid, uniqueKey/);
  });

  it("stores the base64 of the JSON as the Secret's value", () => {
    const [, creds, token] = connectSecrets('{"a":1}', "tok");
    const value = Buffer.from((creds!.data as Record<string, string>)["1password-credentials.json"]!, "base64").toString();
    expect(Buffer.from(value, "base64").toString()).toBe('{"a":1}');
    expect(Buffer.from((token!.data as Record<string, string>).token!, "base64").toString()).toBe("tok");
  });
});

describe("bootstrap", () => {
  const objects = [
    { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "setup" }, spec: { url: "u", ref: { branch: "main" } } },
    { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "docs-prod" }, spec: { path: "./apps/docs-prod", patches: [{ patch: "own" }] } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "relay" } },
  ] as Manifest[];

  it("points the GitRepository at a branch or URL through a patch, nothing when neither is given", () => {
    const [patch] = sourcePatches(objects, { url: "http://127.0.0.1:1/setup.git", branch: "dev" });
    expect(patch!.target).toEqual({ kind: "GitRepository", name: "setup" });
    expect(parseYaml(patch!.patch)).toEqual([
      { op: "replace", path: "/spec/url", value: "http://127.0.0.1:1/setup.git" },
      { op: "replace", path: "/spec/ref", value: { branch: "dev" } },
    ]);
    expect(sourcePatches(objects, {})).toEqual([]);
  });

  it("keeps the patches in the root Kustomization (after its own), so Flux applies what bootstrap applied", () => {
    const out = withPatchesKept(objects, "docs-prod", [{ patch: "mine" }]);
    expect((out[1]!.spec as { patches: unknown[] }).patches).toEqual([{ patch: "own" }, { patch: "mine" }]);
    expect(out[0]).toBe(objects[0]);
    expect(withPatchesKept(objects, "docs-prod", [])).toBe(objects);
  });

  it("reads durations as Go writes them and refuses anything else", () => {
    expect(["250ms", "90s", "5m", "1h", "1m30s", "2h45m", "1.5h", "0"].map((d) => parseDuration(d))).toEqual([250, 90_000, 300_000, 3_600_000, 90_000, 9_900_000, 5_400_000, 0]);
    for (const bad of ["soon", "banana", "30", "", "5 m", "1m30", "-5s", "5d"]) {
      expect(() => parseDuration(bad), bad).toThrow(/expected --timeout to be a duration like 500ms, 90s, 1m30s or 2h; got/);
    }
  });

  it("refuses a kubeconfig without a current context", async () => {
    await expect(parseKubeconfig("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "file.yaml")).rejects.toThrow(/expected a kubeconfig with a current context in file.yaml/);
  });
});

describe("kubeconfig files", () => {
  it("writes a kubeconfig readable by its owner only", async () => {
    const path = join(tempDir("kc-"), "tenant.kubeconfig");
    const kc = await parseKubeconfig("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: https://127.0.0.1:1}}]\nusers: [{name: u, user: {token: t0k3n-value}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n", "inline");
    writeKubeconfig(kc, path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await parseKubeconfig(readFileSync(path, "utf8"), path)).getCurrentCluster()?.server).toBe("https://127.0.0.1:1");
  });

  it("is git-ignored under the names the flows use", () => {
    for (const name of ["tenant.kubeconfig", "apps/docs-prod/kubeconfig.yaml"]) {
      expect(execFileSync("git", ["check-ignore", "--no-index", name], { cwd: repoRoot, encoding: "utf8" }).trim()).toBe(name);
    }
  });
});

describe("operator messages", () => {
  it("puts a multi-line error on one line", () => {
    expect(redactError(new OperatorError("expected a; found b:\n  line one\n\n  line two\n")).message).toBe("expected a; found b: line one; line two");
  });

  it("turns a file that cannot be written into a sentence that names it, not a raw errno", () => {
    const dir = tempDir("write-");
    writeFileSync(join(dir, "not-a-folder"), "");
    const path = join(dir, "not-a-folder", "ingress.yaml");
    expect(() => writeIfChanged(path, "x")).toThrow(new OperatorError(`expected to write ${path}; a part of the path is not a folder (ENOTDIR); make its folder writable or pass a file you can write; the file was left as it was`));
  });

  it("writes several files all or none: a failed write puts back the files written before it, and says so", () => {
    const dir = tempDir("write-all-");
    writeFileSync(join(dir, "not-a-folder"), "");
    const [first, created, broken] = [join(dir, "first.yml"), join(dir, "created.yml"), join(dir, "not-a-folder", "second.yml")];
    writeFileSync(first, "old\n");
    const files = [{ path: first, content: "new\n" }, { path: created, content: "new\n" }, { path: broken, content: "new\n" }];
    expect(() => writeAllOrNone(files)).toThrow(new OperatorError(
      `expected to write ${broken}; a part of the path is not a folder (ENOTDIR); put back ${first} and ${created} as they were, so nothing was changed; make ${broken} writable and run the same command again`,
    ));
    expect(readFileSync(first, "utf8")).toBe("old\n");
    expect(existsSync(created)).toBe(false);
    expect(() => writeAllOrNone(files.slice(2))).toThrow(/; nothing was changed; /);
    expect(writeAllOrNone(files.slice(0, 2), { dryRun: true }).map((c) => c.changed)).toEqual([true, true]);
    expect(readFileSync(first, "utf8")).toBe("old\n");
  });

  it("names a missing --ca-file in a sentence", () => {
    expect(() => readCaFile("/nonexistent/ca.pem")).toThrow(new OperatorError("expected a CA bundle (PEM) at /nonexistent/ca.pem for --ca-file; it does not exist (ENOENT); pass an existing, readable file"));
  });
});
