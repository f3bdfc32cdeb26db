// What a live server's version header tells verify, and where the default version
// is written (the chart's appVersion, read by everything else).
import { describe, expect, it } from "vitest";
import {
  anonymousAccess,
  compareVersions,
  defaultServerTag,
  releaseOf,
  supportedServerVersions,
  versionOfTag,
} from "../../scripts/lib/server-versions.ts";

describe("server versions", () => {
  it("reads the default from the chart's appVersion and refuses a tag that is not v<x.y.z>", () => {
    expect(defaultServerTag('appVersion: "v0.10.0"\n')).toBe("v0.10.0");
    expect(() => defaultServerTag('appVersion: "latest"\n')).toThrow(
      /appVersion to an image tag v<major>.<minor>.<patch>/,
    );
    expect(versionOfTag("v0.9.6")).toBe("0.9.6");
    expect(() => versionOfTag("0.9.6")).toThrow(/expected an image tag v<major>/);
  });

  it("supports the default first, then the older pinned releases", () => {
    expect(supportedServerVersions()[0]).toBe(versionOfTag(defaultServerTag()));
    expect(supportedServerVersions()).toContain("0.9.6");
  });

  it("compares releases numerically, not as text", () => {
    expect(compareVersions("0.10.0", "0.9.7")).toBe(1);
    expect(compareVersions("0.9.6", "0.9.7")).toBe(-1);
    expect(compareVersions("0.9.7", "0.9.7")).toBe(0);
  });

  it.each([
    ["0.10.0", "0.10.0"],
    ["v0.9.6", "0.9.6"],
    ["0.9.6-3-g57a856a", "0.9.6"],
    ["57a856a", "0.9.6"],
    ["d6bfdf0bf148", "0.10.0"],
    ["unknown", undefined],
    ["abcdef1", undefined],
    [undefined, undefined],
  ])("names release %s as %s", (header, release) => {
    expect(releaseOf(header)).toBe(release);
  });

  it("calls a release before 0.9.7 open to anonymous clients, a later one closed, an unknown one unknown", () => {
    expect(anonymousAccess("0.9.6")).toEqual({ known: true, release: "0.9.6", open: true });
    expect(anonymousAccess("0.9.7")).toEqual({ known: true, release: "0.9.7", open: false });
    expect(anonymousAccess("0.10.0")).toEqual({ known: true, release: "0.10.0", open: false });
    expect(anonymousAccess("unknown")).toEqual({ known: false, reported: "unknown" });
    expect(anonymousAccess(undefined)).toEqual({ known: false, reported: "no header" });
  });
});
