// The local tenant cluster on a real node: the kubelet runs the Relay server built
// from its upstream source, installed by our chart with the instance's values, and
// teardown leaves nothing behind, even when the process that started it is killed.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { instanceByName } from "../../scripts/lib/instances.ts";
import { defaultServerTag, versionOfTag } from "../../scripts/lib/server-versions.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { runTool, toolPath } from "../../scripts/lib/tools.ts";
import {
  detectNodeMode,
  localNofile,
  type NodeCluster,
  nodeName,
  nodeProcesses,
  type NodeState,
  startNodeCluster,
} from "../platform/index.ts";

const exec = promisify(execFile);
const mode = detectNodeMode();
console.log(`[node] ${mode.reason}`);
// CI must prove the node, never skip it: there the missing piece is a failure.
const run = mode.node || process.env.CI === "true";

const relay = instanceByName("personal");
const instance = relay.release;
let cluster: NodeCluster;
let kubeconfig: string;
let peakMemory = 0;
let sampler: NodeJS.Timeout | undefined;
const figures: Record<string, string> = {};

function sampleMemory(): void {
  peakMemory = Math.max(peakMemory, cluster.memoryBytes());
}

const kubectl = (...args: string[]) => runTool("kubectl", ["--kubeconfig", kubeconfig, ...args]);
const helm = (...args: string[]) => runTool("helm", ["--kubeconfig", kubeconfig, ...args]);
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** Everything of a node still on the machine: processes, cgroups, bridge, temp dir, mounts, netns. */
async function leftovers(state: NodeState, netnsBefore: string): Promise<string[]> {
  const found: string[] = [];
  const pids = nodeProcesses(state);
  if (pids.length > 0) found.push(`processes ${pids.join(", ")}`);
  for (const h of readdirSync("/sys/fs/cgroup"))
    if (existsSync(join("/sys/fs/cgroup", h, state.cgroup))) found.push(`cgroup ${h}/${state.cgroup}`);
  if (existsSync(`/sys/class/net/${state.bridge}`)) found.push(`bridge ${state.bridge}`);
  const input = await exec("iptables", ["-S", "INPUT"]).then(
    (r) => r.stdout,
    () => "",
  );
  if (input.includes(` -i ${state.bridge} `)) found.push(`iptables INPUT rules on ${state.bridge}`);
  if (existsSync(state.dir)) found.push(`temp dir ${state.dir}`);
  if (readFileSync("/proc/self/mountinfo", "utf8").includes(state.dir)) found.push(`mounts under ${state.dir}`);
  const netns = (await exec("ip", ["netns", "list"])).stdout;
  if (netns !== netnsBefore) found.push(`network namespaces changed: ${netns.trim() || "(none)"}`);
  for (const dir of ["/var/lib/cni/results", "/var/lib/cni/networks"]) {
    if (existsSync(dir) && readdirSync(dir).some((f) => f.includes(state.bridge)))
      found.push(`${dir} entries for ${state.bridge}`);
  }
  // The kubelet's host-wide iptables chains, when iptables is installed and no other kubelet runs.
  const rules = await exec("iptables-save", []).then(
    (r) => r.stdout,
    () => "",
  );
  const otherKubelet = (
    await exec("pgrep", ["-f", "kubelet"]).then(
      (r) => r.stdout,
      () => "",
    )
  ).trim();
  if (!otherKubelet && rules.includes("KUBE-"))
    found.push(`iptables chains ${[...new Set(rules.match(/KUBE-[A-Z-]+/g))].join(", ")}`);
  // kube-proxy's chains (Services, endpoints, masquerading), unless another kube-proxy runs.
  const otherProxy = (
    await exec("pgrep", ["-f", "kube proxy"]).then(
      (r) => r.stdout,
      () => "",
    )
  ).trim();
  const proxyChains = [
    ...new Set(rules.match(/KUBE-(SERVICES|SVC-\w+|SEP-\w+|POSTROUTING|MARK-MASQ|NODEPORTS|FORWARD|PROXY-\w+)/g)),
  ];
  if (otherKubelet && !otherProxy && proxyChains.length > 0)
    found.push(`kube-proxy iptables chains ${proxyChains.join(", ")}`);
  return found;
}

