// Runs Flux's source-, kustomize- and helm-controller out of cluster against a
// local API server, with the flags of the upstream Deployments (all namespaces),
// leader election off and every address on loopback; all state in temp dirs.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CrdObject, freePorts, type ApiServer } from "./api-server.ts";
import {
  ensureFluxBinaries,
  type FluxController,
  fluxControllers,
  fluxControllerVersion,
} from "../build/flux-binaries.ts";
import { goModuleDir } from "../build/shell.ts";
import { parseManifests } from "../../../scripts/lib/yaml.ts";

export { fluxControllers, type FluxController } from "../build/flux-binaries.ts";

export interface FluxRun {
  /** Where source-controller serves artifacts, e.g. http://127.0.0.1:PORT */
  storageUrl: string;
  /** The exact command line each controller was started with. */
  args: Record<FluxController, string[]>;
  /** Resident memory of each controller now, in bytes (from /proc). */
  rss(): Record<FluxController, number>;
  /** Process ids of the controllers themselves (not their watchdog shells). */
  pids(): Record<FluxController, number>;
  /** The temp dirs holding all state (logs, artifacts); gone after stop(). */
  stateDirs: string[];
  /** Each controller's recent output (JSON log lines), for failure messages. */
  log(c: FluxController): string;
  /** A crash: the controller is killed (SIGKILL) mid-work; its temp dir goes with it. */
  kill(c: FluxController): Promise<void>;
  /** Starts a killed controller again with the same command line (as its Deployment would), until ready. */
  start(c: FluxController): Promise<void>;
  stop(): Promise<void>;
}

// The controller runs under a small shell that holds our end of its stdin: when
// this process dies (even by SIGKILL) stdin reaches EOF and the shell stops the
// controller (TERM, then KILL after 20 s). When the controller has exited, the
// shell removes its temp dir and ends its helpers (cat, sleep) in its process group.
const watchdog = `
state=$1; shift
exec 3<&0
"$@" </dev/null 3<&- &
pid=$!
{ cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null; sleep 20; kill -KILL "$pid" 2>/dev/null; } &
exec 3<&-
wait "$pid"; code=$?
rm -rf "$state"
trap '' TERM
kill -TERM 0
exit "$code"
`;

export interface Running {
  child: ChildProcess;
  dir: string;
  exited: Promise<number | null>;
  /** The controller's output, kept in memory (its dir is gone once it exits). */
  output: { text: string };
}

const keepOutput = 512 * 1024;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Every CRD the controllers watch, from their modules in the Go module cache.
 * source-controller refuses to start while one of its kinds (Bucket,
 * OCIRepository, ExternalArtifact …) is not served.
 */
export async function fluxControllerCrds(): Promise<CrdObject[]> {
  const crds: CrdObject[] = [];
  for (const c of fluxControllers) {
    const module = `github.com/fluxcd/${c}@${fluxControllerVersion(c)}`;
    let dir: string;
    try {
      dir = await goModuleDir(module);
    } catch (error) {
      throw new Error(
        `expected \`go mod download ${module}\` to fetch the controller's CRDs; it failed: ${(error as Error).message}`,
      );
    }
    const bases = join(dir, "config/crd/bases");
    for (const file of readdirSync(bases).filter((f) => f.endsWith(".yaml"))) {
      for (const obj of parseManifests(readFileSync(join(bases, file), "utf8"), join(bases, file))) {
        if (obj.kind === "CustomResourceDefinition") crds.push(obj as unknown as CrdObject);
      }
    }
  }
  return crds;
}

/**
 * Starts the three controllers and waits until each reports ready on its health
 * endpoint. With `installCrds` (a ApiServer has it) it first installs every CRD
 * the controllers watch.
 */
