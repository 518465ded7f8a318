/**
 * LlmRuntime: the model catalog at once, the turn engine (pi-agent-core's
 * agent loop, pi-ai, its providers and TypeBox: most of the server's module
 * loading) on first use.
 *
 * What requests need before any turn runs (which models exist, their
 * public info, the built-in tool names) is answered here without pi-ai.
 * The engine module is imported by the first turn or structured request,
 * or by `warm()`, whichever comes first; with a remote provider configured
 * it is loaded before createLlmRuntime resolves, so that provider's first
 * turn pays no import. A turn's time limit starts when the engine runs it,
 * so loading never counts against it.
 */
import type { Engine } from "./llm.engine.js";
import type { LlmRuntime, ModelInfo, ProviderInfo, StructuredResult, TurnResult, Usage } from "./llm.types.js";
import { buildCatalog } from "./model.catalog.js";
import type { ProviderConfig } from "./provider-config.js";
import type { RetryPolicy } from "./provider.stream.js";
import type { Logger } from "./turn.events.js";
import type { ToolRegistry } from "../tools/tools.registry.js";
import { BUILTIN_TOOL_NAMES } from "../tools/tools.names.js";

export type { RetryPolicy } from "./provider.stream.js";
export type { Logger as RuntimeLogger } from "./turn.events.js";

export interface LlmRuntimeOptions {
  providers: ProviderConfig[];
  /** Retries of a model request that failed before streaming anything. Default: 2 retries, 250 ms base, 10 s cap. */
  retry?: RetryPolicy;
  /** Pace of `local/echo` when an actor sets no token_delay_ms. Default 1 ms. */
  echoDefaultTokenDelayMs?: number;
  logger?: Logger;
  /**
   * Where the key variables named by `api_key_env` are read, once. The
   * composition root passes the process environment; the default is empty,
   * so nothing here ever reads process.env by itself.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Built-in tools; default: a fresh registry on the system clock. */
  tools?: ToolRegistry;
  /** How long an aborted turn waits for the loop to wind down before returning anyway. Default 1000 ms. */
  abortGraceMs?: number;
}

const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, baseDelayMs: 250, maxDelayMs: 10_000 };

const zeroUsage = (): Usage => ({ input: 0, output: 0, totalTokens: 0, cost: { total: 0 } });

/**
 * Builds the runtime: resolves the providers (reading each named key once).
 * Throws nothing for a missing key: that provider's turns fail with
 * PROVIDER_ERROR and a warning is logged.
 */
export async function createLlmRuntime(options: LlmRuntimeOptions): Promise<LlmRuntime> {
  const log = options.logger;
  // pi-ai's registry of known models (prices, limits) matters only to configured providers.
  const registry = options.providers.length > 0 ? await import("@mariozechner/pi-ai") : null;
  const catalog = buildCatalog(options.providers, options.env ?? {}, registry);
  for (const missing of catalog.missingKeys) {
    log?.warn({ provider: missing.provider, env: missing.env }, "the provider's key variable is not set; its requests will be sent without a key");
  }

  // The one seam: the engine module is imported once, by whichever call needs it first.
  let engine: Engine | null = null;
  let loading: Promise<Engine> | null = null;
  const loadEngine = (): Promise<Engine> =>
    (loading ??= import("./llm.engine.js").then(async ({ createEngine }) => {
      engine = await createEngine({
        catalog,
        apis: new Set(options.providers.map((p) => p.api)),
        retry: options.retry ?? DEFAULT_RETRY,
        echoDelay: options.echoDefaultTokenDelayMs ?? 1,
        graceMs: options.abortGraceMs ?? 1000,
        ...(log ? { logger: log } : {}),
        ...(options.tools ? { tools: options.tools } : {}),
      });
      return engine;
    }).catch((err: unknown) => {
      // A failed import is not cached: the next call tries again.
      loading = null;
      throw err;
    }));
  if (options.providers.length > 0) await loadEngine();

  const structuredFailure = (err: unknown): StructuredResult => {
    log?.error({ err }, "a structured model request failed inside the runtime");
    return { ok: false, code: "PROVIDER_ERROR", message: "the model request failed inside the server", usage: zeroUsage() };
  };

  const internalFailure = (err: unknown): TurnResult => {
    log?.error({ err }, "a turn failed inside the model runtime");
    return { status: "failed", text: "", usage: zeroUsage(), error: { code: "INTERNAL", message: "the turn failed inside the server" } };
  };

  const toolNames = options.tools ? () => options.tools!.names() : () => [...BUILTIN_TOOL_NAMES];

  return {
    // A catch handler, not an async wrapper: no second suspended frame per running turn.
    runTurn: (request) => (engine ? engine.runTurn(request) : loadEngine().then((e) => e.runTurn(request))).catch(internalFailure),
    completeStructured: (request) => (engine ? engine.completeStructured(request) : loadEngine().then((e) => e.completeStructured(request))).catch(structuredFailure),
    warm: () =>
      loadEngine().then(
        () => undefined,
        (err: unknown) => log?.error({ err }, "could not load the model runtime ahead of the first turn; the first turn will try again"),
      ),
    hasModel: (provider, model) => catalog.get(provider, model) !== undefined,
    listProviders: (): ProviderInfo[] => catalog.providers(),
    listModels: (): ModelInfo[] => catalog.providers().flatMap((p) => p.models),
    toolNames,
  };
}
