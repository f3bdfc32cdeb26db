// The attachment path verify checks: which store and S3 endpoint an instance uses
// (its values file over the chart's defaults), and the S3 endpoint cases decided
// before any request (plain http, an endpoint verify cannot read). The requests
// themselves run against loopback TLS in test/integration/verify.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { relayChartPath } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import {
  instanceStorage,
  nginxSizeBytes,
  serverUploadLimitBytes,
  storageFromValues,
} from "../../scripts/lib/relay-storage.ts";
import { type HttpsOptions, s3Endpoint, s3EndpointAnswers } from "../../scripts/lib/verify/network.ts";
import { requiredSecrets } from "../../scripts/lib/verify/tenant.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const chart = readFileSync(join(repoRoot, relayChartPath, "values.yaml"), "utf8");
const personal = instances.find((i) => i.name === "personal")!;
// Nothing may be contacted: every case below is decided before a request (a port-1 target refuses at once if one were made).
const noRequest: HttpsOptions = {
  timeoutMs: 1000,
  connectTo: new Map([["s3.example.org", { address: "127.0.0.1", port: 1 }]]),
};

describe("an instance's storage", () => {
  it.each(instances)(
    "$release: S3 at the values file's https endpoint, credential keys as the 1Password items name them",
    (instance) => {
      const storage = instanceStorage(instance);
      expect(storage.type).toBe("s3");
      expect(s3Endpoint(storage)).toEqual({ url: "https://s3.enigma.vgijssel.nl", from: "storage.s3.endpoint" });
      expect(storage.s3.existingSecretKeys).toEqual({ accessKeyId: "accessKey", secretAccessKey: "secretKey" });
    },
  );

  it("takes the chart's defaults for what a values file leaves out", () => {
    const storage = storageFromValues("storage:\n  s3:\n    bucket: b\n", chart);
    expect(storage).toMatchObject({
      type: "s3",
      s3: {
        bucket: "b",
        region: "us-east-1",
        endpoint: "",
        pathStyle: true,
        existingSecretKeys: { accessKeyId: "accessKey", secretAccessKey: "secretKey" },
      },
    });
    expect(storageFromValues("storage:\n  type: filesystem\n  filesystem:\n    size: 10Gi\n", chart).type).toBe(
      "filesystem",
    );
  });

  it("without storage.s3.endpoint: AWS_ENDPOINT_URL_S3 from extraEnv, else AWS S3 of the region", () => {
    const withEnv = storageFromValues(
      "extraEnv:\n  - name: AWS_ENDPOINT_URL_S3\n    value: https://s3.example.org\n",
      chart,
    );
    expect(s3Endpoint(withEnv)).toEqual({ url: "https://s3.example.org", from: "AWS_ENDPOINT_URL_S3 in extraEnv" });
    const fromSecret = storageFromValues(
      "extraEnv:\n  - name: AWS_ENDPOINT_URL_S3\n    valueFrom:\n      secretKeyRef: { name: s3, key: url }\n",
      chart,
    );
    expect(s3Endpoint(fromSecret).url).toBeUndefined();
    expect(s3Endpoint(storageFromValues("storage:\n  s3:\n    region: eu-west-1\n", chart))).toMatchObject({
      url: "https://s3.eu-west-1.amazonaws.com",
      from: expect.stringMatching(/^AWS S3/),
    });
  });

  it("requiredSecrets names each S3 instance's credentials Secret with the keys of its values", () => {
    expect(
      requiredSecrets()
        .filter((s) => s.why.endsWith("S3 credentials"))
        .map((s) => [s.name, s.keys]),
    ).toEqual(instances.map((i) => [i.credentialsSecret, ["accessKey", "secretKey"]]));
  });
});

describe("the S3 endpoint check before any request", () => {
  it("fails a plain http endpoint: presigned attachment URLs would be http", async () => {
    const result = await s3EndpointAnswers(
      personal,
      storageFromValues("storage:\n  s3:\n    endpoint: http://s3.example.org:8333\n", chart),
      noRequest,
    );
    expect(result).toMatchObject({
      ok: false,
      name: "attachments of relay-personal: S3 endpoint http://s3.example.org:8333 answers over TLS",
    });
    expect(result.detail).toMatch(
      /storage\.s3\.endpoint is plain http: the presigned attachment URLs clients get would be unencrypted/,
    );
    expect(result.next).toMatch(
      /serve the S3 endpoint over https .* set storage\.s3\.endpoint in apps\/docs-prod\/relay-personal\/values\.yaml/,
    );
  });

  it("fails an endpoint that is not a URL", async () => {
    const result = await s3EndpointAnswers(
      personal,
      storageFromValues("storage:\n  s3:\n    endpoint: s3.example.org\n", chart),
      noRequest,
    );
    expect(result).toMatchObject({ ok: false, detail: "storage.s3.endpoint is not a URL" });
  });

  it("skips, saying so, an endpoint set from a Secret or ConfigMap", async () => {
    const result = await s3EndpointAnswers(
      personal,
      storageFromValues(
        "extraEnv:\n  - name: AWS_ENDPOINT_URL_S3\n    valueFrom:\n      configMapKeyRef: { name: s3, key: url }\n",
        chart,
      ),
      noRequest,
    );
    expect(result).toMatchObject({ ok: true, skipped: true });
    expect(result.detail).toMatch(/verify cannot read it; check by hand/);
  });
});

describe("nginx body sizes against the server's upload limit", () => {
  it.each([
    ["250m", true],
    ["1g", true],
    ["0", true],
    ["262144000", true],
    ["10m", false],
    ["1m", false],
    ["250MB", false],
    [undefined, false],
  ] as const)("%s: enough = %s", (size, enough) => {
    expect(nginxSizeBytes(size) >= serverUploadLimitBytes).toBe(enough);
  });
});
