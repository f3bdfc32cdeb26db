// Types of scripts/build/toolchain.mjs (plain JavaScript so that it runs at npm install).
export type ToolName = "helm" | "kubectl";
export interface ResolvedTool {
  tool: ToolName;
  path: string;
  /** Why this binary: the pinned one, PATH, or TOOLS_HELM / TOOLS_KUBECTL. */
  source: "pinned" | "PATH" | "TOOLS_HELM" | "TOOLS_KUBECTL";
  /** The version it reported; checked only for binaries that are not pinned. */
  version?: string;
}
export declare const pinnedPlatform: string;
export declare const minimumVersions: { helm: string; kubectl: string; node: string };
export declare function currentPlatform(env?: NodeJS.ProcessEnv): string;
export declare function findOnPath(name: string, env?: NodeJS.ProcessEnv): string | undefined;
export declare function compareVersions(a: string, b: string): -1 | 0 | 1;
export declare function reportedVersion(tool: ToolName, path: string): string;
export declare function resolveTool(tool: ToolName, env?: NodeJS.ProcessEnv, minimum?: string): ResolvedTool;
export declare function nodePath(env?: NodeJS.ProcessEnv): { path: string; source: "pinned" | "PATH" };
export declare function checkNode(version?: string, execPath?: string): void;