async function eventually(what: string, timeoutMs: number, check: () => Promise<string[]>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string[] = [];
  while (Date.now() < deadline) {
    last = await check();
    if (last.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`expected ${what} within ${timeoutMs / 1000} s; still there: ${last.join("; ")}`);
}

describe.skipIf(!run)("local tenant cluster on a real node", () => {
  let netnsBefore = "";
  let state: NodeState;

  beforeAll(async () => {
    if (!mode.node) throw new Error(`expected node mode in CI; ${mode.reason}`);
    netnsBefore = (await exec("ip", ["netns", "list"])).stdout;
    const started = Date.now();
    cluster = await startNodeCluster((line) => console.log(`[node] ${line}`));
    figures["cluster start to node Ready"] = seconds(started);
    kubeconfig = cluster.server.kubeconfigPath;
    state = JSON.parse(readFileSync(join(cluster.node.dir, "node.json"), "utf8")) as NodeState;
    sampler = setInterval(sampleMemory, 1000);
  });

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    await cluster?.stop();
    if (peakMemory > 0) figures["peak memory of the local cluster"] = `${(peakMemory / 2 ** 20).toFixed(0)} MiB`;
    console.log(`[node] figures: ${JSON.stringify(figures)}`);
  });

  it("registers the node and reports it Ready, at the module's Kubernetes version", async () => {
    const node = JSON.parse(await kubectl("get", "node", nodeName, "-o", "json")) as {
      status: {
        conditions: { type: string; status: string }[];
        nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
        addresses: { type: string; address: string }[];
      };
    };
    expect(node.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    expect(node.status.nodeInfo.kubeletVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node.status.addresses).toContainEqual({ type: "InternalIP", address: cluster.node.gateway });
  });

  it("gives a Deployment a running Pod with a ServiceAccount token, and serves its logs", async () => {
    const pause = (
      await exec("ctr", ["--address", state.containerdAddress, "-n", "k8s.io", "images", "ls", "-q"])
    ).stdout
      .split("\n")
      .find((i) => i.startsWith("docker.io/local/pause:"));
    expect(pause).toBeDefined();
    const manifest = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "hold", namespace: "default" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "hold" } },
        template: {
          metadata: { labels: { app: "hold" } },
          spec: { containers: [{ name: "hold", image: pause, imagePullPolicy: "Never" }] },
        },
      },
    };
    const file = join(mkdtempSync(join(tmpdir(), "node-test-")), "hold.yaml");
    writeFileSync(file, stringify(manifest));
    await kubectl("apply", "-f", file);
    rmSync(join(file, ".."), { recursive: true, force: true });
    await kubectl("rollout", "status", "deployment/hold", "--timeout=120s");
    const pod = JSON.parse(await kubectl("get", "pods", "-l", "app=hold", "-o", "json")) as {
      items: { status: { phase: string; podIP: string }; spec: { volumes?: { name: string }[] } }[];
    };
    expect(pod.items[0]?.status.phase).toBe("Running");
    expect(pod.items[0]?.status.podIP.startsWith(cluster.node.podSubnet.replace(/0\/24$/, ""))).toBe(true);
    // The controller-manager issued the default ServiceAccount and its projected token.
    expect(pod.items[0]?.spec.volumes?.some((v) => v.name.startsWith("kube-api-access-"))).toBe(true);
    // Logs go API server → kubelet by the node's InternalIP.
    await kubectl("logs", "deployment/hold");
  });

  it("serves presigned S3 URLs: PUT through one, GET it back through another", async () => {
    const presign = async (method: string, key: string) =>
      (
        await exec("python3", [
          "-c",
          "import boto3,sys; c=boto3.client('s3',endpoint_url=sys.argv[1],region_name='us-east-1',aws_access_key_id='local-node',aws_secret_access_key='local-node-secret'); print(c.generate_presigned_url(sys.argv[2],Params={'Bucket':sys.argv[3],'Key':sys.argv[4]},ExpiresIn=300))",
          cluster.node.s3.hostUrl,
          method,
          relay.bucket,
          key,
        ])
      ).stdout.trim();
    const body = `presigned ${Date.now()}`;
    const put = await fetch(await presign("put_object", "probe.txt"), { method: "PUT", body });
    expect(put.status).toBe(200);
    const get = await fetch(await presign("get_object", "probe.txt"));
    expect(get.status).toBe(200);
    expect(await get.text()).toBe(body);
    // moto does not verify signatures (a tampered one is served too): this proves the
    // presigned URL form (path style, query auth) round-trips, not that S3 checks it.
  });

  it(`installs ${instance} with the chart and its values; the Pod gets Ready through the real /ready probes`, async () => {
    await kubectl("create", "namespace", "relay");
    await kubectl("label", "namespace", "relay", "pod-security.kubernetes.io/enforce=restricted");
    const { s3 } = cluster.node;
    await kubectl(
      "-n",
      "relay",
      "create",
      "secret",
      "generic",
      `${instance}-s3-credentials`,
      `--from-literal=accessKey=${s3.accessKeyId}`,
      `--from-literal=secretKey=${s3.secretAccessKey}`,
    );
    const dir = mkdtempSync(join(tmpdir(), "node-values-"));
    const local = join(dir, "local.yaml");
    writeFileSync(
      local,
      stringify({
        // A Pod must never be sent to the production S3 endpoint: the node's own, on the bridge.
        storage: { s3: { endpoint: s3.podUrl } },
        // Nothing gives a LoadBalancer an address here, and helm --wait would wait for one.
        service: { type: "ClusterIP" },
        // The instances ask more open files than this machine's hard limit (20000) allows.
        ulimits: { nofile: localNofile },
      }),
    );
    const started = Date.now();
    try {
      await helm(
        "upgrade",
        "--install",
        instance,
        join(repoRoot, "libs/relay-server"),
        "-f",
        join(repoRoot, relay.valuesFile),
        "-f",
        local,
        "--namespace",
        "relay",
        "--wait",
        "--atomic",
        "--timeout",
        "5m",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    figures["helm install to Ready"] = seconds(started);
    const pods = JSON.parse(
      await kubectl("-n", "relay", "get", "pods", "-l", `app.kubernetes.io/instance=${instance}`, "-o", "json"),
    ) as {
      items: { status: { conditions: { type: string; status: string }[] } }[];
    };
    expect(pods.items).toHaveLength(1);
    expect(pods.items[0]?.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
    // The server lists its bucket at start (and exits if it cannot): it did so on the node's S3, from the Pod network.
    const s3Log = readFileSync(join(cluster.node.dir, "logs/moto.log"), "utf8");
    const podPrefix = cluster.node.podSubnet.replace(/0\/24$/, "");
    expect(s3Log.split("\n").some((line) => line.startsWith(podPrefix) && line.includes(`/${relay.bucket}`))).toBe(
      true,
    );
  }, 400_000);

  it("answers GET /ready with 200 through the Service, from the host (kubectl port-forward)", async () => {
    // The chart names the Service; read it rather than repeat the chart's naming here.
    const services = JSON.parse(
      await kubectl("-n", "relay", "get", "services", "-l", `app.kubernetes.io/instance=${instance}`, "-o", "json"),
    ) as {
      items: { metadata: { name: string }; spec: { ports: { port: number }[] } }[];
    };
    expect(services.items).toHaveLength(1);
    const service = services.items[0]!;
    const forward = spawn(
      toolPath("kubectl"),
      [
        "--kubeconfig",
        kubeconfig,
        "-n",
        "relay",
        "port-forward",
        `svc/${service.metadata.name}`,
        `:${service.spec.ports[0]!.port}`,
        "--address",
        "127.0.0.1",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(
          () => reject(new Error(`expected kubectl port-forward to report a port within 30 s; it printed: ${out}`)),
          30_000,
        );
        forward.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          const match = /127\.0\.0\.1:(\d+) ->/.exec(out);
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
        forward.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
      });
      const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(200);
      // The instance renders the chart's default image, which reports its real release.
      expect(res.headers.get("relay-server-version")).toBe(versionOfTag(defaultServerTag()));
      expect(await res.json()).toEqual({ ok: true });
    } finally {
      forward.kill();
    }
  });

  it("passes the chart's helm test: its Pod reaches the Service's ClusterIP (service-link env, kube-proxy on the node)", async () => {
    const out = await helm("test", instance, "--namespace", "relay", "--timeout", "2m").catch(async (error: Error) => {
      // What the test Pod saw, and what kube-proxy did, for the one reading the failure.
      const log = await kubectl("-n", "relay", "logs", `${instance}-relay-server-test-ready`).catch(
        (e: Error) => e.message,
      );
      const proxy = readFileSync(join(cluster.node.dir, "logs/proxy.log"), "utf8")
        .split("\n")
        .filter((l) => /^[EW]/.test(l))
        .slice(-5)
        .join(" | ");
      const nat = (await exec("iptables-save", ["-t", "nat"])).stdout
        .split("\n")
        .filter((l) => l.includes("relay-personal"))
        .slice(0, 4)
        .join(" | ");
      const status = await kubectl(
        "-n",
        "relay",
        "get",
        "pod",
        `${instance}-relay-server-test-ready`,
        "-o",
        "jsonpath={.status.containerStatuses[0].state.terminated}",
      ).catch((e: Error) => e.message);
      const svc = JSON.parse(await kubectl("-n", "relay", "get", "svc", `${instance}-relay-server`, "-o", "json")) as {
        spec: { clusterIP: string; ports: { port: number }[] };
      };
      const fromHost = await fetch(`http://${svc.spec.clusterIP}:${svc.spec.ports[0]!.port}/ready`, {
        signal: AbortSignal.timeout(5000),
      }).then(
        (r) => String(r.status),
        (e: Error) => e.message,
      );
      throw new Error(
        `${error.message}\ntest Pod log: ${log}\nterminated: ${status}\nClusterIP from the host: ${fromHost}\nkube-proxy errors: ${proxy}\nnat rules: ${nat}`,
      );
    });
    expect(out).toMatch(/TEST SUITE:\s+relay-personal-relay-server-test-ready[\s\S]*Phase:\s+Succeeded/);
    // kube-proxy wrote the Service's chain on the host.
    const rules = (await exec("iptables-save", ["-t", "nat"])).stdout;
    expect(rules).toMatch(/KUBE-SERVICES .*relay\/relay-personal-relay-server:http/);
  }, 180_000);

  it("leaves nothing behind after stop: no process, cgroup, bridge, mount, netns, kube-proxy chain or temp dir", async () => {
    if (sampler) clearInterval(sampler);
    sampleMemory();
    await cluster.stop();
    expect(await leftovers(state, netnsBefore)).toEqual([]);
  }, 120_000);

  it("leaves nothing behind when the process that started a node is killed with SIGKILL, its S3 outage rule included", async () => {
    // With the node's S3 refused to its Pods (a fault test's rule, which names the bridge): teardown removes it too.
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "test/platform/programs/start-node-and-wait.ts"), "--block-s3"],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const killed: NodeState = await new Promise((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]!) as NodeState);
      });
      child.once("exit", (code) =>
        reject(
          new Error(
            `expected the node starter to print its node; it exited with ${code}: ${err.trim().split("\n").slice(-5).join(" | ")}`,
          ),
        ),
      );
    });
    expect(nodeProcesses(killed).length).toBeGreaterThan(3);
    expect((await exec("iptables", ["-S", "INPUT"])).stdout).toContain(` -i ${killed.bridge} `);
    child.kill("SIGKILL");
    await eventually("the killed starter's node to be gone", 60_000, () => leftovers(killed, netnsBefore));
  }, 300_000);
});
