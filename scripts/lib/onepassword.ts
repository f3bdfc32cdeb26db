// 1Password behind one small interface: the real @1password/sdk adapter, and a
// local adapter (a JSON file of reference -> value) for tests and the demo.
import { readFileSync } from "node:fs";
import { OperatorError, registerSecret, UsageError } from "./errors.ts";

export interface SecretSource {
  /** What the operator should check when a reference fails, e.g. "1Password (service account)". */
  readonly description: string;
  /** The value of an `op://vault/item/field` reference; errors name the reference, never a value. */
  resolve(reference: string): Promise<string>;
}

const referencePattern = /^op:\/\/[^/]+\/[^/]+(\/[^/]+)?\/[^/]+$/;

/** Whether a text is an `op://vault/item/[section/]field` reference. */
export function isReference(reference: string): boolean {
  return referencePattern.test(reference);
}

function checkReference(reference: string): void {
  if (!isReference(reference)) {
    throw new OperatorError(
      `expected a secret reference like op://vault/item/field; got "${reference}"; fix the reference`,
    );
  }
}

export class OnePasswordSdkSource implements SecretSource {
  readonly description = "1Password (OP_SERVICE_ACCOUNT_TOKEN)";
  private client?: Promise<{ secrets: { resolve(ref: string): Promise<string> } }>;

  constructor(private readonly token: string | undefined = process.env.OP_SERVICE_ACCOUNT_TOKEN) {
    if (token) registerSecret(token);
  }

  private connect() {
    if (!this.token) {
      throw new OperatorError(
        "expected OP_SERVICE_ACCOUNT_TOKEN to hold a 1Password service account token; it is not set; export it (or use --secrets-from local with --local-secrets FILE)",
      );
    }
    // Imported lazily: the SDK's 14 MB wasm core costs start-up time for flows that never need it.
    this.client ??= import("@1password/sdk").then((sdk) =>
      sdk.createClient({ auth: this.token!, integrationName: "setup-docs-relay", integrationVersion: "1.0.0" }),
    );
    return this.client;
  }

  async resolve(reference: string): Promise<string> {
    checkReference(reference);
    try {
      const value = await (await this.connect()).secrets.resolve(reference);
      registerSecret(value);
      return value;
    } catch (error) {
      if (error instanceof OperatorError) throw error;
      this.client = undefined;
      const answer = String((error as Error).message ?? error);
      // The SDK refuses a token it cannot decode before it asks 1Password anything.
      if (/service account token/i.test(answer)) {
        throw new OperatorError(
          `expected OP_SERVICE_ACCOUNT_TOKEN to hold a 1Password service account token; it is malformed (1Password's SDK: "${answer}"); export the token exactly as 1Password shows it (it starts with ops_), or create another`,
        );
      }
      throw new OperatorError(
        `expected 1Password to resolve ${reference}; it answered "${answer}"; check the vault, item and field names and the service account's access`,
      );
    }
  }
}

/** Reads references from a JSON object file: { "op://vault/item/field": "value" }. */
export class LocalSecretSource implements SecretSource {
  readonly description: string;
  private readonly values: Record<string, string>;

  constructor(path: string) {
    this.description = `the local secrets file ${path}`;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      throw new OperatorError(
        `expected a JSON object of op:// references in ${path}; could not read it (${(error as NodeJS.ErrnoException).code ?? "unreadable"}); pass an existing, readable file`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Node's parse error quotes the file's first characters, which are a secret: never pass it on.
      throw new OperatorError(
        `expected a JSON object of op:// references in ${path}; it is not valid JSON; fix the file (its content is not shown: it holds secrets)`,
      );
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      const found = parsed === null ? "null" : Array.isArray(parsed) ? "an array" : `a ${typeof parsed}`;
      throw new OperatorError(
        `expected a JSON object of op:// references in ${path}; found ${found}; write it as { "op://vault/item/field": "value" }`,
      );
    }
    this.values = parsed as Record<string, string>;
    for (const value of Object.values(this.values)) if (typeof value === "string") registerSecret(value);
  }

  async resolve(reference: string): Promise<string> {
    checkReference(reference);
    const value = this.values[reference];
    if (typeof value !== "string") {
      throw new OperatorError(
        `expected ${this.description} to hold ${reference}; no item matched the secret reference; add it or fix the reference`,
      );
    }
    return value;
  }
}

/** Where secret values come from, as the command line chose it. */
export interface SecretSourceOptions {
  from: "1password" | "local";
  /** The JSON file of references for `local`. */
  localSecrets?: string;
}

export const secretSourceOptionSpecs = {
  "secrets-from": { type: "string" },
  "local-secrets": { type: "string" },
} as const;

export const secretSourceHelp = `Secret options:
  --secrets-from SRC             1password (default; needs OP_SERVICE_ACCOUNT_TOKEN) or local
  --local-secrets FILE           JSON file of { "op://…": value } for --secrets-from local
                                 (env OP_LOCAL_SECRETS)`;

/**
 * --secrets-from and --local-secrets (or OP_LOCAL_SECRETS), checked where the
 * command line is read: a wrong value is a usage error before anything runs,
 * in every flow that takes them, whether or not its run needs a secret.
 */
export function secretSourceOptions(values: {
  "secrets-from"?: string;
  "local-secrets"?: string;
}): SecretSourceOptions {
  const localSecrets = values["local-secrets"] ?? (process.env.OP_LOCAL_SECRETS || undefined);
  const from = values["secrets-from"] ?? (localSecrets ? "local" : "1password");
  if (from !== "1password" && from !== "local")
    throw new UsageError(`expected --secrets-from 1password or local; got "${from}"; see --help`);
  if (from === "local" && !localSecrets)
    throw new UsageError(
      "expected --local-secrets FILE (or OP_LOCAL_SECRETS) with --secrets-from local; got neither; pass the file",
    );
  return from === "local" ? { from, localSecrets } : { from };
}

export function secretSource(opts: SecretSourceOptions): SecretSource {
  return opts.from === "local" && opts.localSecrets
    ? new LocalSecretSource(opts.localSecrets)
    : new OnePasswordSdkSource();
}

/** `op inject`: replaces every {{ op://… }} in a template with its resolved value. */
export async function injectSecrets(template: string, source: SecretSource): Promise<string> {
  const pattern = /\{\{\s*(op:\/\/[^}]+?)\s*\}\}/g;
  const references = [...new Set([...template.matchAll(pattern)].map((m) => m[1]!.trim()))];
  const values = new Map<string, string>();
  for (const reference of references) values.set(reference, await source.resolve(reference));
  return template.replace(pattern, (_m, ref: string) => values.get(ref.trim())!);
}

/** One secret source per run, created on first use (the 1Password client is costly). */
export function lazySecretSource(opts: SecretSourceOptions): () => SecretSource {
  let source: SecretSource | undefined;
  return () => (source ??= secretSource(opts));
}
