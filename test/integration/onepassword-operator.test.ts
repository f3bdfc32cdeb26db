// The real 1Password operator (v1.9.1, built from source) against the tenant API
// server and the played Connect, with the Secrets create-1password-secret writes:
// the keys it writes from an item's field labels are the ones the relay chart
// reads, a changed item reaches the Secret and restarts the Deployments that ask
// for it, and Connect's errors (a missing vault or item, a wrong token) reach the
// OnePasswordItem's status. No node here: Deployments get no Pods (see flux-node
// for the Pods).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../scripts/lib/apps.ts";
import { renderChart } from "../../scripts/lib/helm-template.ts";
import type { KubeClient, Live, Manifest } from "../../scripts/lib/kube.ts";
import { onePassword, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { renderInstance } from "../../scripts/lib/relay-services.ts";
import {
  type ApiServer,
  type ApiServers,
  changeItem,
  client,
  itemTitle,
  type OnePassword,
  servedRoutes,
  startApiServers,
  startOnePassword,
} from "../platform/index.ts";
import { localSecretsFile } from "../support/files.ts";
import { runFlow } from "../support/flows.ts";
import { waitFor } from "../support/wait.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

let cp: ApiServers;
let server: ApiServer;
let t: KubeClient;
let dir: string;
let secretsFile: string;
let chain: OnePassword;

const annotation = {
  itemPath: "operator.1password.io/item-path",
  version: "operator.1password.io/item-version",
  restarted: "operator.1password.io/last-restarted",
  autoRestart: "operator.1password.io/auto-restart",
};
// Values only this file knows; compared, never printed.
const s3 = Object.fromEntries(
  instances.map((i) => [
    i.release,
    { accessKey: `access-${i.name}-${Date.now()}`, secretKey: `secret-${i.name}-${Date.now()}` },
  ]),
);

const createSecrets = () =>
  runFlow("create-1password-secret", [
    "--tenant-kubeconfig",
    server.kubeconfigPath,
    "--secrets-from",
    "local",
    "--local-secrets",
    secretsFile,
  ]);
const secret = (name: string) =>
  t.get({ apiVersion: "v1", kind: "Secret", metadata: { namespace: relayNamespace, name } }) as Promise<
    (Live & { data?: Record<string, string> }) | undefined
  >;
const decoded = (s: { data?: Record<string, string> } | undefined, key: string) =>
  Buffer.from(s?.data?.[key] ?? "", "base64").toString();
const item = (name: string) =>
  t.get({
    apiVersion: "onepassword.com/v1",
    kind: "OnePasswordItem",
    metadata: { namespace: relayNamespace, name },
  }) as Promise<Live | undefined>;
const deployment = (name: string) =>
  t.get({ apiVersion: "apps/v1", kind: "Deployment", metadata: { namespace: relayNamespace, name } }) as Promise<
    (Live & { spec: { template: { metadata?: { annotations?: Record<string, string> } } } }) | undefined
  >;
const readyMessage = async (name: string) => {
  const cond = (await item(name))?.status?.conditions?.find((c) => c.type === "Ready");
  return cond?.status === "False" ? cond.message : undefined;
};

/** What Flux's helm-controller would apply: one HelmRelease of apps/docs-prod, rendered with its values. */
async function applyRelease(name: string, chart: string): Promise<void> {
  const release = (await buildApp(tenant.appPath)).find(
    (o) => o.kind === "HelmRelease" && o.metadata.name === name,
  ) as Manifest & { spec: { targetNamespace: string; values?: unknown } };
  const valuesDir = mkdtempSync(join(tmpdir(), "release-values-"));
  try {
    const values = join(valuesDir, "values.json");
    writeFileSync(values, JSON.stringify(release.spec.values ?? {}));
    const objects = (
      await renderChart({ release: name, chart, namespace: release.spec.targetNamespace, valuesFiles: [values] })
    ).filter((o) => !o.metadata.annotations?.["helm.sh/hook"]);
    for (const o of objects)
      await t.apply(
        { ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? release.spec.targetNamespace } },
        { fieldManager: "helm-controller" },
      );
  } finally {
    rmSync(valuesDir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  cp = await startApiServers([{ name: tenant.app }]);
  server = cp.servers[0]!;
  t = client(server);
  dir = mkdtempSync(join(tmpdir(), "onepassword-"));
  secretsFile = localSecretsFile(dir, {
    [onePassword.credentialsReference]: JSON.stringify({
      verifier: { salt: "s", localHash: "h" },
      encCredentials: { kid: "k", enc: "A256GCM", cty: "b5+jwk+json", iv: "i", data: "d" },
      version: "2",
      deviceUuid: "local-device",
      uniqueKey: { alg: "A256GCM", k: "k" },
    }),
    [onePassword.tokenReference]: `operator-token-${Date.now()}`,
    ...Object.fromEntries(
      instances.flatMap((i) =>
        Object.entries(s3[i.release]!).map(([label, value]) => [
          `op://${onePassword.vault}/${itemTitle(i)}/${label}`,
          value,
        ]),
      ),
    ),
  });
  const created = await createSecrets();
  expect(created.code, created.all).toBe(0);
  chain = await startOnePassword(server, secretsFile, { pollingSeconds: 2 });
  await chain.ready;
  await t.apply(
    { apiVersion: "v1", kind: "Namespace", metadata: { name: relayNamespace } },
    { fieldManager: "helm-controller" },
  );
  await applyRelease("1password-secrets", "libs/1password-secrets");
  for (const i of instances) {
    for (const o of (await renderInstance(i)).filter((o) => o.kind === "Deployment"))
      await t.apply(o, { fieldManager: "helm-controller" });
  }
  // A new item is reconciled a few times (its finalizer, its status); a change such a reconcile sees reaches
  // the Secret without a restart (the last test), so the rotation test starts once they are done.
  await waitFor("each item's reconciles to settle", 60_000, async () =>
    instances.every((i) =>
      chain.operatorLog().includes(`Secret with name ${i.credentialsSecret} and version 1 already exists`),
    )
      ? true
      : undefined,
  );
}, 600_000);

afterAll(async () => {
  await chain?.stop();
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the real 1Password operator with the played Connect", () => {
  it("writes each relay's Secret from its item: the field labels become the keys the relay chart's Deployment reads", async () => {
    for (const i of instances) {
      const written = await waitFor(
        `Secret ${relayNamespace}/${i.credentialsSecret} from the operator`,
        60_000,
        async () => {
          const s = await secret(i.credentialsSecret);
          return s?.data ? s : undefined;
        },
      );
      // The keys the chart's Deployment reads from this Secret (storage.s3.existingSecretKeys, rendered).
      const rendered = (await renderInstance(i)).find((o) => o.kind === "Deployment") as Manifest & {
        spec: {
          template: {
            spec: { containers: { env?: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] }[] };
          };
        };
      };
      const chartKeys = rendered.spec.template.spec.containers
        .flatMap((c) => c.env ?? [])
        .flatMap((e) =>
          e.valueFrom?.secretKeyRef?.name === i.credentialsSecret ? [e.valueFrom.secretKeyRef.key] : [],
        );
      expect(chartKeys.length).toBeGreaterThan(0);
      expect(Object.keys(written.data!).sort()).toEqual([...chartKeys].sort());
      expect(Object.keys(written.data!).sort()).toEqual(Object.keys(s3[i.release]!).sort());
      for (const [label, value] of Object.entries(s3[i.release]!))
        expect(decoded(written, label) === value, `key ${label} holds the item's field value`).toBe(true);
      expect(written.metadata.annotations?.[annotation.version]).toBe("1");
      expect(written.metadata.annotations?.[annotation.itemPath]).toMatch(
        /^vaults\/[a-z0-9]{26}\/items\/[a-z0-9]{26}$/,
      );
      expect((written.metadata as { ownerReferences?: { kind: string; name: string }[] }).ownerReferences).toEqual([
        expect.objectContaining({ kind: "OnePasswordItem", name: i.credentialsSecret }),
      ]);
    }
  });

  it("puts a changed item into its Secret on the next poll and restarts the Deployment the chart marks operator.1password.io/auto-restart, and only that one", async () => {
    const family = instances.find((i) => i.name === "family")!;
    const personal = instances.find((i) => i.name === "personal")!;
    const [familyDeployment, personalDeployment] = await Promise.all(
      [family, personal].map(
        async (i) => (await renderInstance(i)).find((o) => o.kind === "Deployment")!.metadata.name,
      ),
    );
    expect((await deployment(familyDeployment!))?.metadata.annotations?.[annotation.autoRestart]).toBe("true");
    // A Deployment reading the same Secret without the annotation: the chart's AUTO_RESTART (false) decides for it.
    await t.apply(
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { namespace: relayNamespace, name: "reads-family-credentials" },
        spec: {
          selector: { matchLabels: { app: "reads" } },
          template: {
            metadata: { labels: { app: "reads" } },
            spec: {
              containers: [
                {
                  name: "c",
                  image: "local/none",
                  env: [
                    { name: "K", valueFrom: { secretKeyRef: { name: family.credentialsSecret, key: "accessKey" } } },
                  ],
                },
              ],
            },
          },
        },
      },
      { fieldManager: "test" },
    );
    expect(chain.settings.autoRestart).toBe("false");
    const rotated = `rotated-${Date.now()}`;
    changeItem(secretsFile, onePassword.vault, itemTitle(family), { accessKey: rotated });
    const updated = await waitFor("the operator to update the Secret", 60_000, async () => {
      const s = await secret(family.credentialsSecret);
      return s?.metadata.annotations?.[annotation.version] === "2" ? s : undefined;
    });
    expect(decoded(updated, "accessKey") === rotated, "the Secret holds the rotated value").toBe(true);
    expect(decoded(updated, "secretKey") === s3[family.release]!.secretKey, "the other field is unchanged").toBe(true);
    // The operator restarts a Deployment by stamping its Pod template (secret_update_handler.go:92-102).
    await waitFor(
      "the operator to restart the family Deployment",
      30_000,
      async () => (await deployment(familyDeployment!))?.spec.template.metadata?.annotations?.[annotation.restarted],
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}; the operator's last lines:\n${chain.operatorLog().split("\n").slice(-20).join("\n")}`,
      );
    });
    expect(
      (await deployment("reads-family-credentials"))?.spec.template.metadata?.annotations?.[annotation.restarted],
    ).toBeUndefined();
    expect(
      (await deployment(personalDeployment!))?.spec.template.metadata?.annotations?.[annotation.restarted],
    ).toBeUndefined();
    expect((await secret(personal.credentialsSecret))?.metadata.annotations?.[annotation.version]).toBe("1");
  });

  it("reports Connect's answers for a missing vault or item, by title and by id, on the OnePasswordItem", async () => {
    const known = (await secret(instances[0]!.credentialsSecret))!.metadata.annotations![annotation.itemPath]!;
    const vaultId = known.split("/")[1]!;
    const unknownId = "zzzzzzzzzzzzzzzzzzzzzzzzzz";
    const cases = [
      ["no-such-vault", "vaults/no-such-vault/items/anything", /No vaults found with identifier "no-such-vault"/],
      [
        "no-such-item",
        `vaults/${onePassword.vault}/items/no-such-item`,
        /No items found with identifier "no-such-item"/,
      ],
      [
        "no-such-vault-id",
        `vaults/${unknownId}/items/${unknownId}`,
        new RegExp(`status 404: vault ${unknownId} not found`),
      ],
      [
        "no-such-item-id",
        `vaults/${vaultId}/items/${unknownId}`,
        new RegExp(`status 404: item ${unknownId} not found`),
      ],
    ] as const;
    for (const [name, itemPath] of cases)
      await t.apply(
        {
          apiVersion: "onepassword.com/v1",
          kind: "OnePasswordItem",
          metadata: { namespace: relayNamespace, name },
          spec: { itemPath },
        },
        { fieldManager: "test" },
      );
    for (const [name, , message] of cases) {
      expect(await waitFor(`OnePasswordItem ${name} to be not Ready`, 30_000, () => readyMessage(name))).toMatch(
        message,
      );
      expect(await secret(name)).toBeUndefined();
    }
  });

  it("reads the token create-1password-secret writes: Connect refuses another with its 401, and serves again once the flow has run", async () => {
    const name = instances[0]!.credentialsSecret;
    await t.apply(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: onePassword.namespace, name: onePassword.tokenSecret.name },
        data: { [onePassword.tokenSecret.key]: Buffer.from("not-the-issued-token").toString("base64") },
      },
      { fieldManager: "test" },
    );
    await chain.stopOperator();
    await chain.startOperator();
    expect(await waitFor("the item to fail with Connect's 401", 30_000, () => readyMessage(name))).toMatch(
      /status 401: Invalid token signature/,
    );
    const again = await createSecrets();
    expect(again.code, again.all).toBe(0);
    expect(again.stdout).toMatch(/Secret 1password\/1password-operator-token configured/);
    await chain.stopOperator();
    await chain.startOperator();
    await waitFor("the item to be Ready again", 30_000, async () =>
      (await item(name))?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? true : undefined,
    );
  });

  // Upstream behaviour worth knowing in production (runbook, 1Password): the item reconcile
  // (onepassworditem_controller.go:168-192) updates a stale Secret but never restarts; only the
  // poll does (secret_update_handler.go:40-47), and it then finds the Secret current.
  it("does not restart a Deployment for a change it first sees when it starts (a new operator Pod): the Secret is new, the Pod keeps the old one", async () => {
    const personal = instances.find((i) => i.name === "personal")!;
    const name = (await renderInstance(personal)).find((o) => o.kind === "Deployment")!.metadata.name;
    const version = Number((await secret(personal.credentialsSecret))?.metadata.annotations?.[annotation.version]);
    await chain.stopOperator();
    const rotated = `rotated-while-stopped-${Date.now()}`;
    changeItem(secretsFile, onePassword.vault, itemTitle(personal), { secretKey: rotated });
    await chain.startOperator();
    const updated = await waitFor("the started operator to update the Secret", 30_000, async () => {
      const s = await secret(personal.credentialsSecret);
      return Number(s?.metadata.annotations?.[annotation.version]) === version + 1 ? s : undefined;
    });
    expect(decoded(updated, "secretKey") === rotated, "the Secret holds the rotated value").toBe(true);
    // Three polls later the Deployment is still as it was.
    await new Promise((resolve) => setTimeout(resolve, 3 * chain.settings.pollingSeconds * 1000));
    expect((await deployment(name))?.spec.template.metadata?.annotations?.[annotation.restarted]).toBeUndefined();
  });

  it("was asked only the Connect calls it serves, each of them", () => {
    const routes = chain.connect()!.requests.map((r) => r.route);
    expect(new Set(routes)).toEqual(new Set(servedRoutes));
    // The operator's log names items and Secrets, never a value.
    for (const values of Object.values(s3))
      for (const v of Object.values(values)) expect(chain.operatorLog()).not.toContain(v);
  });
});
