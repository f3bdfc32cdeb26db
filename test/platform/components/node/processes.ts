// The node's processes: its components (pid files), containerd's shims and the Pods'
// processes (its cgroup subtree), for teardown checks and memory figures.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeState } from "./cleanup.ts";

/** The pids of the node's components (from their pid files), containerd's shims and the Pods' processes. */
export function nodeProcesses(state: NodeState): number[] {
  const pids = new Set<number>();
  const pidDir = join(state.dir, "pids");
  if (existsSync(pidDir)) {
    for (const name of readdirSync(pidDir)) {
      const [pid] = readFileSync(join(pidDir, name), "utf8").split(" ");
      if (existsSync(`/proc/${pid}`)) pids.add(Number(pid));
    }
  }
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(state.dir)) pids.add(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  for (const pid of cgroupProcesses(state.cgroup)) pids.add(pid);
  return [...pids];
}

/** Every pid in this node's cgroup subtree, in any hierarchy. */
export function cgroupProcesses(cgroup: string): number[] {
  const pids = new Set<number>();
  const walk = (path: string, depth: number) => {
    if (depth > 10 || !existsSync(path)) return;
    try {
      for (const line of readFileSync(join(path, "cgroup.procs"), "utf8").split("\n")) if (line) pids.add(Number(line));
      for (const entry of readdirSync(path, { withFileTypes: true }))
        if (entry.isDirectory()) walk(join(path, entry.name), depth + 1);
    } catch {
      // Removed while we walked.
    }
  };
  for (const hierarchy of readdirSync("/sys/fs/cgroup")) walk(join("/sys/fs/cgroup", hierarchy, cgroup), 0);
  return [...pids];
}

export function nodeMemory(dir: string, state: NodeState): number {
  let total = 0;
  for (const pid of nodeProcesses({ ...state, dir })) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // Exited.
    }
  }
  return total;
}
