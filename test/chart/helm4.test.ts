// helm 3 (what Flux's helm-controller embeds, the pinned one) and helm 4 (what an
// operator's Hermit or Homebrew installs, built here from helm.sh/helm/v4) render
// the same objects for both relay instances; their text
// differs only in blank lines (helm 4 keeps a template's trailing newlines). The
// rest of the chart tier runs with helm 4 through TOOLS_HELM (.ci/run, npm run test:helm4).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { resolveTool } from "../../scripts/build/toolchain.mjs";
import { relayChartPath, relayNamespace } from "../../scripts/lib/names.ts";
import { relayInstances } from "../../scripts/lib/instances.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { ensureGoTool, goToolVersion } from "../platform/index.ts";
import { parseManifests } from "../../scripts/lib/yaml.ts";

/** The relay instances apps/docs-prod deploys (read from its manifests). */
const instances = relayInstances();

const run = promisify(execFile);
const helms: Record<"helm3" | "helm4", string> = { helm3: "", helm4: "" };

// The pinned binaries (and so this machine's side of the comparison) exist on linux-x64,
// where CI runs; other platforms are seen from there.
const onPinnedPlatform = process.platform === "linux" && process.arch === "x64";

beforeAll(async () => {
  if (!onPinnedPlatform) return;
  // The pinned helm 3 exists on linux-x64 only; elsewhere this comparison has no helm 3 to run.
  helms.helm3 = resolveTool("helm", { ...process.env, TOOLS_HELM: "", TOOLS_PLATFORM: "linux-x64" }).path;
  helms.helm4 = (await ensureGoTool("helm4")).binary;
}, 600_000);

async function template(helm: string, args: string[]): Promise<string> {
  return (await run(helm, ["template", ...args], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 })).stdout;
}

const objects = (text: string) => parseManifests(text, "helm template");

describe.runIf(onPinnedPlatform)("helm 3 and helm 4 on this repository's charts", () => {
  it("are the versions the flows are tested with", async () => {
    const versions = await Promise.all(
      [helms.helm3, helms.helm4].map(async (h) => (await run(h, ["version", "--template", "{{.Version}}"])).stdout),
    );
    expect(versions).toEqual([expect.stringMatching(/^v3\.18\./), goToolVersion("helm4")]);
  });

  it.each(instances.map((i) => [i.release, i.valuesFile] as const))(
    "render the same objects for %s, as its HelmRelease gives the values",
    async (release, valuesFile) => {
      const args = [
        release,
        relayChartPath,
        "--namespace",
        relayNamespace,
        "-f",
        `${relayChartPath}/values.yaml`,
        "-f",
        valuesFile,
      ];
      const [three, four] = await Promise.all([template(helms.helm3, args), template(helms.helm4, args)]);
      expect(objects(four)).toEqual(objects(three));
      expect(four.replace(/\n\s*\n/g, "\n")).toBe(three.replace(/\n\s*\n/g, "\n"));
    },
  );
});
