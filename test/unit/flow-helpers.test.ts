// Pure pieces of the part-1 flows: option parsing, redaction, 1Password
// references and templates, credential checks, branch override, durations.
import { createServer } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readPatches, sourcePatches, withPatchesKept } from "../../scripts/lib/apps.ts";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "../../scripts/lib/cli.ts";
import { checkCredentials, connectSecrets } from "../../scripts/lib/connect-secrets.ts";
import { clusterOptionSpecs, parseFlowArgs } from "../../scripts/lib/cli.ts";
import {
  describeFsError,
  fsRemedy,
  OperatorError,
  redact,
  redactError,
  registerSecret,
} from "../../scripts/lib/errors.ts";
import { privateTempDir, writeAllOrNone, writeIfChanged } from "../../scripts/lib/files.ts";
import { readCaFile } from "../../scripts/lib/verify/network.ts";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { managementClient, parseKubeconfig, untrustedKubeconfig, writeKubeconfig } from "../../scripts/lib/clusters.ts";
import { certificateProblem, KubeClient } from "../../scripts/lib/kube.ts";
import { recoveryFor } from "../../scripts/lib/relay-release.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import type { Manifest } from "../../scripts/lib/kube.ts";
import { injectSecrets, LocalSecretSource, OnePasswordSdkSource } from "../../scripts/lib/onepassword.ts";
import { localSecretsFile, tempDir } from "../support/files.ts";

afterEach(() => {
  vi.unstubAllEnvs();
  vi.useRealTimers();
});

describe("flow options", () => {
  it("gives every flow the same common options with their defaults", () => {
    const { common } = parseFlowArgs(["--dry-run", "--management-context", "enigma"], clusterOptionSpecs);
    expect(common).toEqual({
      managementContext: "enigma",
      tenantKubeconfig: undefined,
      tenantKubeconfigFrom: "secret",
      tenantKubeconfigKey: "super-admin.conf",
      dryRun: true,
      verbose: false,
    });
  });

  it("refuses an unknown option and an unknown kubeconfig source", () => {
    expect(() => parseFlowArgs(["--dryrun"], {})).toThrow(/Unknown option '--dryrun'; see --help/);
    expect(() => parseFlowArgs(["--tenant-kubeconfig-from", "vault"], clusterOptionSpecs)).toThrow(
      /expected --tenant-kubeconfig-from secret or 1password; got "vault"/,
    );
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
    const out = await injectSecrets(
      "a: {{ op://v/item one/field }}\nb: {{op://v/i/f}}\nc: {{ op://v/i/f }}\n",
      new LocalSecretSource(file),
    );
    expect(out).toBe("a: A\nb: B\nc: B\n");
  });

  it("names the missing reference, not a value", async () => {
    const file = localSecretsFile(tempDir("op-"), { "op://v/i/f": "hidden-value" });
    await expect(new LocalSecretSource(file).resolve("op://v/i/other")).rejects.toThrow(
      /op:\/\/v\/i\/other; no item matched/,
    );
  });

  it("never quotes a secrets file that is not valid JSON, and names a JSON value that is not an object", async () => {
    const dir = tempDir("op-");
    const cases: [string, RegExp][] = [
      [
        'ZQXCANARY9", "op://v/i/f": "x"}',
        /it is not valid JSON; fix the file \(its content is not shown: it holds secrets\)$/,
      ],
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
    await expect(new LocalSecretSource(localSecretsFile(tempDir("op-"), {})).resolve("vault/item")).rejects.toThrow(
      /expected a secret reference like op:\/\/vault\/item\/field; got "vault\/item"/,
    );
  });

  it.each(["ops_not-a-real-service-account-token", "not-even-ops-prefixed"])(
    "says that a malformed OP_SERVICE_ACCOUNT_TOKEN (%s) is malformed, never the token itself",
    async (token) => {
      const error = await new OnePasswordSdkSource(token).resolve("op://setup-docs-prod/x/y").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OperatorError);
      expect((error as Error).message).toMatch(
        /^expected OP_SERVICE_ACCOUNT_TOKEN to hold a 1Password service account token; it is malformed \(1Password's SDK: ".+"\); export the token exactly as 1Password shows it/,
      );
      expect((error as Error).message).not.toMatch(/vault, item and field/);
      expect(redact((error as Error).message)).not.toContain(token);
    },
    60_000,
  );

  it("asks for OP_SERVICE_ACCOUNT_TOKEN when it is not set", async () => {
    await expect(new OnePasswordSdkSource("").resolve("op://v/i/f")).rejects.toThrow(
      /expected OP_SERVICE_ACCOUNT_TOKEN/,
    );
  });
});

describe("Connect credentials", () => {
  it("accepts a credentials file with the fields Connect reads", () => {
    expect(() =>
      checkCredentials(
        JSON.stringify({ verifier: {}, encCredentials: {}, version: "2", deviceUuid: "d", uniqueKey: {} }),
        "op://r",
      ),
    ).not.toThrow();
  });

  it("names the missing fields of an incomplete file", () => {
    expect(() => checkCredentials(JSON.stringify({ verifier: {}, version: "2" }), "op://r")).toThrow(
      /missing encCredentials, deviceUuid, uniqueKey/,
    );
  });

  it("stores the base64 of the JSON as the Secret's value", () => {
    const [, creds, token] = connectSecrets('{"a":1}', "tok");
    const value = Buffer.from(
      (creds!.data as Record<string, string>)["1password-credentials.json"]!,
      "base64",
    ).toString();
    expect(Buffer.from(value, "base64").toString()).toBe('{"a":1}');
    expect(Buffer.from((token!.data as Record<string, string>).token!, "base64").toString()).toBe("tok");
  });
});

describe("bootstrap", () => {
  const objects = [
    {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "GitRepository",
      metadata: { name: "setup" },
      spec: { url: "u", ref: { branch: "main" } },
    },
    {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: "docs-prod" },
      spec: { path: "./apps/docs-prod", patches: [{ patch: "own" }] },
    },
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
    expect(["250ms", "90s", "5m", "1h", "1m30s", "2h45m", "1.5h", "0"].map((d) => parseDuration(d))).toEqual([
      250, 90_000, 300_000, 3_600_000, 90_000, 9_900_000, 5_400_000, 0,
    ]);
    for (const bad of ["soon", "banana", "30", "", "5 m", "1m30", "-5s", "5d"]) {
      expect(() => parseDuration(bad), bad).toThrow(
        /expected --timeout to be a duration like 500ms, 90s, 1m30s or 2h; got/,
      );
    }
  });

  it("refuses a kubeconfig without a current context", async () => {
    await expect(
      parseKubeconfig("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "file.yaml"),
    ).rejects.toThrow(/expected a kubeconfig with a current context in file.yaml/);
  });
});

