// KubeVirt CCM mirror matching (scripts/lib/mirrors.ts): names from UIDs, labels,
// ports, and the explanation for each way it can fail.
import { describe, expect, it } from "vitest";
import {
  candidatesFor,
  matchMirror,
  mirrorName,
  mirrorSelector,
  type ServiceObject,
} from "../../scripts/lib/mirrors.ts";
import { ccmLabels, tenant } from "../../scripts/lib/names.ts";

const where = { tenant: "cluster-docs-infra-prod", management: "enigma-cluster" };
const uid = "6fa1a266-2ad0-11e9-b210-d663bd873d93";

function tenantService(over: Partial<ServiceObject["spec"]> = {}, name = "relay-personal-relay-server"): ServiceObject {
  return {
    metadata: { name, namespace: "relay", uid },
    spec: { type: "LoadBalancer", ports: [{ name: "http", port: 8080, protocol: "TCP" }], ...over },
  };
}

function mirror(
  name: string,
  opts: { service?: string; namespace?: string; cluster?: string; ports?: { name?: string; port: number }[] } = {},
): ServiceObject {
  return {
    metadata: {
      name,
      namespace: "tenant-root",
      labels: {
        [ccmLabels.serviceName]: opts.service ?? "relay-personal-relay-server",
        [ccmLabels.serviceNamespace]: opts.namespace ?? "relay",
        [ccmLabels.clusterName]: opts.cluster ?? tenant.release,
      },
    },
    spec: { type: "ClusterIP", ports: opts.ports ?? [{ name: "http", port: 8080 }] },
  };
}

const expected = "a6fa1a2662ad011e9b210d663bd873d9";

describe("mirrorName", () => {
  it('is "a" + the UID without dashes, cut to 32 characters (the platform-facts example)', () => {
    expect(mirrorName(uid)).toBe(expected);
    expect(mirrorName(uid)).toHaveLength(32);
  });

  it("selects mirrors by the tenant's cluster-name label", () => {
    expect(mirrorSelector).toBe("cluster.x-k8s.io/cluster-name=kubernetes-cluster-docs-infra-prod");
  });
});

describe("matchMirror", () => {
  it("finds the one mirror labelled for the Service and uses the tenant port", () => {
    const result = matchMirror(
      tenantService(),
      [mirror("a0000000000000000000000000000000", { service: "other" }), mirror(expected)],
      "http",
      where,
    );
    expect(result).toEqual({
      ok: true,
      mirror: expected,
      backend: { service: expected, port: { number: 8080, name: "http" } },
    });
  });

  it("ignores mirrors of another namespace or another tenant cluster", () => {
    const others = [
      mirror(expected, { namespace: "default" }),
      mirror(expected, { cluster: "kubernetes-cluster-other" }),
    ];
    expect(candidatesFor(tenantService(), others)).toEqual([]);
  });

  it("explains zero mirrors: CCM not running or not a LoadBalancer", () => {
    const result = matchMirror(tenantService(), [], "http", where);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problem).toBe("none");
    expect(!result.ok && result.message).toContain(
      "no mirror yet: KubeVirt CCM not running, or the Service is not a LoadBalancer",
    );
    expect(!result.ok && result.message).toContain(expected);
  });

  it("lists both candidates when two mirrors carry the labels, marking the one that matches the UID", () => {
    const result = matchMirror(
      tenantService(),
      [mirror("astale0000000000000000000000000a"), mirror(expected)],
      "http",
      where,
    );
    expect(!result.ok && result.problem).toBe("several");
    expect(!result.ok && result.message).toContain(
      "found 2 candidates: astale0000000000000000000000000a, a6fa1a2662ad011e9b210d663bd873d9 (matches the UID)",
    );
  });

  it("refuses a tenant Service that is not a LoadBalancer: CCM mirrors only those", () => {
    const result = matchMirror(tenantService({ type: "ClusterIP" }), [mirror(expected)], "http", where);
    expect(!result.ok && result.problem).toBe("not-load-balancer");
    expect(!result.ok && result.message).toMatch(/LoadBalancer.*found type ClusterIP/);
  });

  it("explains a port mismatch with both port lists", () => {
    const result = matchMirror(
      tenantService(),
      [mirror(expected, { ports: [{ name: "http", port: 80 }] })],
      "http",
      where,
    );
    expect(!result.ok && result.problem).toBe("ports");
    expect(!result.ok && result.message).toContain("[http:8080]; found [http:80]");
  });

  it("explains a mirror whose name does not come from the Service's UID (a recreated Service)", () => {
    const result = matchMirror(
      tenantService(),
      [mirror("a11111111111111111111111111111111".slice(0, 32))],
      "http",
      where,
    );
    expect(!result.ok && result.problem).toBe("name");
    expect(!result.ok && result.message).toContain(`to be named ${expected}; found a1111111111111111111111111111111`);
  });

  it("explains a tenant Service without the chart's port", () => {
    const result = matchMirror(
      tenantService({
        ports: [
          { name: "web", port: 80 },
          { name: "metrics", port: 9090 },
        ],
      }),
      [mirror(expected)],
      "http",
      where,
    );
    expect(!result.ok && result.problem).toBe("no-port");
  });
});
