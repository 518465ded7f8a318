/**
 * JSON Schema tooling over an OpenAPI 3.1 document: compile any schema of the
 * document by its JSON pointer (with its $refs resolved against the same
 * document) and find every example in it together with the schema it claims
 * to satisfy.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { ErrorObject, ValidateFunction } from "ajv";

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, unknown>;

const DOC_ID = "urn:roomservice:openapi";

function escapeSegment(s: string): string {
  return encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"));
}

export function pointer(segments: string[]): string {
  return segments.length === 0 ? "" : `/${segments.map(escapeSegment).join("/")}`;
}

export interface SchemaTool {
  /** The validator of the schema at this JSON pointer of the document (cached). */
  at(ptr: string): ValidateFunction;
  /** Validates a value against the schema at `ptr`; returns readable errors, empty when valid. */
  check(ptr: string, value: unknown): string[];
}

export function schemaTool(doc: Json): SchemaTool {
  // strict: false because OpenAPI adds keywords (example, discriminator) that JSON Schema does not define.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID });
  const cache = new Map<string, ValidateFunction>();
  const tool: SchemaTool = {
    at(ptr) {
      let v = cache.get(ptr);
      if (!v) {
        v = ajv.getSchema(`${DOC_ID}#${ptr}`);
        if (!v) throw new Error(`no schema at ${ptr}`);
        cache.set(ptr, v);
      }
      return v;
    },
    check(ptr, value) {
      const v = tool.at(ptr);
      if (v(value)) return [];
      return (v.errors ?? []).map((e: ErrorObject) => `${e.instancePath || "(root)"} ${e.message ?? ""} ${JSON.stringify(e.params)}`);
    },
  };
  return tool;
}

export interface FoundExample {
  /** Where the example sits. */
  where: string;
  /** Pointer of the schema it must satisfy. */
  schema: string;
  value: unknown;
}

/** Every example of the document: schema `example`/`examples`, media type and parameter `example`/`examples`. */
export function findExamples(doc: Json): FoundExample[] {
  const out: FoundExample[] = [];
  const walk = (node: unknown, path: string[], parentKey: string | null) => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, [...path, String(i)], String(i)));
      return;
    }
    if (!node || typeof node !== "object") return;
    const obj = node as Json;
    // A `properties` map is keyed by field names, which could be called "example": not a schema itself.
    if (parentKey !== "properties") {
      const hasSchema = obj["schema"] !== undefined && typeof obj["schema"] === "object";
      const target = hasSchema ? pointer([...path, "schema"]) : pointer(path);
      if (obj["example"] !== undefined) out.push({ where: pointer([...path, "example"]), schema: target, value: obj["example"] });
      const examples = obj["examples"];
      if (Array.isArray(examples) && !hasSchema) {
        examples.forEach((v, i) => out.push({ where: pointer([...path, "examples", String(i)]), schema: target, value: v }));
      } else if (examples && typeof examples === "object" && hasSchema) {
        for (const [name, ex] of Object.entries(examples as Json)) {
          const value = (ex as Json)["value"];
          if (value !== undefined) out.push({ where: pointer([...path, "examples", name, "value"]), schema: target, value });
        }
      }
    }
    for (const [k, v] of Object.entries(obj)) {
      if (k === "example" || k === "examples") continue;
      walk(v, [...path, k], k);
    }
  };
  walk(doc, [], null);
  return out;
}

export const HTTP_METHODS = ["get", "put", "post", "patch", "delete", "head", "options"] as const;

export interface Op {
  method: string;
  path: string;
  ptr: string[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read deep, loosely typed OpenAPI objects
  op: Record<string, any>;
}

export function operations(doc: Json): Op[] {
  const out: Op[] = [];
  for (const [path, item] of Object.entries((doc["paths"] ?? {}) as Json)) {
    for (const m of HTTP_METHODS) {
      const op = (item as Json)[m] as Json | undefined;
      if (op) out.push({ method: m, path, ptr: ["paths", path, m], op });
    }
  }
  return out;
}

/** Follows $ref chains inside the document. */
export function deref(doc: Json, node: unknown): Json | undefined {
  let n = node as Json | undefined;
  for (let i = 0; i < 10 && n && typeof n["$ref"] === "string"; i++) {
    const parts = (n["$ref"] as string).replace(/^#\//, "").split("/").map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    n = parts.reduce<unknown>((acc, p) => (acc as Json | undefined)?.[p], doc) as Json | undefined;
  }
  return n;
}
