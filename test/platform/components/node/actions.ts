// The node is created by these named actions, in order, as kind's pkg/cluster
// creates a cluster: each starts one part of the node or waits for it. They share
// a NodeContext (context.ts); teardown is the guard's, whatever action failed.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { importImages } from "../../build/images.ts";
import { baseRuntimeSpec, cniConfig, containerdConfig, kubeletConfig } from "./config.ts";
import { exec, forward, type NodeContext, nodeName, nodeReady, startProcess, status, waitFor, waitGuardReady } from "./context.ts";

export interface NodeAction {
  name: string;
  run(ctx: NodeContext): Promise<void>;
}

/** The flags every control-plane component shares: the admin kubeconfig, no leader election, no serving port. */
function controlPlaneFlags(ctx: NodeContext): string[] {
  const kubeconfig = ctx.server.kubeconfigPath;
  return [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"];
}

export const nodeActions: readonly NodeAction[] = [
  {
    name: "mount namespace (the guard)",
    run: async (ctx) => {
      ctx.guardNs = await waitGuardReady(ctx.guard, ctx.dir);
    },
  },
  {
    name: "bridge",
    run: async ({ state, subnet }) => {
      await exec("ip", ["link", "add", "name", state.bridge, "type", "bridge"]);
      await exec("ip", ["addr", "add", `${subnet.gateway}/24`, "dev", state.bridge]);
      await exec("ip", ["link", "set", state.bridge, "up"]);
    },
  },
  {
    name: "S3 server (moto) on the bridge",
    run: async (ctx) => {
      startProcess(ctx, "moto", "python3", ["-m", "moto.server", "-H", ctx.subnet.gateway, "-p", String(ctx.ports.s3)], false);
    },
  },
  {
    name: "controller-manager and scheduler",
    run: async (ctx) => {
      startProcess(ctx, "controller-manager", ctx.kube, [
        "controller-manager",
        ...controlPlaneFlags(ctx),
        "--controllers=*",
        `--service-account-private-key-file=${ctx.server.serviceAccountKeyPath}`,
        `--root-ca-file=${ctx.server.servingCertPath}`,
        "--use-service-account-credentials=true",
      ], false);
      startProcess(ctx, "scheduler", ctx.kube, ["scheduler", ...controlPlaneFlags(ctx)], false);
    },
  },
  {
    // kube-proxy (iptables mode) routes ClusterIPs, so Pods reach a Service by its address.
    // It masquerades all Service traffic: the reply of a Pod on the same bridge then goes
    // back through the host, where conntrack undoes the DNAT. It leaves the conntrack
    // sysctls alone (not writable in this user namespace). Teardown runs `proxy --cleanup`.
    name: "kube-proxy",
    run: async (ctx) => {
      startProcess(ctx, "proxy", ctx.kube, [
        "proxy",
        `--kubeconfig=${ctx.server.kubeconfigPath}`,
        "--proxy-mode=iptables",
        `--hostname-override=${nodeName}`,
        `--cluster-cidr=${ctx.subnet.cidr}`,
        "--masquerade-all",
        "--conntrack-max-per-core=0",
        "--conntrack-tcp-timeout-established=0",
        "--conntrack-tcp-timeout-close-wait=0",
        `--healthz-bind-address=127.0.0.1:${ctx.ports.proxyHealthz}`,
        `--metrics-bind-address=127.0.0.1:${ctx.ports.proxyMetrics}`,
      ], false);
    },
  },
  {
    name: "containerd and the images",
    run: async (ctx) => {
      const { dir, state } = ctx;
      writeFileSync(join(dir, "containerd/base-spec.json"), await baseRuntimeSpec());
      writeFileSync(join(dir, "containerd/config.toml"), containerdConfig(dir, state.containerdAddress, ctx.opts.pauseImage));
      writeFileSync(join(dir, "cni/net.d/10-local.conflist"), JSON.stringify(cniConfig(state.bridge, ctx.subnet.cidr, join(dir, "cni/ipam")), null, 2));
      const containerd = startProcess(ctx, "containerd", "containerd", ["--config", join(dir, "containerd/config.toml")], true);
      await waitFor("containerd to answer on its socket", 30_000, containerd, dir, async () => {
        try {
          await exec("ctr", ["--address", state.containerdAddress, "version"]);
          return true;
        } catch {
          return false;
        }
      });
      const importStarted = Date.now();
      await importImages(state.containerdAddress, ctx.opts.images);
      ctx.log(`imported ${ctx.opts.images.length} images in ${((Date.now() - importStarted) / 1000).toFixed(1)} s`);
    },
  },
  {
    name: "kubelet",
    run: async (ctx) => {
      const { dir, state } = ctx;
      for (const controller of readdirSync("/sys/fs/cgroup")) {
        // The kubelet refuses a cgroup root that does not exist in every hierarchy.
        mkdirSync(join("/sys/fs/cgroup", controller, state.cgroup), { recursive: true });
      }
      writeFileSync(join(dir, "kubelet/config.yaml"), stringify(kubeletConfig(dir, state, ctx.subnet.gateway, ctx.ports.kubelet, ctx.ports.kubeletHealthz)));
      startProcess(ctx, "kubelet", ctx.kube, [
        "kubelet",
        `--config=${join(dir, "kubelet/config.yaml")}`,
        `--kubeconfig=${ctx.server.kubeconfigPath}`,
        `--root-dir=${join(dir, "kubelet")}`,
        `--cert-dir=${join(dir, "kubelet/pki")}`,
        `--hostname-override=${nodeName}`,
        // No DNS resolves the node's name: the API server dials this address (InternalIP).
        // The kubelet refuses a loopback node IP ("nodeIP can't be loopback address"): the bridge's gateway it is.
        `--node-ip=${ctx.subnet.gateway}`,
      ], true);
    },
  },
  {
    name: "S3 on loopback and the buckets",
    run: async (ctx) => {
      ctx.servers.push(await forward(ctx.ports.hostS3, ctx.subnet.gateway, ctx.ports.s3));
      await waitFor("moto's S3 server to answer", 60_000, undefined, ctx.dir, async () => (await status(`${ctx.s3.hostUrl}/`)) === 200);
      for (const bucket of ctx.opts.buckets) {
        const code = await status(`${ctx.s3.hostUrl}/${bucket}`, "PUT");
        if (code !== 200) throw new Error(`expected the local S3 server to create bucket ${bucket}; it answered ${code}`);
      }
    },
  },
  {
    name: "node Ready",
    run: async (ctx) => {
      const nodeUrl = `${ctx.server.url}/api/v1/nodes/${nodeName}`;
      const token = ctx.server.kubeConfig.getCurrentUser()?.token ?? "";
      await waitFor(`node ${nodeName} to be Ready`, 180_000, ctx.processes.get("kubelet"), ctx.dir, async () => nodeReady(nodeUrl, token));
    },
  },
];
