/**
 * The models a turn may use: the built-in `local/echo` plus the operator's
 * providers, each resolved once into a pi-ai Model and its public ModelInfo.
 * Keys are read here, once, from the environment variables the operator
 * named, and are only ever handed to the request that needs them.
 */
import type { Api, getModels, getProviders, KnownProvider, Model } from "@mariozechner/pi-ai";
import { ECHO_API, ECHO_MODEL_ID, ECHO_PROVIDER, echoModel } from "./echo.model.js";
import type { ModelInfo, ProviderInfo } from "./llm.types.js";
import type { ProviderApi, ProviderConfig, ProviderModelConfig } from "./provider-config.js";

/** Sent when an endpoint needs no key: the SDKs must get *some* key, or they reach for the server's environment. */
export const NO_KEY = "no-key";

const DEFAULT_BASE_URL: Record<ProviderApi, string> = {
  "openai-completions": "https://api.openai.com/v1",
  "anthropic-messages": "https://api.anthropic.com",
};

export interface CatalogEntry {
  info: ModelInfo;
  model: Model<Api>;
  /** The key to send: the configured one, or NO_KEY. */
  apiKey: string;
}

export interface Catalog {
  get(provider: string, model: string): CatalogEntry | undefined;
  providers(): ProviderInfo[];
  /** Every configured key (for masking them out of error messages). */
  secrets: string[];
  /** Providers whose named key variable was empty at start. */
  missingKeys: { provider: string; env: string }[];
}

/** pi-ai's model registry (its root module), passed in so the catalog does not load pi-ai when only local/echo is configured. */
export interface ModelRegistry {
  getProviders: typeof getProviders;
  getModels: typeof getModels;
}

let registryIndex: Map<string, Model<Api>[]> | null = null;

/** pi-ai's known models by id, so configured models can inherit prices and limits. */
function knownModels(registry: ModelRegistry, id: string): Model<Api>[] {
  if (!registryIndex) {
    registryIndex = new Map();
    for (const provider of registry.getProviders()) {
      for (const m of registry.getModels(provider as KnownProvider) as Model<Api>[]) {
        const list = registryIndex.get(m.id) ?? [];
        list.push(m);
        registryIndex.set(m.id, list);
      }
    }
  }
  return registryIndex.get(id) ?? [];
}

function bestKnown(registry: ModelRegistry, id: string, provider: string, api: string): Model<Api> | undefined {
  const candidates = knownModels(registry, id);
  return candidates.find((m) => m.provider === provider) ?? candidates.find((m) => m.api === api) ?? candidates[0];
}

function resolveModel(registry: ModelRegistry, p: ProviderConfig, m: ProviderModelConfig, baseUrl: string): { info: ModelInfo; model: Model<Api> } {
  const known = bestKnown(registry, m.id, p.name, p.api);
  const cost = m.cost
    ? { input: m.cost.input, output: m.cost.output, cache_read: m.cost.cache_read, cache_write: m.cost.cache_write }
    : known
      ? { input: known.cost.input, output: known.cost.output, cache_read: known.cost.cacheRead, cache_write: known.cost.cacheWrite }
      : { input: 0, output: 0, cache_read: 0, cache_write: 0 };
  const contextWindow = m.context_window ?? known?.contextWindow ?? null;
  const maxTokens = m.max_tokens ?? known?.maxTokens ?? null;
  const info: ModelInfo = {
    provider: p.name,
    model: m.id,
    name: m.name ?? known?.name ?? m.id,
    api: p.api,
    context_window: contextWindow,
    max_tokens: maxTokens,
    cost,
    tools: m.tools,
  };
  const model: Model<Api> = {
    id: m.id,
    name: info.name,
    api: p.api,
    provider: p.name,
    baseUrl,
    reasoning: false,
    input: ["text"],
    cost: { input: cost.input, output: cost.output, cacheRead: cost.cache_read, cacheWrite: cost.cache_write },
    contextWindow: contextWindow ?? 0,
    maxTokens: maxTokens ?? 0,
  };
  return { info, model };
}

function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/+$/, "");
  } catch {
    return url;
  }
}

/**
 * Resolves the providers once. `env` is where the named key variables are
 * looked up; `registry` (pi-ai) is read only when there are providers.
 */
export function buildCatalog(providers: readonly ProviderConfig[], env: Readonly<Record<string, string | undefined>>, registry: ModelRegistry | null): Catalog {
  const entries = new Map<string, CatalogEntry>();
  const listed: ProviderInfo[] = [];
  const secrets: string[] = [];
  const missingKeys: { provider: string; env: string }[] = [];
  const key = (provider: string, model: string) => `${provider}\u0000${model}`;

  const echo = echoModel();
  const echoInfo: ModelInfo = {
    provider: ECHO_PROVIDER,
    model: ECHO_MODEL_ID,
    name: echo.name,
    api: ECHO_API,
    context_window: null,
    max_tokens: null,
    cost: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
    tools: true,
  };
  entries.set(key(ECHO_PROVIDER, ECHO_MODEL_ID), { info: echoInfo, model: echo, apiKey: NO_KEY });
  listed.push({ name: ECHO_PROVIDER, api: ECHO_API, base_url: null, key_configured: false, models: [echoInfo] });

  if (providers.length > 0 && !registry) throw new Error("buildCatalog: configured providers need pi-ai's model registry");
  for (const p of providers) {
    const value = p.api_key_env ? env[p.api_key_env] : undefined;
    const configuredKey = value && value.trim() !== "" ? value.trim() : null;
    if (configuredKey) secrets.push(configuredKey);
    else if (p.api_key_env) missingKeys.push({ provider: p.name, env: p.api_key_env });
    const baseUrl = (p.base_url ?? DEFAULT_BASE_URL[p.api]).replace(/\/+$/, "");
    const infos: ModelInfo[] = [];
    for (const m of p.models) {
      const { info, model } = resolveModel(registry!, p, m, baseUrl);
      entries.set(key(p.name, m.id), { info, model, apiKey: configuredKey ?? NO_KEY });
      infos.push(info);
    }
    listed.push({ name: p.name, api: p.api, base_url: withoutCredentials(baseUrl), key_configured: configuredKey !== null, models: infos });
  }

  return {
    get: (provider, model) => entries.get(key(provider, model)),
    providers: () => structuredClone(listed),
    secrets,
    missingKeys,
  };
}