describe("kubeconfig files", () => {
  it("writes a kubeconfig readable by its owner only", async () => {
    const path = join(tempDir("kc-"), "tenant.kubeconfig");
    const kc = await parseKubeconfig(
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: https://127.0.0.1:1}}]\nusers: [{name: u, user: {token: t0k3n-value}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
      "inline",
    );
    writeKubeconfig(kc, path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await parseKubeconfig(readFileSync(path, "utf8"), path)).getCurrentCluster()?.server).toBe(
      "https://127.0.0.1:1",
    );
  });

  it("is git-ignored under the names the flows use", () => {
    for (const name of ["tenant.kubeconfig", "apps/docs-prod/kubeconfig.yaml"]) {
      expect(
        execFileSync("git", ["check-ignore", "--no-index", name], { cwd: repoRoot, encoding: "utf8" }).trim(),
      ).toBe(name);
    }
  });
});

describe("operator messages", () => {
  it("puts a multi-line error on one line", () => {
    expect(redactError(new OperatorError("expected a; found b:\n  line one\n\n  line two\n")).message).toBe(
      "expected a; found b: line one; line two",
    );
  });

  it("turns a file that cannot be written into a sentence that names it, not a raw errno", () => {
    const dir = tempDir("write-");
    writeFileSync(join(dir, "not-a-folder"), "");
    const path = join(dir, "not-a-folder", "ingress.yaml");
    expect(() => writeIfChanged(path, "x")).toThrow(
      new OperatorError(
        `expected to write ${path}; a part of the path is not a folder (ENOTDIR); make its folder writable or pass a file you can write; the file was left as it was`,
      ),
    );
  });

  it("writes several files all or none: a failed write puts back the files written before it, and says so", () => {
    const dir = tempDir("write-all-");
    writeFileSync(join(dir, "not-a-folder"), "");
    const [first, created, broken] = [
      join(dir, "first.yml"),
      join(dir, "created.yml"),
      join(dir, "not-a-folder", "second.yml"),
    ];
    writeFileSync(first, "old\n");
    const files = [
      { path: first, content: "new\n" },
      { path: created, content: "new\n" },
      { path: broken, content: "new\n" },
    ];
    expect(() => writeAllOrNone(files)).toThrow(
      new OperatorError(
        `expected to write ${broken}; a part of the path is not a folder (ENOTDIR); put back ${first} and ${created} as they were, so nothing was changed; make ${broken} writable and run the same command again`,
      ),
    );
    expect(readFileSync(first, "utf8")).toBe("old\n");
    expect(existsSync(created)).toBe(false);
    expect(() => writeAllOrNone(files.slice(2))).toThrow(/; nothing was changed; /);
    expect(writeAllOrNone(files.slice(0, 2), { dryRun: true }).map((c) => c.changed)).toEqual([true, true]);
    expect(readFileSync(first, "utf8")).toBe("old\n");
  });

  it("names a missing --ca-file in a sentence", () => {
    expect(() => readCaFile("/nonexistent/ca.pem")).toThrow(
      new OperatorError(
        "expected a CA bundle (PEM) at /nonexistent/ca.pem for --ca-file; it does not exist (ENOENT); pass an existing, readable file",
      ),
    );
  });
});

