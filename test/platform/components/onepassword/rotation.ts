// A credential rotation as an operator makes it: the item changes in 1Password (the
// local secret source that Connect serves), and the real operator carries it to the
// Secret and, through the Deployment's operator.1password.io/auto-restart, to a new
// relay Pod. Shared by the node tests and the bench, which times it.
import type { KubeClient, Live } from "../../../../scripts/lib/kube.ts";
import { onePassword, relayNamespace, type RelayInstance } from "../../../../scripts/lib/names.ts";
import { changeItem } from "../../played/connect.ts";

export interface RelayPod {
  name: string;
  ip: string;
}

type PodLive = Live & {
  metadata: { deletionTimestamp?: string };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
};

/** The instance's one Ready Pod that is not on its way out, if there is one. */
export async function readyRelayPod(k: KubeClient, instance: RelayInstance): Promise<RelayPod | undefined> {
  const pods = (await k.list(
    "v1",
    "Pod",
    relayNamespace,
    `app.kubernetes.io/instance=${instance.release}`,
  )) as PodLive[];
  const ready = pods.filter(
    (p) =>
      !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
  );
  return ready.length === 1 ? { name: ready[0]!.metadata.name, ip: ready[0]!.status!.podIP! } : undefined;
}

/** The item title of an instance's credentials (itemPath vaults/<vault>/items/<title>). */
export const itemTitle = (instance: RelayInstance): string => instance.itemPath.split("/")[3]!;

/** Waits for a Ready Pod of the instance other than `before`; returns it and the ms since `started`. */
export async function newReadyPod(
  k: KubeClient,
  instance: RelayInstance,
  before: RelayPod | undefined,
  started: number,
  timeoutMs = 180_000,
): Promise<{ ms: number; pod: RelayPod }> {
  for (;;) {
    const pod = await readyRelayPod(k, instance);
    if (pod && pod.name !== before?.name) return { ms: Date.now() - started, pod };
    if (Date.now() - started > timeoutMs)
      throw new Error(
        `expected a new Ready Pod of ${instance.release} within ${timeoutMs / 1000} s; ${pod ? `still ${pod.name}` : "none is Ready"}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Changes the instance's item (label → value, null removes the field) and waits for
 * a Ready Pod other than the one before. Returns the time from the change to that
 * Pod's Ready, as the test process sees it.
 */
export async function rotateItem(
  k: KubeClient,
  secretsFile: string,
  instance: RelayInstance,
  fields: Record<string, string | null>,
  timeoutMs = 180_000,
): Promise<{ ms: number; pod: RelayPod }> {
  const before = await readyRelayPod(k, instance);
  const started = Date.now();
  changeItem(secretsFile, onePassword.vault, itemTitle(instance), fields);
  return newReadyPod(k, instance, before, started, timeoutMs);
}
