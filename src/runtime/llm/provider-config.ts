/**
 * The operator's model providers, from a JSON or YAML file. Only the *name*
 * of the environment variable holding a key lives here; the key itself is
 * read by the runtime at construction and never leaves it.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { z } from "zod";

/** The YAML parser, loaded by the first YAML file read (most servers have none): it is a start-up cost otherwise. */
function parseYaml(text: string): unknown {
  const yaml = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yaml.parse(text);
}

/** The APIs a configured provider may speak (pi-ai api ids). */
export const PROVIDER_APIS = ["openai-completions", "anthropic-messages"] as const;
export type ProviderApi = (typeof PROVIDER_APIS)[number];

/** The provider name reserved for the built-in model. */
export const LOCAL_PROVIDER = "local";

const Cost = z
  .object({
    input: z.number().nonnegative(),
    output: z.number().nonnegative(),
    cache_read: z.number().nonnegative().default(0),
    cache_write: z.number().nonnegative().default(0),
  })
  .strict();

const ModelEntry = z
  .object({
    id: z.string().trim().min(1).max(200),
    name: z.string().trim().min(1).max(200).optional(),
    context_window: z.number().int().positive().optional(),
    max_tokens: z.number().int().positive().optional(),
    /** USD per million tokens; when absent, taken from pi-ai's model registry for a known id, else 0. */
    cost: Cost.optional(),
    tools: z.boolean().default(true),
  })
  .strict();

const ProviderEntry = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "lowercase letters, digits, '.', '_' or '-', starting with a letter or digit")
      .refine((n) => n !== LOCAL_PROVIDER, `"${LOCAL_PROVIDER}" is the built-in provider and cannot be configured`),
    api: z.enum(PROVIDER_APIS),
    base_url: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .optional(),
    api_key_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be an environment variable name")
      .optional(),
    models: z.array(ModelEntry).min(1, "list at least one model"),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.models.forEach((m, i) => {
      if (seen.has(m.id)) ctx.addIssue({ code: "custom", path: ["models", i, "id"], message: `duplicate model id ${JSON.stringify(m.id)}` });
      seen.add(m.id);
    });
  });

const ProviderFile = z
  .object({ providers: z.array(ProviderEntry) })
  .strict()
  .superRefine((f, ctx) => {
    const seen = new Set<string>();
    f.providers.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: "custom", path: ["providers", i, "name"], message: `duplicate provider name ${JSON.stringify(p.name)}` });
      seen.add(p.name);
    });
  });

export type ProviderConfig = z.output<typeof ProviderEntry>;
export type ProviderModelConfig = z.output<typeof ModelEntry>;

/** A provider file that cannot be used; `issues` names each problem with its path ("providers[0].api: ..."). */
export class ProviderConfigError extends Error {
  override name = "ProviderConfigError";
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
  }
}

function formatPath(path: PropertyKey[]): string {
  let out = "";
  for (const key of path) out += typeof key === "number" ? `[${key}]` : out ? `.${String(key)}` : String(key);
  return out || "(root)";
}

/**
 * Parses and validates a provider file's text. Throws ProviderConfigError
 * listing every issue with its path; never returns a partial result.
 */
export function parseProviderConfig(text: string, format: "json" | "yaml"): ProviderConfig[] {
  let raw: unknown;
  try {
    raw = format === "json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : "unreadable";
    throw new ProviderConfigError(`provider config is not valid ${format.toUpperCase()}: ${why}`, [why ?? "unreadable"]);
  }
  // An empty YAML document means "no providers".
  if (raw === null || raw === undefined) return [];
  const parsed = ProviderFile.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
    throw new ProviderConfigError(`invalid provider config:\n  ${issues.join("\n  ")}`, issues);
  }
  return parsed.data.providers;
}

/**
 * Reads a provider file (".json" is JSON, anything else YAML, which also
 * accepts JSON). Throws ProviderConfigError naming the file on any problem.
 */
export function loadProviderConfigFile(path: string): ProviderConfig[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new ProviderConfigError(`cannot read provider config ${path}: ${code}`, [code]);
  }
  try {
    return parseProviderConfig(text, path.toLowerCase().endsWith(".json") ? "json" : "yaml");
  } catch (err) {
    if (err instanceof ProviderConfigError) throw new ProviderConfigError(`${path}: ${err.message}`, err.issues);
    throw err;
  }
}