describe("a kubeconfig read from a cluster Secret or 1Password", () => {
  const origin = "Secret tenant-root/kubernetes-cluster-docs-infra-prod-admin-kubeconfig key evil.conf";
  const kubeconfig = (cluster: string, user: string, extra = "") =>
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n${cluster}\nusers:\n- name: u\n  user:\n${user}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n${extra}`;
  const server = "    server: https://10.0.0.1:6443\n    certificate-authority-data: Q0E=";

  it("is used when it holds only a server, its CA and a token or client certificate (as Cozystack writes it)", async () => {
    const withToken = await untrustedKubeconfig(kubeconfig(server, "    token: t0k3n-from-secret"), origin, true);
    expect(withToken.getCurrentCluster()).toMatchObject({
      server: "https://10.0.0.1:6443",
      caData: "Q0E=",
      skipTLSVerify: false,
    });
    expect(withToken.getCurrentUser()).toMatchObject({ token: "t0k3n-from-secret" });
    const withCert = await untrustedKubeconfig(
      kubeconfig(server, "    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ"),
      origin,
      true,
    );
    expect(withCert.getCurrentUser()).toMatchObject({ certData: "Q0VSVA==", keyData: "S0VZ" });
    // What client-node's own export writes (the test clusters' Secret holds that): harmless extras.
    const exported = JSON.parse(withToken.exportConfig()) as unknown;
    expect((await untrustedKubeconfig(JSON.stringify(exported), origin, true)).getCurrentUser()?.token).toBe(
      "t0k3n-from-secret",
    );
  });

  it.each([
    [
      "an exec credential plugin",
      server,
      "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [-c, touch /tmp/owned]",
      "users[0].user.exec (a credential plugin: a program this machine would run)",
    ],
    [
      "an auth provider",
      server,
      "    auth-provider:\n      name: oidc",
      "users[0].user.auth-provider (an auth provider plugin)",
    ],
    [
      "TLS checks turned off",
      "    server: https://10.0.0.1:6443\n    insecure-skip-tls-verify: true",
      "    token: t",
      "clusters[0].cluster.insecure-skip-tls-verify (it turns TLS verification off)",
    ],
    [
      "a token read from a file here",
      server,
      "    token-file: .ssh/id_ed25519",
      "users[0].user.token-file (a file on this machine read as the token)",
    ],
    [
      "a proxy",
      `${server}\n    proxy-url: http://attacker.example:3128`,
      "    token: t",
      "clusters[0].cluster.proxy-url (a proxy the requests would go through)",
    ],
    [
      "a merge key hiding a field",
      server,
      "    <<: {exec: {command: /bin/sh}}",
      "users[0].user.<< (a field not allowed here)",
    ],
  ])("is refused when it carries %s, in one line naming the Secret and key", async (_what, cluster, user, found) => {
    const error = await untrustedKubeconfig(kubeconfig(cluster, user), origin, true).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperatorError);
    expect((error as Error).message).toBe(
      `expected the kubeconfig in ${origin} to hold only a server URL, a CA and a token or client certificate; found ${found}; refusing it: a kubeconfig from a cluster or a secret store must not run a program, read a file or weaken TLS on this machine; fix it there, or pass a kubeconfig you trust with --tenant-kubeconfig PATH`,
    );
  });

  it("is refused with a server that is not https, and does not print a server URL that came from 1Password", async () => {
    await expect(
      untrustedKubeconfig(kubeconfig("    server: http://10.0.0.1:8080", "    token: t"), origin, true),
    ).rejects.toThrow(
      `expected cluster "c" in the kubeconfig in ${origin} to have an https:// server URL; found "http://10.0.0.1:8080"; fix it there`,
    );
    const fromOnePassword =
      "apps/docs-prod/kubeconfig.yaml.op.tpl (rendered from 1Password (OP_SERVICE_ACCOUNT_TOKEN))";
    const error = (await untrustedKubeconfig(
      kubeconfig("    server: not a url at all", "    token: t"),
      fromOnePassword,
      false,
    ).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      `expected cluster "c" in the kubeconfig in ${fromOnePassword} to have an https:// server URL; found another value (not shown: it comes from the secret); fix it there`,
    );
    // A server URL from 1Password is a secret: redacted wherever it would be printed.
    await untrustedKubeconfig(
      kubeconfig("    server: https://hidden-api.example.com:6443", "    token: t"),
      fromOnePassword,
      false,
    );
    expect(redact("at https://hidden-api.example.com:6443")).toBe("at [redacted]");
  });
});

