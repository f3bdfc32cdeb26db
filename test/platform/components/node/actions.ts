// The node is created by these named actions, in order, as kind's pkg/cluster
// creates a cluster: each starts one part of the node or waits for it. They share
// a NodeContext (context.ts); teardown is the guard's, whatever action failed.
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { importImages } from "../../build/images.ts";
import { baseRuntimeSpec, cniConfig, containerdConfig, kubeletConfig } from "./config.ts";
import {
  exec,
  forward,
  type NodeContext,
  nodeName,
  nodeReady,
  startProcess,
  status,
  waitFor,
  waitGuardReady,
} from "./context.ts";

export interface NodeAction {
  name: string;
  run(ctx: NodeContext): Promise<void>;
}

/** The flags every control-plane component shares: the admin kubeconfig, no leader election, no serving port. */
function controlPlaneFlags(ctx: NodeContext): string[] {
  const kubeconfig = ctx.server.kubeconfigPath;
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--leader-elect=false",
    "--bind-address=127.0.0.1",
    "--secure-port=0",
  ];
}

/** The node's long-running components, in the order they start. */
export const nodeComponents = ["moto", "controller-manager", "scheduler", "proxy", "containerd", "kubelet"] as const;
export type NodeComponent = (typeof nodeComponents)[number];

interface ComponentCommand {
  command: string;
  args: string[];
  /** Runs in the guard's mount namespace (containerd, the kubelet) rather than the host's. */
  inNamespace: boolean;
}

/** How each component is started: the actions start them with these, and a fault test starts one again the same way. */
function componentCommand(ctx: NodeContext, component: NodeComponent): ComponentCommand {
  const { dir } = ctx;
  switch (component) {
    case "moto":
      return {
        command: "python3",
        args: ["-m", "moto.server", "-H", ctx.subnet.gateway, "-p", String(ctx.ports.s3)],
        inNamespace: false,
      };
    case "controller-manager":
      return {
        command: ctx.kube,
        args: [
          "controller-manager",
          ...controlPlaneFlags(ctx),
          "--controllers=*",
          `--service-account-private-key-file=${ctx.server.serviceAccountKeyPath}`,
          `--root-ca-file=${ctx.server.servingCertPath}`,
          "--use-service-account-credentials=true",
        ],
        inNamespace: false,
      };
    case "scheduler":
      return { command: ctx.kube, args: ["scheduler", ...controlPlaneFlags(ctx)], inNamespace: false };
    case "proxy":
      return {
        command: ctx.kube,
        args: [
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
        ],
        inNamespace: false,
      };
    case "containerd":
      return { command: "containerd", args: ["--config", join(dir, "containerd/config.toml")], inNamespace: true };
    case "kubelet":
      return {
        command: ctx.kube,
        args: [
          "kubelet",
          `--config=${join(dir, "kubelet/config.yaml")}`,
          `--kubeconfig=${ctx.server.kubeconfigPath}`,
          `--root-dir=${join(dir, "kubelet")}`,
          `--cert-dir=${join(dir, "kubelet/pki")}`,
          `--hostname-override=${nodeName}`,
          // No DNS resolves the node's name: the API server dials this address (InternalIP).
          // The kubelet refuses a loopback node IP ("nodeIP can't be loopback address"): the bridge's gateway it is.
          `--node-ip=${ctx.subnet.gateway}`,
        ],
        inNamespace: true,
      };
  }
}

/** Starts one component with its command, without waiting for it. */
function launch(ctx: NodeContext, component: NodeComponent): ChildProcess {
  const { command, args, inNamespace } = componentCommand(ctx, component);
  return startProcess(ctx, component, command, args, inNamespace);
}

/** Starts one component and waits until it answers, where it has a way to tell (containerd, the kubelet, moto). */
export async function startComponent(ctx: NodeContext, component: NodeComponent): Promise<void> {
  const child = launch(ctx, component);
  if (component === "containerd") {
    await waitFor("containerd to answer on its socket", 30_000, child, ctx.dir, async () => {
      try {
        await exec("ctr", ["--address", ctx.state.containerdAddress, "version"]);
        return true;
      } catch {
        return false;
      }
    });
  }
  if (component === "kubelet")
    await waitFor(
      "the kubelet to answer on /healthz",
      60_000,
      child,
      ctx.dir,
      async () => (await status(`http://127.0.0.1:${ctx.ports.kubeletHealthz}/healthz`)) === 200,
    );
  if (component === "moto")
    await waitFor(
      "moto's S3 server to answer",
      60_000,
      child,
      ctx.dir,
      async () => (await status(`${ctx.s3.hostUrl}/`)) === 200,
    );
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
      // Waited for once the loopback forward exists (action "S3 on loopback and the buckets").
      launch(ctx, "moto");
    },
  },
  {
    name: "controller-manager and scheduler",
    run: async (ctx) => {
      await startComponent(ctx, "controller-manager");
      await startComponent(ctx, "scheduler");
    },
  },
  {
    // kube-proxy (iptables mode) routes ClusterIPs, so Pods reach a Service by its address.
    // It masquerades all Service traffic: the reply of a Pod on the same bridge then goes
    // back through the host, where conntrack undoes the DNAT. It leaves the conntrack
    // sysctls alone (not writable in this user namespace). Teardown runs `proxy --cleanup`.
    name: "kube-proxy",
    run: (ctx) => startComponent(ctx, "proxy"),
  },
  {
    name: "containerd and the images",
    run: async (ctx) => {
      const { dir, state } = ctx;
      writeFileSync(join(dir, "containerd/base-spec.json"), await baseRuntimeSpec());
      writeFileSync(
        join(dir, "containerd/config.toml"),
        containerdConfig(dir, state.containerdAddress, ctx.opts.pauseImage),
      );
      writeFileSync(
        join(dir, "cni/net.d/10-local.conflist"),
        JSON.stringify(cniConfig(state.bridge, ctx.subnet.cidr, join(dir, "cni/ipam")), null, 2),
      );
      await startComponent(ctx, "containerd");
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
      writeFileSync(
        join(dir, "kubelet/config.yaml"),
        stringify(kubeletConfig(dir, state, ctx.subnet.gateway, ctx.ports.kubelet, ctx.ports.kubeletHealthz)),
      );
      // Waited for by the action "node Ready".
      launch(ctx, "kubelet");
    },
  },
  {
    name: "S3 on loopback and the buckets",
    run: async (ctx) => {
      ctx.servers.push(await forward(ctx.ports.hostS3, ctx.subnet.gateway, ctx.ports.s3));
      await waitFor(
        "moto's S3 server to answer",
        60_000,
        undefined,
        ctx.dir,
        async () => (await status(`${ctx.s3.hostUrl}/`)) === 200,
      );
      for (const bucket of ctx.opts.buckets) {
        const code = await status(`${ctx.s3.hostUrl}/${bucket}`, "PUT");
        if (code !== 200)
          throw new Error(`expected the local S3 server to create bucket ${bucket}; it answered ${code}`);
      }
    },
  },
  {
    name: "node Ready",
    run: async (ctx) => {
      const nodeUrl = `${ctx.server.url}/api/v1/nodes/${nodeName}`;
      const token = ctx.server.kubeConfig.getCurrentUser()?.token ?? "";
      await waitFor(`node ${nodeName} to be Ready`, 180_000, ctx.processes.get("kubelet"), ctx.dir, async () =>
        nodeReady(nodeUrl, token),
      );
    },
  },
];