export async function startFlux(
  server: Pick<ApiServer, "kubeconfigPath"> & Partial<Pick<ApiServer, "installCrds">>,
  log: (line: string) => void = () => {},
): Promise<FluxRun> {
  const binaries = await ensureFluxBinaries(log);
  if (server.installCrds) await server.installCrds(await fluxControllerCrds());
  const [storagePort, ...healthPorts] = await freePorts(1 + fluxControllers.length);
  const storageUrl = `http://127.0.0.1:${storagePort}`;
  const common = (health: number) => [
    "--watch-all-namespaces=true",
    "--enable-leader-election=false",
    "--metrics-addr=0", // controller-runtime: "0" turns the metrics server off
    `--health-addr=127.0.0.1:${health}`,
    "--log-level=info",
    "--log-encoding=json",
  ];
  const dirs = Object.fromEntries(fluxControllers.map((c) => [c, mkdtempSync(join(tmpdir(), `flux-${c}-`))])) as Record<
    FluxController,
    string
  >;
  const storage = join(dirs["source-controller"], "storage");
  mkdirSync(storage); // source-controller refuses a storage path that does not exist
  const args: Record<FluxController, string[]> = {
    "source-controller": [
      ...common(healthPorts[0]!),
      `--storage-path=${storage}`,
      `--storage-addr=127.0.0.1:${storagePort}`,
      `--storage-adv-addr=127.0.0.1:${storagePort}`,
    ],
    // Not in the upstream Deployment: keeps kustomize from fetching remote bases, so all traffic stays on loopback.
    "kustomize-controller": [...common(healthPorts[1]!), "--no-remote-bases=true"],
    "helm-controller": common(healthPorts[2]!),
  };

  const running = new Map<FluxController, Running>();
  const outputs = Object.fromEntries(fluxControllers.map((c) => [c, { text: "" }])) as Record<
    FluxController,
    { text: string }
  >;
  const stop = async () => {
    await Promise.all([...running.values()].map((r) => stopOne(r)));
    running.clear();
  };
  try {
    for (const c of fluxControllers)
      running.set(c, spawnController(c, binaries[c], args[c], dirs[c], server.kubeconfigPath, outputs[c]));
    await Promise.all(fluxControllers.map((c, i) => waitHealthy(`Flux ${c}`, healthPorts[i]!, running.get(c)!)));
  } catch (error) {
    await stop();
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    storageUrl,
    args,
    rss: () =>
      Object.fromEntries(
        fluxControllers.map((c) => [c, controllerStatus(running.get(c)?.child.pid)?.rss ?? 0]),
      ) as Record<FluxController, number>,
    pids: () =>
      Object.fromEntries(
        fluxControllers.map((c) => [c, controllerStatus(running.get(c)?.child.pid)?.pid ?? 0]),
      ) as Record<FluxController, number>,
    stateDirs: Object.values(dirs),
    log: (c) => outputs[c].text,
    kill: async (c) => {
      const r = running.get(c);
      const pid = controllerStatus(r?.child.pid)?.pid;
      if (!r || !pid) return;
      process.kill(pid, "SIGKILL");
      // The watchdog sees the controller gone, removes its dir and ends.
      await r.exited;
      running.delete(c);
    },
    start: async (c) => {
      if (running.has(c)) return;
      mkdirSync(c === "source-controller" ? storage : dirs[c], { recursive: true });
      running.set(c, spawnController(c, binaries[c], args[c], dirs[c], server.kubeconfigPath, outputs[c]));
      await waitHealthy(c, healthPorts[fluxControllers.indexOf(c)]!, running.get(c)!);
    },
    stop,
  };
}

function spawnController(
  c: FluxController,
  binary: string,
  args: string[],
  dir: string,
  kubeconfig: string,
  output: { text: string },
): Running {
  // Everything a controller might write outside its flags goes to its temp dir too.
  const env = {
    PATH: process.env.PATH,
    KUBECONFIG: kubeconfig,
    HOME: dir,
    TMPDIR: dir,
    XDG_CACHE_HOME: join(dir, ".cache"),
    XDG_CONFIG_HOME: join(dir, ".config"),
    TUF_ROOT: join(dir, ".sigstore"),
    RUNTIME_NAMESPACE: "flux-system",
  };
  return spawnWatched(`flux-${c}`, [binary, ...args], dir, env, output);
}

/** Starts `command` under the watchdog: it stops when this process dies, and its temp `dir` goes when it exits. */
export function spawnWatched(
  name: string,
  command: string[],
  dir: string,
  env: NodeJS.ProcessEnv,
  output: { text: string },
): Running {
  if (!exitHookInstalled) {
    process.once("exit", () => live.forEach((child) => child.pid && killGroup(child.pid, "SIGKILL")));
    exitHookInstalled = true;
  }
  const child = spawn("/bin/sh", ["-c", watchdog, name, dir, ...command], {
    stdio: ["pipe", "pipe", "pipe"],
    env,
    detached: true,
  });
  const keep = (chunk: Buffer) => {
    output.text += chunk.toString();
    if (output.text.length > keepOutput) output.text = output.text.slice(-keepOutput);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  live.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  return { child, dir, exited, output };
}

export async function stopOne(r: Running): Promise<void> {
  r.child.stdin?.end();
  const timer = setTimeout(() => r.child.pid && killGroup(r.child.pid, "SIGKILL"), 25_000);
  await r.exited;
  clearTimeout(timer);
  // The watchdog removed the dir; this covers a watchdog killed by the timer.
  rmSync(r.dir, { recursive: true, force: true });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export async function waitHealthy(what: string, port: number, r: Running): Promise<void> {
  let code: number | null | undefined;
  void r.exited.then((value) => (code = value ?? -1));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (code !== undefined) {
      const tail = r.output.text.split("\n").slice(-15).join("\n");
      throw new Error(`expected ${what} to start; it exited with code ${code}:\n${tail}`);
    }
    if ((await httpStatus(`http://127.0.0.1:${port}/readyz`)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `expected ${what} to answer 200 on http://127.0.0.1:${port}/readyz within 60 s; it did not:\n${r.output.text.split("\n").slice(-15).join("\n")}`,
  );
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** Pid and resident memory of the controller, the watchdog shell's child. */
function controllerStatus(shellPid: number | undefined): { pid: number; rss: number } | undefined {
  if (!shellPid) return undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, "utf8");
    } catch {
      continue;
    }
    const ppid = /^PPid:\s+(\d+)$/m.exec(status)?.[1];
    const name = /^Name:\s+(\S+)$/m.exec(status)?.[1];
    if (Number(ppid) !== shellPid || name === "sh" || name === "cat") continue;
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return { pid: Number(entry), rss: kb ? Number(kb) * 1024 : 0 };
  }
  return undefined;
}
