/**
 * The turn engine behind LlmRuntime, on pi-agent-core's agent loop and
 * pi-ai's providers. llm.runtime.ts loads this module (and with it pi-ai,
 * its providers and TypeBox) on first use, not at start-up.
 *
 * One turn = one run of `runAgentLoop` over the room's history plus the new
 * prompt, with the room's bounds enforced here because the loop has none of
 * its own: wall time (abort + TURN_TIMEOUT), output tokens (per request and
 * in total), steps (LLM calls), tool calls and allowed tools. The caller's
 * `emit` can never throw into the loop, every payload is a fresh snapshot,
 * and `runTurn` always resolves, even if a tool ignores the abort.
 */
import { runAgentLoop, type AgentContext, type AgentEvent, type AgentLoopConfig, type AgentMessage, type StreamFn } from "@mariozechner/pi-agent-core";
import type { AssistantMessage, Context, Message, TSchema, UserMessage } from "@mariozechner/pi-ai";
import { createToolRegistry, isRefusal, notAllowedMessage, type ToolRegistry } from "../tools/tools.registry.js";
import { ECHO_API, echoSettingsFrom } from "./echo.model.js";
import { registerEchoProvider } from "./echo.provider.js";
import type { StructuredRequest, StructuredResult, TurnEvent, TurnRequest, TurnResult, Usage } from "./llm.types.js";
import type { Catalog, CatalogEntry } from "./model.catalog.js";
import type { ProviderApi } from "./provider-config.js";
import { guardedStreamFn, type RetryPolicy } from "./provider.stream.js";
import { assistantText, safeErrorMessage, TurnEventMapper, type Logger } from "./turn.events.js";

export interface EngineOptions {
  catalog: Catalog;
  /** The APIs of the configured providers: their pi-ai modules are loaded with the engine. */
  apis: ReadonlySet<ProviderApi>;
  retry: RetryPolicy;
  echoDelay: number;
  graceMs: number;
  logger?: Logger;
  /** Built-in tools; default: a fresh registry on the system clock. */
  tools?: ToolRegistry;
}

export interface Engine {
  runTurn(request: TurnRequest): Promise<TurnResult>;
  completeStructured(request: StructuredRequest): Promise<StructuredResult>;
}

const ZERO_USAGE: Usage = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };
const DEFAULT_STRUCTURED_MS = 120_000;
const MAX_NO_TOOL_TEXT = 500;

type LoopOutcome = { kind: "done" } | { kind: "threw"; error: unknown } | { kind: "stuck" };

function sumUsage(messages: readonly AssistantMessage[]): Usage {
  const total: Usage = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };
  for (const m of messages) {
    total.input += m.usage.input;
    total.output += m.usage.output;
    total.totalTokens += m.usage.totalTokens;
    total.cost.total += m.usage.cost.total;
  }
  return total;
}

function isLlmMessage(m: AgentMessage): m is Message {
  const role = (m as { role?: string }).role;
  return role === "user" || role === "assistant" || role === "toolResult";
}

/** Headers the provider SDKs would otherwise fill from the server's own environment (OPENAI_ORG_ID, ANTHROPIC_AUTH_TOKEN, ...). */
function headerOverrides(api: string, apiKey: string): Record<string, string | null> | undefined {
  if (api === "openai-completions") return { "OpenAI-Organization": null, "OpenAI-Project": null };
  // pi-ai sends OAuth tokens ("sk-ant-oat...") as a bearer token itself; only plain API keys travel as x-api-key.
  if (api === "anthropic-messages" && !apiKey.includes("sk-ant-oat")) return { Authorization: null };
  return undefined;
}

/**
 * The request body change that makes the model call `tool` rather than answer
 * in text: OpenAI-style `tool_choice: {type: "function"}`, Anthropic
 * `tool_choice: {type: "tool"}`. pi-ai's simple stream options carry no tool
 * choice for every API, so it is set on the outgoing payload.
 */
function forceToolPayload(api: string, tool: string): ((payload: unknown) => unknown) | undefined {
  if (api === "openai-completions") return (payload) => ({ ...(payload as object), tool_choice: { type: "function", function: { name: tool } } });
  if (api === "anthropic-messages") return (payload) => ({ ...(payload as object), tool_choice: { type: "tool", name: tool } });
  return undefined;
}

