// Ingress file patching (scripts/lib/ingress.ts): only the backend values of relay
// hosts change; comments, order and layout stay byte for byte.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { OperatorError } from "../../scripts/lib/cli.ts";
import { patchIngress } from "../../scripts/lib/ingress.ts";
import type { Backend } from "../../scripts/lib/mirrors.ts";
import { repoRoot } from "../../scripts/lib/paths.ts";

const fixture = (name: string) => readFileSync(join(repoRoot, "test/fixtures/ingress", name), "utf8");

const personal: Backend = { service: "a6fa1a2662ad011e9b210d663bd873d9", port: { number: 8080, name: "http" } };
const family: Backend = { service: "a7d0e1f2a3b4c5d6e7f8091a2b3c4d5e", port: { number: 8080, name: "http" } };
const backends = new Map([
  ["personal.relay.enigma.vgijssel.nl", personal],
  ["family.relay.enigma.vgijssel.nl", family],
]);

/** The fixture with exactly the expected values replaced, nothing else. */
function expectedComments(): string {
  return fixture("comments.yaml")
    .replace("name: OLD-PERSONAL-NAME   #", `name: ${personal.service}   #`)
    .replace("number: 1111 #", "number: 8080 #")
    .replace(
      '{name: "OLD-PERSONAL-NAME-2", port: {number: 2222}}',
      `{name: "${personal.service}", port: {number: 8080}}`,
    )
    .replace("name: 'OLD-FAMILY-NAME'", `name: '${family.service}'`)
    .replace("name: OLD-PORT-NAME   #", "name: http   #")
    .replace("name: OLD-PERSONAL-NAME-3\n", `name: ${personal.service}\n`)
    .replace("number: 3333\n", "number: 8080\n");
}

