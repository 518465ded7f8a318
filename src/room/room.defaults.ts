/**
 * What a room gets for every policy the renter leaves out. One place, read
 * by the room service when renting and by the API docs' examples, so the
 * documented defaults are the applied ones. Deliberately untyped here: the
 * schemas use these objects as their OpenAPI examples, so typing them with
 * the schemas' types would be circular; the room service, which applies
 * them, is where the compiler checks them against Actor and the policies.
 */
export const DEFAULT_ACTOR = {
  agent_id: "assistant",
  role: "assistant",
  adapter: "pi" as const,
  provider: "local",
  model: "echo",
  skills: [] as string[],
  system_prompt: null as string | null,
  muted: false,
  options: {} as Record<string, unknown>,
};
export const DEFAULT_TOOL_POLICY = { allowed_tools: [] as string[], max_tool_calls: 8 };
export const DEFAULT_WAKE_POLICY = { mode: "on_message" as const, idle_timeout_s: 300, release_after_s: 86_400 };
export const DEFAULT_DONE_POLICY = { max_turn_s: 120, max_output_tokens: 4096, max_steps: 8 };
