// Rendering a chart with the pinned helm: the one `helm template` the flows and the
// tests run (relay-services.ts renders each instance through it).
import type { Manifest } from "./kube.ts";
import { runTool } from "./tools.ts";
import { parseManifests } from "./yaml.ts";

export interface TemplateOptions {
  release: string;
  /** The chart's folder, repository-relative or absolute. */
  chart: string;
  namespace: string;
  /** `-f` files in order, later ones over earlier ones. */
  valuesFiles?: readonly string[];
  /** More flags (e.g. --set). */
  extraArgs?: readonly string[];
}

export function templateArgs(o: TemplateOptions): string[] {
  return [
    "template",
    o.release,
    o.chart,
    ...(o.valuesFiles ?? []).flatMap((f) => ["-f", f]),
    "--namespace",
    o.namespace,
    ...(o.extraArgs ?? []),
  ];
}

/** The rendered manifests as text; a failure carries helm's own message. */
export function helmTemplate(o: TemplateOptions): Promise<string> {
  return runTool("helm", templateArgs(o));
}

/** The rendered objects, test hooks included. */
export async function renderChart(o: TemplateOptions): Promise<Manifest[]> {
  return parseManifests(await helmTemplate(o), `helm template ${o.release} ${o.chart}`);
}
