/** The empty assistant message every stream starts from (and a failed one ends with): no content, zero usage. */
import type { Api, AssistantMessage, Model, StopReason } from "@mariozechner/pi-ai";

export function emptyAssistantMessage(model: Model<Api>, stopReason: StopReason): AssistantMessage {
  return {
    role: "assistant",
    content: [],
    api: model.api,
    provider: model.provider,
    model: model.id,
    usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, totalTokens: 0, cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 } },
    stopReason,
    timestamp: Date.now(),
  };
}
