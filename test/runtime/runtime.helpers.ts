/** Shared helpers for the runtime tests: run one turn and collect what it emitted. */
import type { ActorSpec, ChatTurn, LlmRuntime, TurnEvent, TurnLimits, TurnResult } from "../../src/runtime/llm/llm.types.js";

export const LIMITS: TurnLimits = { maxTurnMs: 20_000, maxOutputTokens: 4096, maxSteps: 8, maxToolCalls: 8, allowedTools: [] };

export function echoActor(options: Record<string, unknown> = {}, systemPrompt: string | null = null): ActorSpec {
  return { agent_id: "a1", provider: "local", model: "echo", system_prompt: systemPrompt, options: { token_delay_ms: 0, ...options } };
}

export function actorFor(provider: string, model: string, options: Record<string, unknown> = {}): ActorSpec {
  return { agent_id: "a1", provider, model, system_prompt: "You are terse.", options };
}

export interface TurnRun {
  result: TurnResult;
  events: TurnEvent[];
  /** Date.now() at each event, same order as events. */
  times: number[];
}

export async function runTurn(
  runtime: LlmRuntime,
  opts: {
    actor?: ActorSpec;
    prompt?: string;
    history?: ChatTurn[];
    limits?: Partial<TurnLimits>;
    controller?: AbortController;
    onEvent?: (event: TurnEvent) => void;
  } = {},
): Promise<TurnRun> {
  const events: TurnEvent[] = [];
  const times: number[] = [];
  const result = await runtime.runTurn({
    actor: opts.actor ?? echoActor(),
    history: opts.history ?? [],
    prompt: opts.prompt ?? "hello there",
    limits: { ...LIMITS, ...opts.limits },
    controller: opts.controller ?? new AbortController(),
    emit: (event) => {
      events.push(event);
      times.push(Date.now());
      opts.onEvent?.(event);
    },
  });
  return { result, events, times };
}

export const types = (events: TurnEvent[]) => events.map((e) => e.event_type);
export const ofType = (events: TurnEvent[], type: string) => events.filter((e) => e.event_type === type).map((e) => e.payload as Record<string, any>);
export const deltas = (events: TurnEvent[]) =>
  ofType(events, "pi:message_update")
    .filter((p) => p["update_type"] === "text_delta")
    .map((p) => p["delta"] as string);

/** A logger that remembers what it was told. */
export function memoryLogger() {
  const lines: { level: "warn" | "error"; obj: object; msg: string }[] = [];
  return {
    lines,
    warn: (obj: object, msg: string) => void lines.push({ level: "warn", obj, msg }),
    error: (obj: object, msg: string) => void lines.push({ level: "error", obj, msg }),
  };
}
