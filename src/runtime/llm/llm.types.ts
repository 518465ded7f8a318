/**
 * The seam between the room worker and whatever runs the model.
 *
 * The worker only ever sees these types; pi-ai / pi-agent-core stay behind
 * `LlmRuntime` so they can be upgraded or replaced without touching rooms.
 */

/** One actor of a room, as the room record stores it. */
export interface ActorSpec {
  agent_id: string;
  provider: string;
  model: string;
  system_prompt: string | null;
  /** Free-form per-actor options; for `local/echo`: token_delay_ms, reply, fail_after_tokens, tool_call, stamp_tokens. */
  options: Record<string, unknown>;
}

/** A prior exchange in the room, oldest first, given to the model as context. */
export interface ChatTurn {
  role: "user" | "assistant";
  text: string;
}

/** Bounds of one turn, from the room's done_policy and tool_policy. */
export interface TurnLimits {
  maxTurnMs: number;
  maxOutputTokens: number;
  maxSteps: number;
  maxToolCalls: number;
  allowedTools: string[];
}

/** Token usage in the contract's shape. Aborted or failed turns may report zeros. */
export interface Usage {
  input: number;
  output: number;
  totalTokens: number;
  cost: { total: number };
}

/**
 * An event the runtime reports while a turn runs, already in the contract's
 * vocabulary (`pi:message_start`, `pi:message_update`, `pi:message_end`,
 * `pi:tool_execution_start`, `pi:tool_execution_end`, `pi:turn_end`,
 * `pi:agent_end`) with the payloads ROOMS.md names. For `pi:message_update`
 * the payload is `{update_type, delta, partial: {role, text}}` where
 * `partial.text` is the whole assistant text of the current message so far.
 * The object is a fresh snapshot: the caller may keep it.
 */
export interface TurnEvent {
  event_type: string;
  payload: Record<string, unknown>;
}

export interface TurnRequest {
  actor: ActorSpec;
  history: ChatTurn[];
  prompt: string;
  limits: TurnLimits;
  /**
   * The turn's controller, for this turn only. The caller aborts it to
   * interrupt, which must close the model's HTTP request promptly (well under
   * 1 s); the runtime aborts it too, on timeout and once the turn is over.
   */
  controller: AbortController;
  /** Called synchronously for each event, in order. Must not throw; if it does, the runtime swallows it. */
  emit: (event: TurnEvent) => void;
}

export type TurnStatus = "completed" | "interrupted" | "failed";

export interface TurnResult {
  status: TurnStatus;
  /** The final assistant text of the turn (the last assistant message's text). */
  text: string;
  usage: Usage;
  /** Set when status is `failed`: a stable code (PROVIDER_ERROR, TURN_TIMEOUT, TOOL_ERROR, ...) and a safe message. */
  error?: { code: string; message: string };
}

export interface ModelInfo {
  provider: string;
  model: string;
  name: string;
  api: string;
  context_window: number | null;
  max_tokens: number | null;
  /** USD per million tokens. */
  cost: { input: number; output: number; cache_read: number; cache_write: number };
  tools: boolean;
}

export interface ProviderInfo {
  name: string;
  api: string;
  base_url: string | null;
  /** Whether the key the operator named is actually present (never the key itself). */
  key_configured: boolean;
  models: ModelInfo[];
}

/** The one tool a structured request offers the model; its arguments are the answer. */
export interface StructuredTool {
  name: string;
  description: string;
  /** A JSON Schema object (e.g. from `z.toJSONSchema`) describing the arguments. */
  parameters: Record<string, unknown>;
}

export interface StructuredRequest {
  actor: ActorSpec;
  system: string;
  prompt: string;
  tool: StructuredTool;
  /** Aborting it closes the model's HTTP request; the result is then `ABORTED`. */
  signal?: AbortSignal;
  /** Output-token cap of the request; default the model's own limit. */
  maxOutputTokens?: number;
  /** Wall-time bound of the request including retries; default 120 s. */
  timeoutMs?: number;
}

/**
 * The arguments of the tool call the model made (not yet validated: the
 * caller owns the schema), or why there are none: `UNKNOWN_MODEL`,
 * `PROVIDER_ERROR`, `TIMEOUT`, `ABORTED`, or `NO_TOOL_CALL` (the model
 * answered in text, whose start is in `text`).
 */
export type StructuredResult =
  | { ok: true; arguments: Record<string, unknown>; usage: Usage }
  | { ok: false; code: "UNKNOWN_MODEL" | "PROVIDER_ERROR" | "TIMEOUT" | "ABORTED" | "NO_TOOL_CALL"; message: string; usage: Usage; text?: string };

/** A model asked for one structured answer through a forced tool call. */
export interface StructuredModel {
  /** Never rejects: every failure comes back as `ok: false`. */
  completeStructured(request: StructuredRequest): Promise<StructuredResult>;
}

export interface LlmRuntime extends StructuredModel {
  /** Runs one bounded turn. Never rejects: every failure comes back as `status: "failed"`. */
  runTurn(request: TurnRequest): Promise<TurnResult>;
  hasModel(provider: string, model: string): boolean;
  listProviders(): ProviderInfo[];
  listModels(): ModelInfo[];
  /** Names of the built-in tools a tool_policy may allow. */
  toolNames(): string[];
  /** Loads the turn engine now rather than on the first turn; never rejects (a failure is logged). */
  warm(): Promise<void>;
}