describe("messages that name the cause", () => {
  it("says that no management kubeconfig was found, and where it looked (no silent http://localhost:8080)", async () => {
    const home = tempDir("no-kube-home-");
    vi.stubEnv("HOME", home);
    vi.stubEnv("KUBECONFIG", "");
    vi.stubEnv("KUBERNETES_SERVICE_HOST", "");
    await expect(managementClient({ managementContext: "any" })).rejects.toThrow(
      `expected a kubeconfig for the management cluster; found none: KUBECONFIG is not set and ${join(home, ".kube", "config")} does not exist; set KUBECONFIG to the management cluster's kubeconfig (or write it to ~/.kube/config)`,
    );
    writeFileSync(join(home, "empty"), "\n");
    vi.stubEnv("KUBECONFIG", join(home, "empty"));
    await expect(managementClient({})).rejects.toThrow(
      `expected a kubeconfig for the management cluster in ${join(home, "empty")} (KUBECONFIG); it is empty; fix KUBECONFIG or the file`,
    );
    vi.stubEnv("KUBECONFIG", join(home, "missing"));
    await expect(managementClient({})).rejects.toThrow(
      `expected the kubeconfig KUBECONFIG names at ${join(home, "missing")}; it does not exist (ENOENT); fix KUBECONFIG or the file`,
    );
  });

  it("says that a kubeconfig file is empty, and that a server URL is not one, instead of a TypeError", async () => {
    await expect(parseKubeconfig("", "t.kubeconfig")).rejects.toThrow(
      "expected a kubeconfig in t.kubeconfig; it is empty; fix or replace it",
    );
    const badUrl =
      "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://exa mple:6443'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n";
    await expect(parseKubeconfig(badUrl, "t.kubeconfig")).rejects.toThrow(
      'expected cluster "c" in t.kubeconfig to have a server URL such as https://api.example.com:6443; found "https://exa mple:6443"; fix the kubeconfig',
    );
  });

  it("names a full disk as such, with what to do about it", () => {
    const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    expect(describeFsError(full)).toBe("the disk is full (ENOSPC)");
    expect(fsRemedy(full, "make its folder writable")).toBe("free space on that disk");
    expect(fsRemedy(Object.assign(new Error("x"), { code: "EACCES" }), "make its folder writable")).toBe(
      "make its folder writable",
    );
  });

  it("names a temporary folder that does not exist, and TMPDIR", () => {
    vi.stubEnv("TMPDIR", "/nonexistent/tmp");
    expect(() => privateTempDir("relay-helm-", "write the kubeconfig helm reads")).toThrow(
      "expected a writable temporary folder at TMPDIR (/nonexistent/tmp) to write the kubeconfig helm reads; it does not exist (ENOENT); create it, or set TMPDIR to a folder you can write",
    );
  });

  it("names file and line of a YAML error in --patches, not the parser's code alone", () => {
    const file = join(tempDir("patches-"), "patches.yaml");
    writeFileSync(file, "- patch: |\n    x\n  target:\n kind: Deployment\n");
    expect(() => readPatches(file)).toThrow(
      new RegExp(
        `^expected valid YAML in ${file}; found a syntax error at ${file}:\\d+ \\(.+\\); fix the file and run again, nothing was changed$`,
      ),
    );
    expect(() => readPatches(join(file, "..", "missing.yaml"))).toThrow(
      /--patches\); it does not exist \(ENOENT\); pass an existing, readable file$/,
    );
  });

  it('names a TLS failure and the CA in use, not "check that the cluster is up"', () => {
    expect(certificateProblem("CERT_HAS_EXPIRED")).toBe("its certificate has expired");
    expect(certificateProblem("UNABLE_TO_VERIFY_LEAF_SIGNATURE")).toBe("its certificate is not signed by a trusted CA");
    expect(certificateProblem("ECONNREFUSED")).toBeUndefined();
  });
});

