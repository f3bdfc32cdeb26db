// libs/1password-secrets: one OnePasswordItem per entry, a schema that rejects
// typos, and the exact items apps/docs-prod asks for.
import { describe, expect, it } from "vitest";
import { onePassword, relayNamespace, tenant } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { schemaError } from "../support/chart.ts";
import {
  helmLint,
  helmTemplate,
  named,
  ofKind,
  sourceObjects,
  type HelmRelease,
  type KubeObject,
} from "../support/manifests.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const chart = "libs/1password-secrets";
const release = "1password-secrets";

interface OnePasswordItem extends KubeObject {
  spec: { itemPath: string };
}

async function render(
  values: Record<string, unknown>,
  namespace: string = onePassword.namespace,
): Promise<OnePasswordItem[]> {
  return (await helmTemplate(release, chart, { values, namespace })) as OnePasswordItem[];
}

/** The values apps/docs-prod's HelmRelease gives this chart. */
function deployedValues(): Record<string, unknown> {
  const hr = named(ofKind<HelmRelease>(sourceObjects(tenant.appPath), "HelmRelease"), release, "a HelmRelease");
  return hr.spec.values ?? {};
}

describe("libs/1password-secrets", () => {
  it("passes helm lint --strict with its defaults and with the values apps/docs-prod deploys", () => {
    expect(() => helmLint(chart, { namespace: onePassword.namespace })).not.toThrow();
    expect(() => helmLint(chart, { values: deployedValues(), namespace: onePassword.namespace })).not.toThrow();
  });

  it("renders nothing for an empty list", async () => {
    expect(await render({ items: [] })).toEqual([]);
  });

  it("renders one OnePasswordItem per relay instance, in relay, with the names.ts item paths", async () => {
    const items = await render(deployedValues());
    expect(
      items.map((i) => ({
        apiVersion: i.apiVersion,
        kind: i.kind,
        name: i.metadata.name,
        namespace: i.metadata.namespace,
        itemPath: i.spec.itemPath,
      })),
    ).toEqual(
      instances.map((i) => ({
        apiVersion: "onepassword.com/v1",
        kind: "OnePasswordItem",
        name: i.credentialsSecret,
        namespace: relayNamespace,
        itemPath: i.itemPath,
      })),
    );
  });

  it("puts an entry without a namespace into the release namespace", async () => {
    const [item] = await render({ items: [{ name: "x", itemPath: "vaults/v/items/x" }] }, "elsewhere");
    expect(item?.metadata.namespace).toBe("elsewhere");
  });

  it("labels every item with the release, so `helm` and operators can find them", async () => {
    const [item] = await render({ items: [{ name: "x", namespace: "relay", itemPath: "vaults/v/items/x" }] });
    expect(item?.metadata.labels).toMatchObject({
      "app.kubernetes.io/instance": release,
      "app.kubernetes.io/managed-by": "Helm",
    });
  });

  it("refuses an entry listed twice in one namespace", async () => {
    const entry = { name: "x", namespace: "relay", itemPath: "vaults/v/items/x" };
    await expect(render({ items: [entry, entry] })).rejects.toThrow(/relay\/x is listed twice/);
  });

  it.each([
    [
      "a misspelled key",
      { items: [{ name: "x", nmespace: "relay", itemPath: "vaults/v/items/x" }] },
      schemaError("items.0: Additional property nmespace is not allowed"),
    ],
    [
      "an entry without a name",
      { items: [{ namespace: "relay", itemPath: "vaults/v/items/x" }] },
      schemaError("items.0: name is required"),
    ],
    [
      "an itemPath that is not vaults/<vault>/items/<item>",
      { items: [{ name: "x", itemPath: "setup-docs-prod/x" }] },
      schemaError("items.0.itemPath: Does not match pattern"),
    ],
    [
      "a name that is not a DNS-1123 subdomain",
      { items: [{ name: "Relay_Creds", itemPath: "vaults/v/items/x" }] },
      schemaError("items.0.name: Does not match pattern"),
    ],
    ["an unknown top-level key", { itemz: [] }, schemaError("(root): Additional property itemz is not allowed")],
  ])("its schema rejects %s", async (_what, values, message) => {
    await expect(render(values)).rejects.toThrow(message);
  });
});
