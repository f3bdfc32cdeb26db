// JSON schemas for kubeconform, offline: the Kubernetes kinds from the OpenAPI
// (swagger) document in the k8s.io/kubernetes module our local cluster is built
// from, the Flux and 1Password kinds from their CRDs in the Go module cache
// (test/platform/build/crds.ts). Converted the way kubeconform's own sources are made:
// instrumenta's openapi2jsonschema with --kubernetes --stand-alone --strict for the
// built-in kinds (yannh/kubernetes-json-schema), and the openapi2jsonschema.py
// script of kubeconform's repository for CRDs.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allCrds, readCrd } from "./crds.ts";
import { kubernetesVersion } from "./kube-binary.ts";
import { goModuleDir } from "./shell.ts";

type Schema = Record<string, unknown>;
export interface Gvk {
  group: string;
  version: string;
  kind: string;
}

/** Where kubeconform finds a kind's schema under `dir` (its -schema-location template). */
export const schemaLocation = (dir: string) => `${dir}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`;
/** The same path for one kind; kubeconform's Group is the part before the slash, "v1" for the core group. */
const schemaFile = (dir: string, { group, version, kind }: Gvk) =>
  join(dir, group || version, `${kind.toLowerCase()}_${version}.json`);

async function kubernetesSwagger(): Promise<{ definitions: Record<string, Schema> }> {
  const module = `k8s.io/kubernetes@${kubernetesVersion()}`;
  try {
    // Outside any module, so no go.mod is touched; the module is already in the cache after the local cluster's build.
    const dir = await goModuleDir(module);
    return JSON.parse(readFileSync(join(dir, "api/openapi-spec/swagger.json"), "utf8")) as {
      definitions: Record<string, Schema>;
    };
  } catch (error) {
    throw new Error(
      `expected \`go mod download ${module}\` to give the Kubernetes OpenAPI document; it failed: ${(error as Error).message}`,
    );
  }
}

/** Every property schema (`properties` with `additionalProperties` unset) made strict, recursively. */
function forbidUnknownFields(schema: unknown, skipRoot = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => forbidUnknownFields(s));
  if (!schema || typeof schema !== "object") return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) out[k] = forbidUnknownFields(v);
  if ("properties" in out && !("additionalProperties" in out) && !skipRoot) out.additionalProperties = false;
  return out;
}

/** `format: int-or-string` as a schema JSON accepts: a string or an integer. */
function intOrString(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(intOrString);
  if (!schema || typeof schema !== "object") return schema;
  if ((schema as Schema).format === "int-or-string") return { oneOf: [{ type: "string" }, { type: "integer" }] };
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, intOrString(v)]));
}

/** A built-in kind's definition with every $ref replaced by what it names; a reference back into itself becomes {}. */
function standalone(definitions: Record<string, Schema>, name: string, seen: string[] = []): Schema {
  const expand = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(expand);
    if (!value || typeof value !== "object") return value;
    const ref = (value as Schema).$ref;
    if (typeof ref === "string") {
      const target = ref.replace("#/definitions/", "");
      const path = [...seen, name];
      return path.includes(target) ? {} : standalone(definitions, target, path);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]));
  };
  const definition = definitions[name];
  if (!definition)
    throw new Error(`expected the definition ${name} in the Kubernetes OpenAPI document; it is not there`);
  return expand(definition) as Schema;
}

/** Optional fields (not in their object's `required`) may also be null, as openapi2jsonschema allows them. */
function allowNullOptional(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(allowNullOptional);
  if (!schema || typeof schema !== "object") return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, allowNullOptional(v)])) as Schema;
  const properties = out.properties as Record<string, Schema> | undefined;
  if (properties) {
    const required = new Set((out.required as string[] | undefined) ?? []);
    for (const [key, prop] of Object.entries(properties)) {
      if (!required.has(key) && typeof prop.type === "string") properties[key] = { ...prop, type: [prop.type, "null"] };
    }
  }
  return out;
}

function builtinSchema(definitions: Record<string, Schema>, gvk: Gvk): Schema | undefined {
  const name = Object.keys(definitions).find((n) =>
    ((definitions[n]!["x-kubernetes-group-version-kind"] as Gvk[] | undefined) ?? []).some(
      (g) => g.group === gvk.group && g.version === gvk.version && g.kind === gvk.kind,
    ),
  );
  if (!name) return undefined;
  // As openapi2jsonschema --kubernetes: these two are written as strings in the document, but every tool accepts numbers too.
  const patched = {
    ...definitions,
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": { oneOf: [{ type: "string" }, { type: "integer" }] },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": { oneOf: [{ type: "string" }, { type: "number" }] },
  };
  const schema = forbidUnknownFields(allowNullOptional(intOrString(standalone(patched, name)))) as Schema;
  const properties = schema.properties as Record<string, Schema>;
  const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
  properties.apiVersion = { type: "string", enum: [apiVersion] };
  properties.kind = { type: "string", enum: [gvk.kind] };
  return schema;
}

async function crdSchemas(): Promise<Map<string, Schema>> {
  const out = new Map<string, Schema>();
  for (const name of allCrds) {
    const crd = (await readCrd(name)) as unknown as {
      spec: {
        group: string;
        names: { kind: string };
        versions: { name: string; schema?: { openAPIV3Schema?: Schema } }[];
      };
    };
    for (const v of crd.spec.versions) {
      if (!v.schema?.openAPIV3Schema) continue;
      // kubeconform's openapi2jsonschema.py: strict below the root, int-or-string replaced.
      out.set(
        `${crd.spec.group}/${v.name}/${crd.spec.names.kind}`,
        intOrString(forbidUnknownFields(v.schema.openAPIV3Schema, true)) as Schema,
      );
    }
  }
  return out;
}

/**
 * Writes the schema of every kind in `kinds` under `dir`, as kubeconform's
 * -schema-location template `schemaLocation(dir)` finds them. Throws for a kind
 * neither source knows, naming it.
 */
export async function writeSchemas(dir: string, kinds: Gvk[]): Promise<void> {
  const [swagger, crds] = await Promise.all([kubernetesSwagger(), crdSchemas()]);
  for (const gvk of kinds) {
    const schema = crds.get(`${gvk.group}/${gvk.version}/${gvk.kind}`) ?? builtinSchema(swagger.definitions, gvk);
    if (!schema)
      throw new Error(
        `expected a schema for ${gvk.kind} (${gvk.group || "core"}/${gvk.version}) in the Kubernetes OpenAPI document or the CRDs; found none`,
      );
    const file = schemaFile(dir, gvk);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, JSON.stringify(schema));
  }
}

/** The group, version and kind of an object's apiVersion and kind. */
export function gvkOf(obj: { apiVersion?: string; kind?: string }): Gvk {
  const [group, version] = (obj.apiVersion ?? "").includes("/")
    ? (obj.apiVersion ?? "").split("/")
    : ["", obj.apiVersion ?? ""];
  return { group: group!, version: version!, kind: obj.kind ?? "" };
}