describe("the API client's deadline", () => {
  it("ends a request to a server that accepts the connection and never answers when the time it names is up", async () => {
    // A hung API server: it takes the TCP connection and the TLS hello, and says nothing.
    const hung = createServer((socket) => socket.on("data", () => {}));
    await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r));
    const port = (hung.address() as { port: number }).port;
    try {
      const kc = await parseKubeconfig(
        `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
        "hung",
      );
      // Fake timers move the client's own deadline, not the sockets' idle timers: the request must end on the first.
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
      const request = new KubeClient(kc, "hung-cluster", 2000).request("GET", "/version").catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(2000);
      const error = await Promise.race([request, new Promise((r) => setImmediate(() => r("still waiting")))]);
      expect((error as Error).message).toBe(
        `expected the Kubernetes API of hung-cluster at https://127.0.0.1:${port} to answer within 2 s; it accepted the connection but sent no answer; check that the cluster is up (not overloaded) and the kubeconfig points at it`,
      );
    } finally {
      vi.useRealTimers();
      hung.close();
    }
  });
});

describe("a release left pending by an interrupted helm", () => {
  it("is rolled back to its last deployed revision, or uninstalled when it never had one", () => {
    expect(
      recoveryFor([
        { revision: 3, status: "deployed" },
        { revision: 2, status: "superseded" },
      ]),
    ).toEqual({ kind: "none" });
    expect(recoveryFor([])).toEqual({ kind: "none" });
    expect(
      recoveryFor([
        { revision: 3, status: "pending-rollback" },
        { revision: 2, status: "failed" },
        { revision: 1, status: "deployed" },
      ]),
    ).toEqual({ kind: "rollback", pending: { revision: 3, status: "pending-rollback" }, to: 1 });
    expect(
      recoveryFor([
        { revision: 4, status: "pending-upgrade" },
        { revision: 3, status: "superseded" },
        { revision: 2, status: "failed" },
      ]),
    ).toEqual({ kind: "rollback", pending: { revision: 4, status: "pending-upgrade" }, to: 3 });
    expect(recoveryFor([{ revision: 1, status: "pending-install" }])).toEqual({
      kind: "uninstall",
      pending: { revision: 1, status: "pending-install" },
    });
  });
});

describe("writing through a symbolic link", () => {
  it("writes the file the link names, atomically, and the link stays a link", () => {
    const dir = tempDir("symlink-write-");
    mkdirSync(join(dir, "real"));
    const target = join(dir, "real", "ingress-relay.yaml");
    writeFileSync(target, "old\n", { mode: 0o640 });
    const link = join(dir, "ingress-relay.yaml");
    symlinkSync("real/ingress-relay.yaml", link);
    const change = writeIfChanged(link, "new\n");
    expect(change.changed).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe("real/ingress-relay.yaml");
    expect(readFileSync(target, "utf8")).toBe("new\n");
    expect(statSync(target).mode & 0o777).toBe(0o640);
    // A link to a link, and a link whose file is not there yet (created where it points).
    const second = join(dir, "second.yaml");
    symlinkSync(link, second);
    writeIfChanged(second, "newer\n");
    expect(readFileSync(target, "utf8")).toBe("newer\n");
    const dangling = join(dir, "dangling.yaml");
    symlinkSync("real/later.yaml", dangling);
    writeIfChanged(dangling, "made\n");
    expect(lstatSync(dangling).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, "real", "later.yaml"), "utf8")).toBe("made\n");
  });
});
