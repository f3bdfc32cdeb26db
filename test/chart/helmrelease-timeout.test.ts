// Each relay HelmRelease gives helm-controller as long as the chart itself may take
// to replace a Pod, computed from the Deployment the chart renders with that
// instance's values (not from numbers written here), and stays within the root
// Kustomization's timeout, which waits for it.
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../scripts/lib/cli.ts";
import { tenant } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { named, ofKind, renderRelay, sourceObjects, type KubeObject } from "../support/manifests.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

interface Probe {
  initialDelaySeconds?: number;
  periodSeconds?: number;
  failureThreshold?: number;
  successThreshold?: number;
}
interface Deployment extends KubeObject {
  spec: {
    strategy?: { type?: string };
    template: {
      spec: { terminationGracePeriodSeconds?: number; containers: { startupProbe?: Probe; readinessProbe?: Probe }[] };
    };
  };
}
interface TimedObject extends KubeObject {
  spec: { timeout?: string; wait?: boolean };
}

/** Flux's helm-controller waits 5m when a HelmRelease names no timeout. */
const fluxDefault = "5m";

/** Seconds from the old Pod's stop (Recreate) to the new Pod's first Ready, at the longest the rendered spec allows. */
function startupBudget(deployment: Deployment): number {
  const pod = deployment.spec.template.spec;
  const [container] = pod.containers;
  // Kubernetes' own defaults where the chart leaves a field out.
  const probe = (p: Probe | undefined, failures: number) =>
    p ? (p.initialDelaySeconds ?? 0) + (p.periodSeconds ?? 10) * (p.failureThreshold ?? 3) * failures : 0;
  const oldPodStops = deployment.spec.strategy?.type === "Recreate" ? (pod.terminationGracePeriodSeconds ?? 30) : 0;
  const started = probe(container?.startupProbe, 1);
  const ready = container?.readinessProbe
    ? (container.readinessProbe.initialDelaySeconds ?? 0) +
      (container.readinessProbe.periodSeconds ?? 10) * (container.readinessProbe.successThreshold ?? 1)
    : 0;
  return oldPodStops + started + ready;
}

describe("the relay HelmReleases' timeout", () => {
  const objects = sourceObjects(tenant.appPath);
  const root = named(ofKind<TimedObject>(objects, "Kustomization"), tenant.kustomization, "the root Kustomization");

  it.each(instances.map((i) => [i.release, i] as const))(
    "%s covers the chart's startup budget and ends before the root Kustomization gives up",
    async (release, instance) => {
      const hr = named(ofKind<TimedObject>(objects, "HelmRelease"), release, "a HelmRelease");
      const [deployment] = ofKind<Deployment>(await renderRelay(instance), "Deployment");
      const budget = startupBudget(deployment!);
      // The chart's own numbers: 90 s to stop, 5 minutes to start, one readiness probe.
      expect(budget).toBeGreaterThan(parseDuration(fluxDefault) / 1000);
      const timeout = parseDuration(hr.spec.timeout ?? fluxDefault) / 1000;
      expect(
        timeout,
        `${release}: spec.timeout ${hr.spec.timeout ?? `unset (${fluxDefault})`} against a budget of ${budget} s`,
      ).toBeGreaterThanOrEqual(budget + 60);
      expect(root.spec.wait).toBe(true);
      expect(timeout).toBeLessThan(parseDuration(root.spec.timeout ?? fluxDefault) / 1000);
    },
  );
});
