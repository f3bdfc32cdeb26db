// Why the Pods of a relay Deployment do not run: the reason a container waits
// (image pull, crash loop, a missing Secret) and a crash loop's last log lines.
// verify reports it for a Deployment that is not available; relay-server:upgrade
// watches for it while helm waits, since helm itself only says "context deadline exceeded".
import type { KubeClient, Live } from "./kube.ts";

export interface PodTrouble {
  pods: number;
  restarts: number;
  /** "<pod> in <reason> (<message>)", when a container waits for more than its start. */
  waiting?: string;
  /** The last lines of the failing container's previous log, one per entry. */
  logLines: string[];
  crashLoop: boolean;
  /** How the container's previous run ended, e.g. "OOMKilled (exit 137) at 2026-…": what a restart count alone does not say. */
  lastEnded?: string;
}

type ContainerStatus = {
  ready?: boolean;
  restartCount?: number;
  state?: { waiting?: { reason?: string; message?: string } };
  lastState?: { terminated?: { reason?: string; exitCode?: number; finishedAt?: string } };
};

/**
 * The Pods matching `matchLabels` in `namespace`, and what keeps their containers from running.
 * `again`: read the Pods once more when the last run's log is already gone (below).
 */
export async function podTrouble(
  client: KubeClient,
  namespace: string,
  matchLabels: Record<string, string>,
  again = true,
): Promise<PodTrouble> {
  const selector = Object.entries(matchLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  // Pods on their way out (the old ReplicaSet's, during a Recreate) say nothing about the new ones; newest first.
  const pods = ((await client.list("v1", "Pod", namespace, selector)) as Live[])
    .filter((p) => !(p.metadata as { deletionTimestamp?: string }).deletionTimestamp)
    .sort((a, b) =>
      String((b.metadata as { creationTimestamp?: string }).creationTimestamp).localeCompare(
        String((a.metadata as { creationTimestamp?: string }).creationTimestamp),
      ),
    );
  const statuses = pods.flatMap((p) =>
    ((p.status?.containerStatuses as ContainerStatus[] | undefined) ?? []).map((s) => ({ pod: p.metadata.name, ...s })),
  );
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  const failing = statuses.find(
    (s) => s.state?.waiting?.reason && !["ContainerCreating", "PodInitializing"].includes(s.state.waiting.reason),
  );
  const crashLoop = failing?.state?.waiting?.reason === "CrashLoopBackOff";
  // A crash loop is Running between its back-offs (a start that waits on S3 runs until it
  // gives up): a container not ready whose last run ended has that run's log to show too.
  const crashed = failing ?? statuses.find((s) => !s.ready && s.lastState?.terminated);
  let logLines: string[] = [];
  if (crashed && (crashLoop || crashed.lastState?.terminated)) {
    // The runtime copies stdout and stderr to the log through separate pipes: read within a
    // moment of the exit, the log was seen without the run's last stderr line (the server's
    // "Error: …" as it exits). finishedAt is in whole seconds: wait until 2 s after it at most.
    const finished = Date.parse(crashed.lastState?.terminated?.finishedAt ?? "");
    const settled = finished + 2000 - Date.now();
    if (settled > 0 && settled <= 3000) await new Promise((r) => setTimeout(r, settled));
    const text = await client
      .requestText(`/api/v1/namespaces/${namespace}/pods/${crashed.pod}/log?tailLines=200&previous=true`)
      .catch(() => "");
    // The kubelet's container GC (every minute) keeps only the newest run that is not
    // running, a run just created included (pkg/kubelet/kuberuntime/kuberuntime_gc.go:200-223
    // of v1.34.4), so the run the Pod's status names may be gone: the kubelet then answers
    // with this text (kuberuntime_container.go:1280), seen once in a crash loop. The status
    // read again after its next relist names the newer run.
    const collected = text.startsWith("unable to retrieve container logs");
    if (collected && again) {
      await new Promise((r) => setTimeout(r, 2000));
      return podTrouble(client, namespace, matchLabels, false);
    }
    if (!collected)
      logLines = text
        .split("\n")
        .filter((l) => l.trim())
        .slice(-5)
        .map(withoutSignatures);
  }
  const waiting = failing
    ? `${failing.pod} in ${failing.state!.waiting!.reason}${failing.state!.waiting!.message ? ` (${failing.state!.waiting!.message})` : ""}`
    : undefined;
  const ended = statuses.find((s) => s.lastState?.terminated)?.lastState?.terminated;
  const lastEnded = ended
    ? `${ended.reason ?? "terminated"} (exit ${ended.exitCode ?? "?"})${ended.finishedAt ? ` at ${ended.finishedAt}` : ""}`
    : undefined;
  return { pods: pods.length, restarts, waiting, logLines, crashLoop, lastEnded };
}

/**
 * A log line without the query of a presigned S3 URL: the server logs the URL of a
 * failed request whole, signature and access key id included (valid for an hour).
 */
export function withoutSignatures(line: string): string {
  return line.replace(/\?(?:[^\s"()]*&)?X-Amz-[^\s"()]*/g, "?…");
}

/** The labels a Deployment selects its Pods by. */
export function podLabels(deployment: object | undefined): Record<string, string> {
  return (
    (deployment as { spec?: { selector?: { matchLabels?: Record<string, string> } } } | undefined)?.spec?.selector
      ?.matchLabels ?? {}
  );
}
