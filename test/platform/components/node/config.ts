// The node's configuration files, as pure functions of its temp dir and addresses:
// containerd's config and base OCI spec, the CNI network, the KubeletConfiguration.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { NodeState } from "./cleanup.ts";

const exec = promisify(execFile);
export const cniDir = "/usr/lib/cni";
export const cniPlugins = ["bridge", "host-local", "portmap", "loopback"];

/**
 * containerd's default OCI spec with the open-files limit production runtimes give a
 * container: soft 1024 (systemd's default, inherited since containerd 2.0 sets no
 * LimitNOFILE), hard the machine's. Without it containers inherit the soft limit of the
 * Go processes between (containerd, shim, runc raise theirs to the hard limit).
 */
export async function baseRuntimeSpec(): Promise<string> {
  const spec = JSON.parse((await exec("ctr", ["oci", "spec"])).stdout) as {
    process: { rlimits?: { type: string; hard: number; soft: number }[] };
  };
  const hard = Number((await exec("sh", ["-c", "ulimit -Hn"])).stdout.trim()) || 1024;
  spec.process.rlimits = [{ type: "RLIMIT_NOFILE", hard, soft: 1024 }];
  return JSON.stringify(spec, null, 2);
}

export function containerdConfig(dir: string, address: string, pauseImage: string): string {
  return `version = 2
root = "${join(dir, "containerd/root")}"
state = "${join(dir, "containerd/state")}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${address}"

[ttrpc]
  address = "${address}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, "containerd/opt")}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pauseImage}"
  # This machine runs in a user namespace: a negative oom_score_adj (the kubelet
  # asks -998 for sandboxes) is refused and every sandbox would fail to start.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${cniDir}"
    conf_dir = "${join(dir, "cni/net.d")}"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      # Containers start at the soft open-files limit 1024 that production runtimes give them.
      base_runtime_spec = "${join(dir, "containerd/base-spec.json")}"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
`;
}

export function cniConfig(bridge: string, cidr: string, ipamDir: string): object {
  return {
    cniVersion: "1.0.0",
    name: bridge,
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        // Pods only talk to the host (S3 on the gateway): no masquerading, no iptables rules to clean up.
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: "host-local", dataDir: ipamDir, ranges: [[{ subnet: cidr }]], routes: [{ dst: "0.0.0.0/0" }] },
      },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "loopback" },
    ],
  };
}

export function kubeletConfig(
  dir: string,
  state: NodeState,
  nodeIp: string,
  port: number,
  healthzPort: number,
): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    // No systemd as PID 1 here, and a cgroup v1 hierarchy.
    cgroupDriver: "cgroupfs",
    failCgroupV1: false,
    // Our own cgroup root, so teardown removes this node's Pods' cgroups and no one else's.
    cgroupRoot: `/${state.cgroup}`,
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${state.containerdAddress}`,
    enforceNodeAllocatable: [],
    localStorageCapacityIsolation: false,
    // The node IP: on the host's own bridge, never on an outside interface.
    address: nodeIp,
    port,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort,
    podLogsDir: join(dir, "pod-logs"),
    // Host-local only: the API server (logs, port-forward) is the one client meant.
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: "AlwaysAllow" },
    clusterDomain: "cluster.local",
    // The test machine's disk is shared and busy: never evict or collect images for disk pressure.
    evictionHard: { "memory.available": "100Mi" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
  };
}
