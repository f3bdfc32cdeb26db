// Values the chart must refuse, each with the message an operator will read:
// schema violations (fixtures in fixtures/relay-server/bad, expected message in
// each file's `# expect:` line) and the few rules a schema cannot express.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixturesDir, schemaError, template } from "../support/chart.ts";

const badDir = join(fixturesDir, "bad");

const cases = readdirSync(badDir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const expected = readFileSync(join(badDir, file), "utf8").match(/^# expect: (.+)$/m)?.[1];
    if (!expected) throw new Error(`${file} has no "# expect: <message>" line`);
    return { file, expected };
  });

describe("relay-server values schema", () => {
  it("has at least 10 bad values files", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  it.each(cases)("refuses $file with “$expected”", async ({ file, expected }) => {
    const result = await template({ valuesFiles: [join(badDir, file)] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("values don't meet the specifications of the schema");
    expect(result.stderr).toMatch(schemaError(expected));
  });

  it("accepts the defaults plus the two required values (url and bucket)", async () => {
    const result = await template();
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  it("accepts Helm's global values", async () => {
    const result = await template({ values: { global: { imageRegistry: "example.com" } } });
    expect(result.code).toBe(0);
  });

  it("accepts ulimits.nofile null (plain entrypoint) and the limits 256 and 1048576", async () => {
    for (const nofile of [null, 256, 1048576]) {
      const result = await template({ values: { ulimits: { nofile } } });
      expect(result.stderr).toBe("");
    }
  });

  it("accepts the filesystem store with a new claim or an existing one", async () => {
    for (const filesystem of [{ size: "10Gi" }, { existingClaim: "relay-data" }]) {
      const result = await template({ values: { storage: { type: "filesystem", s3: { bucket: "" }, filesystem } } });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
    }
  });

  it("accepts an empty S3 endpoint (AWS_ENDPOINT_URL_S3 or AWS) and a prefix", async () => {
    const result = await template({ values: { storage: { s3: { endpoint: "", prefix: "relay-family/" } } } });
    expect(result.stderr).toBe("");
  });

  it("accepts a url with a port", async () => {
    expect((await template({ values: { relay: { url: "https://relay.example.com:8443" } } })).code).toBe(0);
  });
});

describe("relay-server required values and template checks", () => {
  it("refuses to render without relay.url", async () => {
    const result = await template({ bare: true, values: { storage: { s3: { bucket: "b" } } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(schemaError("relay.url: Does not match pattern"));
  });

  it("refuses to render without a store instead of silently keeping documents in memory", async () => {
    const result = await template({ bare: true, values: { relay: { url: "https://relay.example.com" } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(schemaError("storage.s3.bucket: String length must be greater than or equal to 1"));
  });

  it("still names the missing bucket when schema validation is skipped", async () => {
    const result = await template({
      bare: true,
      values: { relay: { url: "https://relay.example.com" } },
      extraArgs: ["--skip-schema-validation"],
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("storage.s3.bucket is required with storage.type s3");
  });

  it("still names the missing volume size when schema validation is skipped", async () => {
    const result = await template({
      values: { storage: { type: "filesystem" } },
      extraArgs: ["--skip-schema-validation"],
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("storage.filesystem.size is required with storage.type filesystem");
  });

  it("refuses the filesystem store without an fsGroup, which would leave the volume unwritable for the non-root server", async () => {
    const result = await template({
      values: {
        storage: { type: "filesystem", s3: { bucket: "" }, filesystem: { size: "1Gi" } },
        podSecurityContext: { fsGroup: null },
      },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("storage.type filesystem needs podSecurityContext.fsGroup");
  });

  it("still names the missing url when schema validation is skipped", async () => {
    const result = await template({
      bare: true,
      values: { storage: { s3: { bucket: "b" } } },
      extraArgs: ["--skip-schema-validation"],
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("relay.url is required: set it to the public URL users register in Obsidian");
  });

  it("refuses half of an inline key pair", async () => {
    const result = await template({ values: { storage: { s3: { accessKeyId: "AKIAONLYHALF" } } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("storage.s3.accessKeyId and storage.s3.secretAccessKey go together");
  });

  it("refuses a ServiceMonitor without metrics", async () => {
    const result = await template({ values: { serviceMonitor: { enabled: true } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("serviceMonitor.enabled needs relay.metrics.enabled: true");
  });

  it("refuses a metrics port equal to the server port, which the server would refuse at start", async () => {
    const result = await template({ values: { relay: { port: 9090, metrics: { enabled: true, port: 9090 } } } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("relay.metrics.port must differ from relay.port");
  });
});
