/** The /docs/llm/room section on usage and cost, budgets and summaries (issue #15). */
import { SUMMARY_DEFAULT_CHARS, SUMMARY_MAX_CHARS } from "../room/room.summary.js";

export function usageSection(base: string): string {
  return `**Usage and cost.** Every model call a room pays for is recorded when it ends, in the same transaction as the turn's \`agent:turn_end\`: which turn and message, which actor, which provider and model, input, output and total tokens, and the cost in US dollars at the model catalogue's prices (the \`cost\` an operator gives a model in \`PROVIDERS_FILE\`, else pi-ai's known price for that model id, else 0; \`local/echo\` is free). Summaries written by a model are recorded the same way. \`GET /llm/room/{id}/usage\` sums them: \`totals\` (equal to the room record's \`usage\`), \`by_actor\` and \`by_model\`, each also counting \`turns\` and \`summaries\`; an actor removed from the roster keeps its line. \`GET /llm/usage?from=YYYY-MM-DD&to=YYYY-MM-DD\` gives the tenant's usage per UTC day and, within each day, per provider and model (default: the last 30 days; at most 366; a bad or reversed date is 400 \`VALIDATION_FAILED\` naming the parameter). It is the same count the tenant's daily budget (\`TENANT_DAILY_TOKEN_BUDGET\`) uses.

**Budgets.** A room may set \`budget: {"max_tokens": N, "max_cost_usd": X}\` (either or both) when it is rented or by \`PATCH\`; a field set to \`null\` removes that limit, \`"budget": null\` removes both. The budget is checked when a turn would start, never in the middle of one: the turn whose end brings \`usage\` to a limit runs to its end (so a room overshoots by at most one turn), and in that turn's final transaction the room writes \`room:budget_blocked\` saying which limit (\`limit\`, \`max\`, \`used\`). From then on the room record shows \`budget_exceeded\`, and a \`message\` or \`task\`, a wake that would run one, and a summary by a model are 409 \`ROOM_BUDGET_EXCEEDED\`, nothing stored; the error's message carries a \`PATCH\` body that raises the limit. Notes are still stored. A message that was already queued when the budget ran out is not cancelled: it stays queued (\`queued_message_id\`) and its turn starts in the transaction of the \`PATCH\` that raises the budget (wake policy \`on_message\`; with \`manual\`, or when the tenant is at a quota then, it waits for \`POST /wake\`), or it is cancelled by a release like any queued message. Lowering a budget below what the room has used blocks it at once (\`room:budget_blocked\` with \`turn_id: null\`).

**Summaries.** \`POST /llm/room/{id}/summary\` (body \`{"max_chars": N}\`, default ${SUMMARY_DEFAULT_CHARS}, at most ${SUMMARY_MAX_CHARS}) writes a bounded summary of the newest 200 messages, notes and answers to the room's \`summary_text\` (which \`GET\`, the room list and the Abbotik TUI show) and emits \`room:summary_updated\` (\`through_seq\`, \`method\`, the summarizer, its usage). The summarizer is the first actor with role \`summarizer\`, else the first actor. On \`local/echo\` the summary is a deterministic digest: a line counting the messages by author, then the newest messages, one line each. On a real model it is that model's answer to one request (no tools, bounded by \`max_chars\`, the room's \`done_policy.max_turn_s\` and output tokens), and its tokens count in the room's usage and budget. A room rented or patched with \`summary_every_turns: N\` gets the same summary written after every N ended turns.

A model summary does not go through the room's worker: it reads the transcript as committed when it starts and writes in a transaction of its own, so it neither waits for a running turn nor holds up the next one. It keeps a turn's bounds in other ways: one summary per room at a time (another \`POST\` is 409 \`SUMMARY_IN_PROGRESS\`), refused like a turn during an operator stop or shutdown or over a quota, and its model request is aborted, writing nothing, when the room is released, the server stops, or the caller closes the request (then 502 \`SUMMARY_FAILED\`, like a provider failure; \`summary_text\` stays as it was).

\`\`\`sh
BASE=${base}
TOKEN=$(npm run -s token -- --tenant acme --sub alice)
H="Authorization: Bearer $TOKEN"
J='Content-Type: application/json'

# Two actors, a budget of 2000 tokens, a summary after every 4 turns.
ROOM=$(curl -s -X POST $BASE/llm/room -H "$H" -H "$J" \\
  -d '{"agents":[{"agent_id":"planner"},{"agent_id":"critic","role":"summarizer"}],"budget":{"max_tokens":2000},"summary_every_turns":4}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.id')
MSG=$(curl -s -X POST $BASE/llm/room/$ROOM/messages -H "$H" -H "$J" -d '{"content":"Plan a two-day trip to Lisbon","actor":"planner"}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.id')
curl -s "$BASE/llm/room/$ROOM/messages/$MSG?wait=30" -H "$H" > /dev/null
MSG=$(curl -s -X POST $BASE/llm/room/$ROOM/messages -H "$H" -H "$J" -d '{"content":"What is missing from that plan?","actor":"critic"}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.id')
curl -s "$BASE/llm/room/$ROOM/messages/$MSG?wait=30" -H "$H" > /dev/null

# Who spent what: totals, by actor, by model.
curl -s $BASE/llm/room/$ROOM/usage -H "$H"

# Write the summary now (the critic is the summarizer) and read it from the room.
curl -s -X POST $BASE/llm/room/$ROOM/summary -H "$H" -H "$J" -d '{}' \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.summary_text'

# Raise the budget (a 409 ROOM_BUDGET_EXCEEDED says by how much), and the tenant's usage today.
curl -s -X PATCH $BASE/llm/room/$ROOM -H "$H" -H "$J" -d '{"budget":{"max_tokens":4000}}' > /dev/null
curl -s "$BASE/llm/usage?from=$(date -u +%F)" -H "$H"
\`\`\``;
}
