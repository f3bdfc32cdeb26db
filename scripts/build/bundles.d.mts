// Types of scripts/build/bundles.mjs (plain JavaScript so that it runs at npm install).
export declare const root: string;
export declare const flows: string[];
export declare const outDir: string;
export declare function sourcesMtime(): number;
export declare function build(): Promise<void>;
/** What the bundles are built from, as --version names it: a commit, or that there was no git checkout. */
export declare function builtFrom(dir?: string): string;
/** Packages client-node imports that the bundles load only when used: each stand-in name and how it is called. */
export declare const lazyPackages: Record<string, Record<string, "call" | "new" | "async">>;
