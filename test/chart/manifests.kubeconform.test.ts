// Every manifest this repository deploys, validated offline in seconds with
// kubeconform (built from its Go module) against the Kubernetes schemas and the
// Flux and 1Password CRDs (test/platform/build/kube-schemas.ts): both relay instances and
// the 1Password items as their HelmReleases render them, and both apps as kustomize
// builds them. Strict: an unknown field is an error. The slower server-side dry-run
// of the same objects stays in the integration tier (test/integration/manifests.test.ts).
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { management, relayChartPath, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { toolPath } from "../../scripts/lib/tools.ts";
import { ensureGoTool, gvkOf, schemaLocation, writeSchemas } from "../platform/index.ts";
import { type HelmRelease, named, ofKind, sourceObjects } from "../support/manifests.ts";
import { parseManifests } from "../../scripts/lib/yaml.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const run = promisify(execFile);

let dir: string;
let kubeconform: string;
/** Each rendered source, by name: the YAML stream as helm or kubectl printed it. */
const rendered = new Map<string, string>();

interface Result {
  code: number;
  resources: { filename: string; kind: string; name: string; status: string; msg: string }[];
  summary: { valid: number; invalid: number; errors: number; skipped: number };
}

async function validate(files: string[]): Promise<Result> {
  const args = [
    "-strict",
    "-summary",
    "-output",
    "json",
    "-schema-location",
    schemaLocation(join(dir, "schemas")),
    ...files,
  ];
  const out = await run(kubeconform, args, { maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code ?? 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr,
    }),
  );
  return { code: out.code, ...(JSON.parse(out.stdout) as Omit<Result, "code">) };
}

async function tool(name: "helm" | "kubectl", args: string[]): Promise<string> {
  return (await run(toolPath(name), args, { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 })).stdout;
}

const objectsOf = (text: string) => parseManifests(text, "rendered manifests");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubeconform-"));
  kubeconform = (await ensureGoTool("kubeconform")).binary;
  // What Flux renders: each relay HelmRelease's values files, in its target namespace.
  for (const i of instances) {
    rendered.set(
      i.release,
      await tool("helm", [
        "template",
        i.release,
        relayChartPath,
        "--namespace",
        relayNamespace,
        "-f",
        join(relayChartPath, "values.yaml"),
        "-f",
        i.valuesFile,
      ]),
    );
  }
  const secrets = named(
    ofKind<HelmRelease>(sourceObjects(tenant.appPath), "HelmRelease"),
    "1password-secrets",
    "a HelmRelease",
  );
  writeFileSync(join(dir, "1password-secrets-values.yaml"), stringify(secrets.spec.values ?? {}));
  rendered.set(
    "1password-secrets",
    await tool("helm", [
      "template",
      "1password-secrets",
      "libs/1password-secrets",
      "--namespace",
      "1password",
      "-f",
      join(dir, "1password-secrets-values.yaml"),
    ]),
  );
  for (const app of [tenant.appPath, management.appPath]) rendered.set(app, await tool("kubectl", ["kustomize", app]));
  const kinds = new Map([...rendered.values()].flatMap(objectsOf).map((o) => [`${o.apiVersion}/${o.kind}`, gvkOf(o)]));
  await writeSchemas(join(dir, "schemas"), [...kinds.values()]);
  mkdirSync(join(dir, "manifests"));
  for (const [name, text] of rendered) writeFileSync(join(dir, "manifests", `${name.replaceAll("/", "-")}.yaml`), text);
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("every rendered manifest against the Kubernetes and CRD schemas (kubeconform -strict)", () => {
  it("renders both relay instances, the 1Password items and both apps", () => {
    expect([...rendered.keys()].sort()).toEqual(
      [...instances.map((i) => i.release), "1password-secrets", management.appPath, tenant.appPath].sort(),
    );
    for (const [name, text] of rendered) expect(objectsOf(text).length, name).toBeGreaterThan(0);
  });

  it("finds every object valid, and skips none", async () => {
    const result = await validate([join(dir, "manifests")]);
    const problems = result.resources
      .filter((r) => r.status !== "statusValid")
      .map((r) => `${r.filename}: ${r.kind} ${r.name}: ${r.status} ${r.msg}`);
    expect(problems).toEqual([]);
    const total = [...rendered.values()].flatMap(objectsOf).length;
    expect(result.summary).toEqual({ valid: total, invalid: 0, errors: 0, skipped: 0 });
    expect(result.code).toBe(0);
  });

  // The same objects with one mistake each: what the check is there to catch.
  it.each([
    [
      "a misspelt Deployment field",
      "relay-personal",
      "Deployment",
      (o: Record<string, any>) => (o.spec.replica = 1),
      /additional properties 'replica' not allowed/,
    ],
    [
      "a Service port that is not a number",
      "relay-family",
      "Service",
      (o: Record<string, any>) => (o.spec.ports[0].port = "http"),
      /port/,
    ],
    [
      "a misspelt HelmRelease field",
      tenant.appPath,
      "HelmRelease",
      (o: Record<string, any>) => (o.spec.timout = "8m"),
      /additional properties 'timout' not allowed/,
    ],
    [
      "a Kustomization without its sourceRef",
      management.appPath,
      "Kustomization",
      (o: Record<string, any>) => delete o.spec.sourceRef,
      /missing property 'sourceRef'/,
    ],
    [
      "an unknown kind",
      "relay-personal",
      "ConfigMap",
      (o: Record<string, any>) => (o.kind = "ConfigMapp"),
      /could not find schema for ConfigMapp/,
    ],
  ])("rejects %s", async (_what, source, kind, spoil, message) => {
    const objects = objectsOf(rendered.get(source)!) as Record<string, any>[];
    const target = objects.find((o) => o.kind === kind)!;
    spoil(target);
    const file = join(dir, `spoilt-${kind}.yaml`);
    writeFileSync(file, stringify(target));
    const result = await validate([file]);
    expect(result.code).not.toBe(0);
    expect(result.resources.map((r) => r.msg).join("\n")).toMatch(message);
  });
});
