// The relay instances are read from apps/docs-prod (instances.ts), so what an
// instance is comes from its HelmRelease and values file; a broken one fails in
// one line naming the file.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { instanceByName, relayInstances } from "../../scripts/lib/instances.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";
import { tempDir } from "../support/files.ts";

/** A scratch root holding a copy of apps/docs-prod, changed by `edit`. */
function withApp(edit: (app: string) => void): string {
  const root = tempDir("instances-");
  cpSync(join(repoRoot, "apps/docs-prod"), join(root, "apps/docs-prod"), { recursive: true });
  edit(join(root, "apps/docs-prod"));
  return root;
}

const replaceIn = (file: string, from: string | RegExp, to: string) =>
  writeFileSync(file, readFileSync(file, "utf8").replace(from, to));

describe("the relay instances", () => {
  it("are the HelmReleases of libs/relay-server in apps/docs-prod, with what their values files say", () => {
    const [personal, family] = relayInstances();
    expect(relayInstances().map((i) => i.release)).toEqual(["relay-personal", "relay-family"]);
    expect(personal).toMatchObject({
      name: "personal",
      host: "personal.relay.enigma.vgijssel.nl",
      url: "https://personal.relay.enigma.vgijssel.nl",
      credentialsSecret: "relay-personal-s3-credentials",
      itemPath: "vaults/setup-docs-prod/items/relay-personal-s3-credentials",
      valuesFile: "apps/docs-prod/relay-personal/values.yaml",
    });
    expect(family!.bucket).toMatch(/^bucket-/);
  });

  it("take the host from relay.url: a changed URL is a changed host, with no code to follow", () => {
    const root = withApp((app) =>
      replaceIn(
        join(app, "relay-family/values.yaml"),
        "https://family.relay.enigma.vgijssel.nl",
        "https://household.relay.enigma.vgijssel.nl",
      ),
    );
    expect(instanceByName("family", root).host).toBe("household.relay.enigma.vgijssel.nl");
  });

  it("fail in one line naming the values file when relay.url is not a URL", () => {
    const root = withApp((app) =>
      replaceIn(join(app, "relay-family/values.yaml"), /url: https:\/\/family\S+/, "url: family"),
    );
    expect(() => relayInstances(root)).toThrow(
      'expected relay.url in apps/docs-prod/relay-family/values.yaml to be the public URL users register (https://<host>); found "family"; set it',
    );
  });

  it("fail naming the HelmRelease when it lists no values file of its own", () => {
    const root = withApp((app) =>
      replaceIn(
        join(app, "helmrelease-relay-personal.yaml"),
        /\n\s+- apps\/docs-prod\/relay-personal\/values\.yaml/,
        "",
      ),
    );
    expect(() => relayInstances(root)).toThrow(
      /expected HelmRelease relay-personal in apps\/docs-prod to list libs\/relay-server\/values.yaml and one values file of its own/,
    );
  });

  it("answer an unknown --instance with the names there are", () => {
    expect(() => instanceByName("work")).toThrow(
      'expected an instance name (personal, family); got "work"; pass --instance personal',
    );
  });
});
