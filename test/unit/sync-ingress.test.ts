// The pure parts of sync-ingress: the relay Service from rendered chart output,
// the host from a values file, instance matching and file planning.
import { copyFileSync, cpSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { ccmLabels, tenant } from "../../scripts/lib/names.ts";
import { instanceByName } from "../../scripts/lib/instances.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { renderInputsHash, serviceFromRendered, type RelayService } from "../../scripts/lib/relay-services.ts";
import {
  defaultIngressFile,
  matchInstances,
  planIngressFiles,
  tenantServiceProblems,
} from "../../scripts/lib/ingress-sync.ts";
import { clusterOptionSpecs, ingressFilesOption, parseFlowArgs } from "../../scripts/lib/cli.ts";
import { displayPath } from "../../scripts/lib/paths.ts";
import type { ServiceObject } from "../../scripts/lib/mirrors.ts";
import { tempDir } from "../support/files.ts";

const personal = instanceByName("personal");
const family = instanceByName("family");

const rendered = (name: string, ports = "    - name: http\n      port: 8080\n") => `---
# Source: relay-server/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: ${name}
---
# Source: relay-server/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  type: LoadBalancer
  ports:
${ports}`;

function relayService(instance = personal, name = `${instance.release}-relay-server`): RelayService {
  return {
    instance,
    name,
    namespace: "relay",
    type: "LoadBalancer",
    ports: [{ name: "http", port: 8080 }],
    port: { name: "http", port: 8080 },
    host: instance.host,
  };
}

describe("serviceFromRendered", () => {
  it("takes the one Service's name and its http port", () => {
    const svc = serviceFromRendered(
      rendered(
        "relay-personal-relay-server",
        "    - name: http\n      port: 8080\n    - name: metrics\n      port: 9090\n",
      ),
      personal,
    );
    expect(svc).toMatchObject({
      name: "relay-personal-relay-server",
      namespace: "relay",
      type: "LoadBalancer",
      port: { name: "http", port: 8080 },
    });
    expect(svc.ports).toHaveLength(2);
  });

  it("refuses output with no Service or with two", () => {
    expect(() => serviceFromRendered("kind: ConfigMap\nmetadata: {name: x}\n", personal)).toThrow(
      /exactly one Service for relay-personal .* it rendered 0/,
    );
    expect(() => serviceFromRendered(rendered("a") + rendered("b"), personal)).toThrow(/it rendered 2/);
  });
});

const live = (name: string, uid: string, type = "LoadBalancer"): ServiceObject => ({
  metadata: { name, namespace: "relay", uid },
  spec: { type, ports: [{ name: "http", port: 8080 }] },
});
const mirrorOf = (svc: ServiceObject, name: string): ServiceObject => ({
  metadata: {
    name,
    namespace: "tenant-root",
    labels: {
      [ccmLabels.serviceName]: svc.metadata.name,
      [ccmLabels.serviceNamespace]: "relay",
      [ccmLabels.clusterName]: tenant.release,
    },
  },
  spec: { ports: [{ name: "http", port: 8080 }] },
});

describe("matchInstances", () => {
  const services = [relayService(personal), relayService(family)];
  const p = live("relay-personal-relay-server", "11111111-2222-3333-4444-555555555555");
  const f = live("relay-family-relay-server", "66666666-7777-8888-9999-000000000000");

  it("gives each instance its mirror as the backend", () => {
    const results = matchInstances(
      services,
      [p, f],
      [mirrorOf(p, "a1111111122223333444455555555555"), mirrorOf(f, "a6666666677778888999900000000000")],
    );
    expect(results.map((r) => [r.host, r.backend?.service, r.problem])).toEqual([
      [personal.host, "a1111111122223333444455555555555", undefined],
      [family.host, "a6666666677778888999900000000000", undefined],
    ]);
  });

  it("tells what the tenant alone shows to be wrong (missing, not a LoadBalancer) without looking at mirrors, and nothing else", () => {
    expect(tenantServiceProblems(services, [p, f])).toEqual([]);
    const problems = tenantServiceProblems(services, [
      undefined,
      live("relay-family-relay-server", "66666666-7777-8888-9999-000000000000", "ClusterIP"),
    ]);
    expect(problems).toEqual([
      "expected Service relay/relay-personal-relay-server in cluster-docs-infra-prod (libs/relay-server renders it for relay-personal); it does not exist; check that Flux installed HelmRelease relay-personal",
      expect.stringMatching(
        /^expected Service relay\/relay-family-relay-server in cluster-docs-infra-prod to be of type LoadBalancer .*found type ClusterIP/,
      ),
    ]);
  });

  it("says what to do when the tenant Service does not exist", () => {
    const [first] = matchInstances(services, [undefined, f], []);
    expect(first!.problem).toBe(
      "expected Service relay/relay-personal-relay-server in cluster-docs-infra-prod (libs/relay-server renders it for relay-personal); it does not exist; check that Flux installed HelmRelease relay-personal",
    );
  });
});

describe("planIngressFiles", () => {
  const backend = { service: "a1111111122223333444455555555555", port: { number: 8080, name: "http" } };
  const instances = [
    { release: "relay-personal", host: personal.host, service: "relay/relay-personal-relay-server", backend },
    { release: "relay-family", host: family.host, service: "relay/relay-family-relay-server", problem: "no mirror" },
  ];

  it("plans without writing, and reports a missing file or a syntax error as that file's problem", () => {
    const dir = tempDir("plan-ingress-");
    const good = join(dir, "good.yaml");
    const bad = join(dir, "bad.yaml");
    copyFileSync(join(repoRoot, "test/fixtures/ingress/comments.yaml"), good);
    copyFileSync(join(repoRoot, "test/fixtures/ingress/syntax-error.yaml"), bad);
    const before = readFileSync(good, "utf8");
    const [g, b, missing] = planIngressFiles([good, bad, join(dir, "missing.yaml")], instances);
    expect(readFileSync(good, "utf8")).toBe(before);
    expect(g!.upToDate).toBe(false);
    expect(g!.diff).toContain(`+            name: ${backend.service}   # written by sync-ingress`);
    expect(g!.content).toContain("name: 'OLD-FAMILY-NAME'"); // family has no backend: untouched
    expect(b!.problem).toMatch(/^expected valid YAML in .*bad\.yaml; found a syntax error at .*bad\.yaml:10 /);
    expect(missing!.problem).toMatch(/missing\.yaml; ENOENT; pass an existing file with --ingress-file$/);
    writeFileSync(good, g!.content);
    expect(planIngressFiles([good], instances)[0]!.upToDate).toBe(true);
  });
});

describe("--ingress-file", () => {
  it("defaults to the repository's file and resolves a given path against where the command was typed", () => {
    const files = (argv: string[]) =>
      ingressFilesOption(
        parseFlowArgs(argv, { ...clusterOptionSpecs, "ingress-file": { type: "string", multiple: true } }).values[
          "ingress-file"
        ],
      );
    expect(files([])).toEqual([defaultIngressFile]);
    expect(displayPath(defaultIngressFile)).toBe("apps/docs-infra-prod/ingress-relay.yaml");
    const saved = process.env.MOON_WORKING_DIR;
    try {
      process.env.MOON_WORKING_DIR = "/somewhere";
      expect(files(["--ingress-file", "a.yaml", "--ingress-file", "/abs/b.yaml"])).toEqual([
        "/somewhere/a.yaml",
        "/abs/b.yaml",
      ]);
      delete process.env.MOON_WORKING_DIR;
      expect(files(["--ingress-file", "a.yaml"])).toEqual([join(process.cwd(), "a.yaml")]);
    } finally {
      if (saved === undefined) delete process.env.MOON_WORKING_DIR;
      else process.env.MOON_WORKING_DIR = saved;
    }
  });
});

describe("the render cache's key", () => {
  it("changes with any file of the chart and with the values file, and with nothing else", () => {
    const dir = tempDir("render-key-");
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const chart = join(dir, "chart");
    cpSync(join(repoRoot, "libs/relay-server"), chart, { recursive: true });
    const values = join(dir, "values.yaml");
    copyFileSync(join(repoRoot, personal.valuesFile), values);
    const copy = { ...personal, valuesFile: values };
    const key = () => renderInputsHash(copy, chart);
    const original = key();
    // Where the chart lives and the files' times are not inputs of the render.
    expect(renderInputsHash(personal)).toBe(original);
    utimesSync(join(chart, "templates/service.yaml"), new Date(0), new Date(0));
    expect(key()).toBe(original);
    const edit = (path: string, change: (text: string) => string) => {
      const before = readFileSync(path, "utf8");
      writeFileSync(path, change(before));
      const changed = key();
      writeFileSync(path, before);
      return changed;
    };
    expect(edit(join(chart, "templates/service.yaml"), (t) => `${t}\n# edited\n`)).not.toBe(original);
    expect(edit(join(chart, "templates/_helpers.tpl"), (t) => t.replace("relay-server", "relay-srv"))).not.toBe(
      original,
    );
    expect(edit(values, (t) => `${t}\n# edited\n`)).not.toBe(original);
    writeFileSync(join(chart, "templates/extra.yaml"), "kind: ConfigMap\n");
    expect(key()).not.toBe(original);
    rmSync(join(chart, "templates/extra.yaml"));
    expect(key()).toBe(original);
    expect(renderInputsHash(family)).not.toBe(original);
  });
});