describe("patchIngress", () => {
  it("changes only the backend values on a file full of comments; every other byte stays", () => {
    const before = fixture("comments.yaml");
    const patch = patchIngress(before, "comments.yaml", backends);
    expect(patch.content).not.toBe(before);
    expect(patch.content).toBe(expectedComments());
    // Every comment line of the original survives as it was.
    for (const line of before.split("\n").filter((l) => l.trimStart().startsWith("#")))
      expect(patch.content).toContain(line);
  });

  it("reports each change with host, Ingress and line, keeping the quoting style", () => {
    const patch = patchIngress(fixture("comments.yaml"), "comments.yaml", backends);
    expect(patch.changes.map((c) => [c.host, c.ingress, c.line, c.from, c.to])).toEqual([
      ["personal.relay.enigma.vgijssel.nl", "relays", 33, "OLD-PERSONAL-NAME:1111", `${personal.service}:8080`],
      ["personal.relay.enigma.vgijssel.nl", "relays", 40, "OLD-PERSONAL-NAME-2:2222", `${personal.service}:8080`],
      ["family.relay.enigma.vgijssel.nl", "relays", 62, "OLD-FAMILY-NAME:OLD-PORT-NAME", `${family.service}:http`],
      [
        "personal.relay.enigma.vgijssel.nl",
        "relay-personal-extra",
        84,
        "OLD-PERSONAL-NAME-3:3333",
        `${personal.service}:8080`,
      ],
    ]);
  });

  it("leaves a host of no relay instance alone and reports it", () => {
    const patch = patchIngress(fixture("comments.yaml"), "comments.yaml", backends);
    expect(patch.foreignHosts).toEqual([{ host: "grafana.enigma.vgijssel.nl", ingress: "relays", line: 44 }]);
    expect(patch.content).toContain("name: grafana   # not ours\n            port:\n              number: 3000");
    expect(patch.hostsFound.sort()).toEqual(["family.relay.enigma.vgijssel.nl", "personal.relay.enigma.vgijssel.nl"]);
  });

  it("changes nothing the second time", () => {
    const once = patchIngress(fixture("comments.yaml"), "comments.yaml", backends).content;
    const twice = patchIngress(once, "comments.yaml", backends);
    expect(twice.content).toBe(once);
    expect(twice.changes).toEqual([]);
  });

  it("leaves an instance host alone when its backend is not known", () => {
    const before = fixture("comments.yaml");
    const patch = patchIngress(
      before,
      "comments.yaml",
      new Map([
        ["personal.relay.enigma.vgijssel.nl", undefined],
        ["family.relay.enigma.vgijssel.nl", family],
      ]),
    );
    expect(patch.content).toContain("OLD-PERSONAL-NAME   #");
    expect(patch.foreignHosts.map((h) => h.host)).toEqual(["grafana.enigma.vgijssel.nl"]);
  });

  it("keeps the repository's ingress file readable as the same objects apart from the backends", () => {
    const before = readFileSync(join(repoRoot, "apps/docs-infra-prod/ingress-relay.yaml"), "utf8");
    const patch = patchIngress(before, "ingress-relay.yaml", backends);
    const after = parseAllDocuments(patch.content).map(
      (d) => d.toJS() as { spec: { rules: { http: { paths: { backend: { service: unknown } }[] } }[] } },
    );
    expect(after.map((i) => i.spec.rules[0]!.http.paths[0]!.backend.service)).toEqual([
      { name: personal.service, port: { number: 8080 } },
      { name: family.service, port: { number: 8080 } },
    ]);
    expect(patch.content.split("\n").filter((l, i) => l !== before.split("\n")[i])).toHaveLength(2); // the two names; the ports were right already
  });

  it("names file and line of a YAML syntax error in one line", () => {
    const run = () => patchIngress(fixture("syntax-error.yaml"), "test/fixtures/ingress/syntax-error.yaml", backends);
    expect(run).toThrow(OperatorError);
    expect(run).toThrow(
      /^expected valid YAML in test\/fixtures\/ingress\/syntax-error\.yaml; found a syntax error at test\/fixtures\/ingress\/syntax-error\.yaml:10 \([^\n]+\); fix the file and run again, nothing was changed$/,
    );
  });

  it("explains a relay host rule without a service backend", () => {
    const text =
      "kind: Ingress\nmetadata: {name: x}\nspec:\n  rules:\n    - host: personal.relay.enigma.vgijssel.nl\n      http:\n        paths:\n          - path: /\n            backend:\n              resource: {kind: Bucket, name: b}\n";
    expect(() => patchIngress(text, "x.yaml", backends)).toThrow(
      /expected backend.service.name .* found nothing; write a service backend/,
    );
  });

  it("follows a YAML alias: a second path reusing the first one's backend gets the mirror once, through its anchor", () => {
    const text = [
      "kind: Ingress",
      "metadata: {name: relays}",
      "spec:",
      "  rules:",
      "    - host: personal.relay.enigma.vgijssel.nl",
      "      http:",
      "        paths:",
      "          - path: /",
      "            pathType: Prefix",
      "            backend: &relay",
      "              service:",
      "                name: OLD-NAME",
      "                port: {number: 1111}",
      "          - path: /d",
      "            pathType: Prefix",
      "            backend: *relay",
      "",
    ].join("\n");
    const patch = patchIngress(text, "alias.yaml", backends);
    expect(patch.content).toBe(
      text.replace("name: OLD-NAME", `name: ${personal.service}`).replace("number: 1111", "number: 8080"),
    );
    expect(patch.changes).toEqual([
      {
        host: "personal.relay.enigma.vgijssel.nl",
        ingress: "relays",
        line: 12,
        from: "OLD-NAME:1111",
        to: `${personal.service}:8080`,
      },
    ]);
    const paths = (
      parseAllDocuments(patch.content)[0]!.toJS() as { spec: { rules: { http: { paths: { backend: unknown }[] } }[] } }
    ).spec.rules[0]!.http.paths;
    expect(paths.map((p) => p.backend)).toEqual(
      [0, 1].map(() => ({ service: { name: personal.service, port: { number: 8080 } } })),
    );
    expect(patchIngress(patch.content, "alias.yaml", backends).changes).toEqual([]);
  });

  it("refuses one backend shared through an alias by two hosts that need different mirrors", () => {
    const text =
      "kind: Ingress\nmetadata: {name: relays}\nspec:\n  rules:\n    - host: personal.relay.enigma.vgijssel.nl\n      http:\n        paths:\n          - backend: &b\n              service: {name: x, port: {number: 8080}}\n    - host: family.relay.enigma.vgijssel.nl\n      http:\n        paths:\n          - backend: *b\n";
    expect(() => patchIngress(text, "shared.yaml", backends)).toThrow(
      /^expected backend\.service\.name for family\.relay\.enigma\.vgijssel\.nl \(Ingress relays\) and backend\.service\.name for personal\.relay\.enigma\.vgijssel\.nl \(Ingress relays\) to be values of their own in shared\.yaml; found both at shared\.yaml:9, shared through a YAML anchor/,
    );
  });

  it("names file and line of an alias whose anchor is in another document", () => {
    const text =
      "kind: Ingress\nmetadata: {name: a}\nspec:\n  rules:\n    - host: personal.relay.enigma.vgijssel.nl\n      http: &paths\n        paths: []\n---\nkind: Ingress\nmetadata: {name: b}\nspec:\n  rules:\n    - host: family.relay.enigma.vgijssel.nl\n      http: *paths\n";
    const run = () => patchIngress(text, "two-docs.yaml", backends);
    expect(run).toThrow(OperatorError);
    expect(run).toThrow(
      "expected valid YAML in two-docs.yaml; found the alias *paths at two-docs.yaml:14 with no anchor &paths before it in the same document (each --- document has its own anchors); write the value out there, and run again, nothing was changed",
    );
  });
});