/**
 * Builds the engine: registers the built-in echo model with pi-ai and loads
 * the provider modules in use, so no turn pays an import after this.
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const { catalog, retry, echoDelay, graceMs } = options;
  const log = options.logger;
  const tools = options.tools ?? createToolRegistry();
  registerEchoProvider();
  await Promise.all([
    options.apis.has("openai-completions") ? import("@mariozechner/pi-ai/openai-completions") : null,
    options.apis.has("anthropic-messages") ? import("@mariozechner/pi-ai/anthropic") : null,
  ]);

  async function runTurn(request: TurnRequest): Promise<TurnResult> {
    let closed = false;
    let listenerFailed = false;
    const emit = (event: TurnEvent) => {
      if (closed) return;
      try {
        request.emit(event);
      } catch (err) {
        if (!listenerFailed) log?.warn({ err: err instanceof Error ? err.message : String(err), event_type: event.event_type }, "a turn event listener threw; the event was dropped");
        listenerFailed = true;
      }
    };

    const entry: CatalogEntry | undefined = catalog.get(request.actor.provider, request.actor.model);
    if (!entry) {
      return {
        status: "failed",
        text: "",
        usage: { ...ZERO_USAGE, cost: { total: 0 } },
        error: { code: "UNKNOWN_MODEL", message: `model ${request.actor.provider}/${request.actor.model} is not configured on this server` },
      };
    }
    // The caller's controller is the turn's only one: a linked second controller would double what each running turn holds.
    const { controller } = request;
    if (controller.signal.aborted) return { status: "interrupted", text: "", usage: { ...ZERO_USAGE, cost: { total: 0 } } };

    const { limits } = request;
    const maxSteps = Math.max(1, Math.floor(limits.maxSteps));
    const maxOutput = Math.max(1, Math.floor(limits.maxOutputTokens));
    const maxToolCalls = Math.max(0, Math.floor(limits.maxToolCalls));
    // setTimeout fires at once for delays past 2^31-1 ms; no turn needs longer than that.
    const turnMs = Math.min(Math.max(0, limits.maxTurnMs), 2_147_483_647);
    const started = Date.now();
    const deadline = started + turnMs;

    let timedOut = false;
    const turnTimer = setTimeout(() => {
      timedOut = true;
      controller.abort("timeout");
    }, turnMs);

    const mapper = new TurnEventMapper(emit, catalog.secrets);
    const assistants: AssistantMessage[] = [];
    let outputUsed = 0;
    let toolCallsStarted = 0;

    const sink = (event: AgentEvent) => {
      if (closed) return;
      try {
        if (event.type === "message_end" && (event.message as { role?: string }).role === "assistant") {
          const m = event.message as AssistantMessage;
          assistants.push(m);
          outputUsed += m.usage.output;
        }
        mapper.handle(event);
      } catch (err) {
        log?.error({ err }, "could not translate an agent event");
      }
    };

    const modelMax = entry.model.maxTokens > 0 ? entry.model.maxTokens : Infinity;
    const guarded = guardedStreamFn({
      retry,
      signal: controller.signal,
      deadline,
      apiKey: entry.apiKey,
      headers: headerOverrides(entry.model.api, entry.apiKey),
      // The room's output bound covers the whole turn: each request may use what earlier steps left.
      maxTokens: () => Math.max(1, Math.min(maxOutput - outputUsed, modelMax)),
      extra: entry.model.api === ECHO_API ? { echo: echoSettingsFrom(request.actor.options ?? {}, echoDelay) } : undefined,
      http: entry.model.api !== ECHO_API,
      onRetry: (info) =>
        log?.warn(
          { provider: entry.info.provider, model: entry.info.model, attempt: info.attempt, status: info.status, delay_ms: info.delayMs, error: safeErrorMessage(info.error, catalog.secrets) },
          "model request failed before streaming; retrying",
        ),
    });
    // The model is offered only the allowed tools; the refusals in the context answer a call it makes anyway.
    const streamFn: StreamFn = (model, ctx, options) => guarded(model, ctx.tools?.some(isRefusal) ? { ...ctx, tools: ctx.tools.filter((t) => !isRefusal(t)) } : ctx, options);

    const config: AgentLoopConfig = {
      model: entry.model,
      apiKey: entry.apiKey,
      convertToLlm: (messages) => messages.filter(isLlmMessage),
      toolExecution: "sequential",
      beforeToolCall: async ({ toolCall, context }) => {
        const tool = context.tools?.find((t) => t.name === toolCall.name);
        if (tool && isRefusal(tool)) return { block: true, reason: notAllowedMessage(toolCall.name, limits.allowedTools) };
        if (assistants.length >= maxSteps) {
          return { block: true, reason: `Tool ${toolCall.name} was not run: this turn reached its step limit (max_steps=${maxSteps}).` };
        }
        if (toolCallsStarted >= maxToolCalls) {
          return { block: true, reason: `Tool ${toolCall.name} was not run: this turn reached its tool call limit (max_tool_calls=${maxToolCalls}).` };
        }
        toolCallsStarted++;
        return undefined;
      },
      shouldStopAfterTurn: () => controller.signal.aborted || assistants.length >= maxSteps || outputUsed >= maxOutput,
    };

    const history: Message[] = [];
    for (const turn of request.history) {
      if (turn.text.trim() === "") continue;
      if (turn.role === "user") history.push({ role: "user", content: turn.text, timestamp: 0 });
      else {
        history.push({
          role: "assistant",
          content: [{ type: "text", text: turn.text }],
          api: entry.model.api,
          provider: entry.model.provider,
          model: entry.model.id,
          usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, totalTokens: 0, cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 } },
          stopReason: "stop",
          timestamp: 0,
        });
      }
    }
    const context: AgentContext = {
      systemPrompt: request.actor.system_prompt ?? "",
      messages: history,
      tools: entry.info.tools ? [...tools.select(limits.allowedTools), ...tools.refusals(limits.allowedTools)] : [],
    };
    const prompt: UserMessage = { role: "user", content: request.prompt, timestamp: started };

    // The first of the loop's end and, once aborted, graceMs later settles the turn: a tool that ignores the
    // signal cannot hold it open. One settle-once promise rather than Promise.race, which holds more per turn.
    let settle!: (outcome: LoopOutcome) => void;
    const ended = new Promise<LoopOutcome>((resolve) => (settle = resolve));
    let graceTimer: NodeJS.Timeout | undefined;
    const armGrace = () => {
      graceTimer = setTimeout(() => settle({ kind: "stuck" }), graceMs);
    };
    controller.signal.addEventListener("abort", armGrace, { once: true });
    void runAgentLoop([prompt], context, config, sink, controller.signal, streamFn).then(
      () => settle({ kind: "done" }),
      (error: unknown) => settle({ kind: "threw", error }),
    );

    let outcome: LoopOutcome;
    try {
      outcome = await ended;
    } finally {
      clearTimeout(turnTimer);
      clearTimeout(graceTimer);
      controller.signal.removeEventListener("abort", armGrace);
    }

    const terminal = assistants.at(-1) ?? null;
    const usage = sumUsage(assistants);
    const text = terminal ? assistantText(terminal) : "";
    const naturalEnd =
      outcome.kind === "done" &&
      terminal !== null &&
      (terminal.stopReason === "stop" || terminal.stopReason === "length" || (terminal.stopReason === "toolUse" && !controller.signal.aborted));

    let result: TurnResult;
    if (naturalEnd) result = { status: "completed", text, usage };
    else if (timedOut) {
      result = { status: "failed", text, usage, error: { code: "TURN_TIMEOUT", message: `the turn exceeded its time limit of ${Math.round(limits.maxTurnMs)} ms` } };
    } else if (controller.signal.aborted) result = { status: "interrupted", text, usage };
    else if (outcome.kind === "threw") {
      // A throw right after tool events means a tool broke the loop (e.g. one returning no result object).
      const running = mapper.runningTool();
      const inToolPhase = running !== null || mapper.lastEventType === "tool_execution_start" || mapper.lastEventType === "tool_execution_end";
      const tool = inToolPhase ? (running ?? mapper.lastToolName) : null;
      log?.error({ err: outcome.error, provider: entry.info.provider, model: entry.info.model }, "the agent loop failed");
      result = tool
        ? { status: "failed", text, usage, error: { code: "TOOL_ERROR", message: `the tool ${tool} could not be run` } }
        : { status: "failed", text, usage, error: { code: "INTERNAL", message: "the turn failed inside the server" } };
    } else if (terminal && (terminal.stopReason === "error" || terminal.stopReason === "aborted")) {
      result = { status: "failed", text, usage, error: { code: "PROVIDER_ERROR", message: safeErrorMessage(terminal.errorMessage, catalog.secrets) } };
    } else {
      result = { status: "failed", text, usage, error: { code: "INTERNAL", message: "the turn ended without an answer" } };
    }

    // A loop that did not end by itself (tool ignoring the abort, or a throw) still closes with pi:agent_end.
    mapper.endAgent();
    closed = true;
    controller.abort("turn over");
    return result;
  }

  /**
   * One model request offering exactly one tool, forced where the API allows,
   * with the same key handling, pre-stream retries and secret masking as a
   * turn. The arguments come back unvalidated: the caller owns the schema.
   */
  async function completeStructured(request: StructuredRequest): Promise<StructuredResult> {
    const zero = (): Usage => ({ ...ZERO_USAGE, cost: { total: 0 } });
    const entry = catalog.get(request.actor.provider, request.actor.model);
    if (!entry) return { ok: false, code: "UNKNOWN_MODEL", message: `model ${request.actor.provider}/${request.actor.model} is not configured on this server`, usage: zero() };
    if (request.signal?.aborted) return { ok: false, code: "ABORTED", message: "the request was aborted before it started", usage: zero() };

    const controller = new AbortController();
    const timeoutMs = Math.min(Math.max(1, request.timeoutMs ?? DEFAULT_STRUCTURED_MS), 2_147_483_647);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort("timeout");
    }, timeoutMs);
    const onCallerAbort = () => controller.abort("aborted");
    request.signal?.addEventListener("abort", onCallerAbort, { once: true });

    const modelMax = entry.model.maxTokens > 0 ? entry.model.maxTokens : undefined;
    const wanted = request.maxOutputTokens !== undefined ? Math.max(1, Math.floor(request.maxOutputTokens)) : undefined;
    const maxTokens = wanted !== undefined && modelMax !== undefined ? Math.min(wanted, modelMax) : (wanted ?? modelMax);
    const isEcho = entry.model.api === ECHO_API;
    const onPayload = forceToolPayload(entry.model.api, request.tool.name);
    const streamFn = guardedStreamFn({
      retry,
      signal: controller.signal,
      deadline: Date.now() + timeoutMs,
      apiKey: entry.apiKey,
      headers: headerOverrides(entry.model.api, entry.apiKey),
      maxTokens: () => maxTokens,
      extra: isEcho ? { echo: echoSettingsFrom(request.actor.options ?? {}, echoDelay) } : onPayload ? { onPayload } : undefined,
      http: !isEcho,
      onRetry: (info) =>
        log?.warn(
          { provider: entry.info.provider, model: entry.info.model, attempt: info.attempt, status: info.status, delay_ms: info.delayMs, error: safeErrorMessage(info.error, catalog.secrets) },
          "structured model request failed before streaming; retrying",
        ),
    });
    const context: Context = {
      systemPrompt: request.system,
      messages: [{ role: "user", content: request.prompt, timestamp: Date.now() }],
      // A JSON Schema object is what pi-ai sends for TypeBox schemas too.
      tools: [{ name: request.tool.name, description: request.tool.description, parameters: request.tool.parameters as unknown as TSchema }],
    };

    let message: AssistantMessage;
    try {
      message = await (await streamFn(entry.model, context, {})).result();
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onCallerAbort);
      controller.abort("request over");
    }
    const usage = sumUsage([message]);
    if (message.stopReason === "error" || message.stopReason === "aborted") {
      if (timedOut) return { ok: false, code: "TIMEOUT", message: `the model did not answer within ${timeoutMs} ms`, usage };
      if (request.signal?.aborted) return { ok: false, code: "ABORTED", message: "the request was aborted", usage };
      return { ok: false, code: "PROVIDER_ERROR", message: safeErrorMessage(message.errorMessage, catalog.secrets), usage };
    }
    for (const block of message.content) {
      if (block.type === "toolCall" && block.name === request.tool.name) {
        const args = block.arguments as unknown;
        const plain = args && typeof args === "object" && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
        return { ok: true, arguments: plain, usage };
      }
    }
    const text = assistantText(message);
    return {
      ok: false,
      code: "NO_TOOL_CALL",
      message: `the model answered without calling the tool ${request.tool.name}`,
      usage,
      text: text.length > MAX_NO_TOOL_TEXT ? `${text.slice(0, MAX_NO_TOOL_TEXT)}…` : text,
    };
  }

  return { runTurn, completeStructured };
}
