// The two Secrets 1Password Connect and its operator read in the tenant: where
// their values come from in 1Password, and what the Secrets look like.
import { OperatorError, UsageError } from "./errors.ts";
import type { Manifest } from "./kube.ts";
import { onePassword } from "./names.ts";
import { isReference } from "./onepassword.ts";

export interface SecretRefs {
  credentialsRef: string;
  tokenRef: string;
}

/**
 * The references to read: flags, then the environment, then names.ts. A malformed
 * one is a usage error naming the flag or variable it came from, before anything runs.
 */
export function secretRefs(values: { "credentials-ref"?: string; "token-ref"?: string }): SecretRefs {
  const pick = (flag: string, given: string | undefined, env: string, fallback: string): string => {
    const [value, from] =
      given !== undefined
        ? [given, flag]
        : process.env[env]
          ? [process.env[env], env]
          : [fallback, "scripts/lib/names.ts"];
    if (!isReference(value))
      throw new UsageError(
        `expected ${from} to be a secret reference like op://vault/item/field; got "${value}"; fix it`,
      );
    return value;
  };
  return {
    credentialsRef: pick(
      "--credentials-ref",
      values["credentials-ref"],
      "OP_CONNECT_CREDENTIALS_REF",
      onePassword.credentialsReference,
    ),
    tokenRef: pick("--token-ref", values["token-ref"], "OP_OPERATOR_TOKEN_REF", onePassword.tokenReference),
  };
}

/** The fields 1Password Connect reads from its credentials file. */
const credentialFields = ["verifier", "encCredentials", "version", "deviceUuid", "uniqueKey"];

export function checkCredentials(json: string, reference: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new OperatorError(
      `expected ${reference} to hold the Connect credentials file as JSON; it does not parse as JSON; re-export 1password-credentials.json into that field`,
    );
  }
  const missing = credentialFields.filter((f) => !(parsed && typeof parsed === "object" && f in parsed));
  if (missing.length > 0) {
    throw new OperatorError(
      `expected the Connect credentials JSON at ${reference} to have ${credentialFields.join(", ")}; missing ${missing.join(", ")}; re-export 1password-credentials.json into that field`,
    );
  }
}

export function connectSecrets(credentials: string, token: string): Manifest[] {
  const secret = (name: string, key: string, value: string): Manifest => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: onePassword.namespace },
    type: "Opaque",
    data: { [key]: Buffer.from(value).toString("base64") },
  });
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: onePassword.namespace } },
    // Connect reads OP_SESSION as base64-encoded JSON, so the value is the base64 of the file.
    secret(
      onePassword.credentialsSecret.name,
      onePassword.credentialsSecret.key,
      Buffer.from(credentials).toString("base64"),
    ),
    secret(onePassword.tokenSecret.name, onePassword.tokenSecret.key, token),
  ];
}
