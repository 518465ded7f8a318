/**
 * The room guide's "Several agents in one room" section: roster, addressing,
 * rounds, stopping, shared context, and a curl session that runs as printed
 * against a fresh clone with the built-in model (test/docs/multi-agent-example.test.ts
 * runs it against a spawned server).
 */
import { MAX_ROUNDS } from "../room/room.sequence.js";

export function multiAgentSection(base: string): string {
  return `A room holds up to 16 actors (a planner, a coder, a critic), each with its own \`agent_id\`, model, options and system prompt. Change the roster while the room lives, one actor at a time: \`POST /llm/room/{id}/actors\` adds one (\`room:actor_added\`), \`PATCH /llm/room/{id}/actors/{agent_id}\` mutes, unmutes or changes one (\`room:actor_updated\`), \`DELETE /llm/room/{id}/actors/{agent_id}\` removes one, keeping its past messages and events (\`room:actor_removed\`). Each bumps the room's \`version\` and takes \`If-Match\` and \`Idempotency-Key\`; agent ids are unique (409 \`ACTOR_EXISTS\`) and the last actor stays (409 \`LAST_ACTOR\`). \`PATCH /llm/room/{id}\` with \`agents\` still replaces the whole roster.

**Who answers.** A message naming an \`actor\` is answered by that actor, even a muted one. Otherwise its \`mentions\` are answered by each mentioned, unmuted actor, one bounded turn each, one after the other in mention order. A message with neither follows the room's \`addressing\`: \`first_unmuted\` (default) has the first unmuted actor answer; \`mentioned_only\` answers nobody and stores the message as a note (201, \`metadata.unaddressed\` says why). A muted actor never answers unless named by \`actor\`.

**Rounds.** \`rounds\` (0 to ${MAX_ROUNDS}, default 0) on a message asks the addressed actors to answer again, each seeing what the others said: actors × (rounds + 1) turns, each with its own \`turn_id\` and \`agent:turn_end\`. A message answered by more than one turn ends with exactly one \`message:completed\` (or \`message:cancelled\` when the rest was dropped). The room still holds one queued message: it runs after the whole exchange.

**Each actor its own context.** An actor's turn sends its own system prompt, model and options, and the room's transcript with its own answers as the assistant's and every other actor's as \`[agent_id]: text\`. Later turns of an exchange see the answers given since the message; their prompt is the newest of them.

**Shared context.** \`POST /llm/room/{id}/context\` \`{name, content}\` attaches a text (a spec, notes; at most 100000 characters, 8 texts and 200000 characters per room) that every actor's turn sees from then on, in its system prompt under \`name\`; \`DELETE /llm/room/{id}/context/{attachment_id}\` detaches it; \`GET /llm/room/{id}/context\` lists them (\`room:context_attached\`, \`room:context_detached\`).

**Stopping.** \`POST /llm/room/{id}/interrupt\` stops the running turn; the next turn of the exchange then runs. With \`{"scope": "all"}\` it also drops the exchange's remaining turns and cancels the queued message (\`message:cancelled\`, reason \`interrupted\`). Muting or removing an actor whose turn runs aborts that turn at the model call (\`agent:turn_end\` \`interrupted\`, \`reason\` \`muted\` or \`removed\`) and skips its remaining turns of the exchange; \`POST /llm/room/{id}/actors/{agent_id}/interrupt\` does the same without changing the roster (reason \`actor_interrupt\`). The next actor still runs.

**After a crash.** An exchange cut off by a server crash is not resumed: its running turn ends \`failed\` with \`SERVER_RESTARTED\` (the room \`failed\`, as for any turn) and its remaining turns are cancelled (\`message:cancelled\`, reason \`SERVER_RESTARTED\`); no turn runs twice. The same holds when any turn of an exchange fails (\`POST /wake\` then runs what is queued, not the rest of the exchange) or reaches the room's \`budget\` (reason \`ROOM_BUDGET_EXCEEDED\`).

Two agents, two rounds, with the built-in model (each \`local/echo\` answer echoes its prompt, so you can see who answered whom):

\`\`\`sh
BASE=${base}
TOKEN=$(npm run -s token -- --tenant acme --sub alice)   # in the repo, with the server's DATA_DIR (default ./data)
H="Authorization: Bearer $TOKEN"
J='Content-Type: application/json'
id() { node -pe 'JSON.parse(require("fs").readFileSync(0)).data.id'; }

# 1. A room with two actors, each with its own system prompt; only mentioned actors answer.
ROOM=$(curl -s -X POST $BASE/llm/room -H "$H" -H "$J" \\
  -d '{"purpose":"design review","addressing":"mentioned_only","agents":[{"agent_id":"planner","system_prompt":"You plan."},{"agent_id":"critic","system_prompt":"You find the flaw."}]}' | id)

# 2. A spec every actor's turn sees.
curl -s -X POST $BASE/llm/room/$ROOM/context -H "$H" -H "$J" -d '{"name":"spec","content":"1000 entries, least recently used out first."}' >/dev/null

# 3. Both actors, two rounds (rounds: 1 is one more round): planner, critic, planner, critic.
MSG=$(curl -s -X POST $BASE/llm/room/$ROOM/messages -H "$H" -H "$J" \\
  -d '{"content":"Design the cache","mentions":["planner","critic"],"rounds":1}' | id)

# 4. Wait for the whole exchange (no polling), then read who said what.
curl -s "$BASE/llm/room/$ROOM/messages/$MSG?wait=30" -H "$H" | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.message.status'
curl -s "$BASE/llm/room/$ROOM/history" -H "$H" \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.messages.filter(m => m.kind === "output").map(m => m.author_id + ": " + m.content).join("\\n")'
curl -s "$BASE/llm/room/$ROOM/history" -H "$H" \\
  | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.events.filter(e => ["agent:turn_end", "message:completed"].includes(e.event_type)).map(e => e.event_type + (e.agent_key ? " " + e.agent_key : "")).join("\\n")'

# 5. Mute the critic and add a coder: the roster changes one actor at a time, the version goes up each time.
curl -s -X PATCH $BASE/llm/room/$ROOM/actors/critic -H "$H" -H "$J" -d '{"muted":true}' >/dev/null
curl -s -X POST $BASE/llm/room/$ROOM/actors -H "$H" -H "$J" -d '{"agent_id":"coder","system_prompt":"You write the code."}' \\
  | node -pe 'const r = JSON.parse(require("fs").readFileSync(0)).data; "version " + r.version + ": " + r.actors.map(a => a.agent_id + (a.muted ? " (muted)" : "")).join(", ")'

# 6. A message with no mention is only a note in this room; the muted critic is skipped.
curl -s -X POST $BASE/llm/room/$ROOM/messages -H "$H" -H "$J" -d '{"content":"remember: no locks"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).data.kind'
MSG=$(curl -s -X POST $BASE/llm/room/$ROOM/messages -H "$H" -H "$J" -d '{"content":"Write it","mentions":["critic","coder"]}' | id)
curl -s "$BASE/llm/room/$ROOM/messages/$MSG?wait=30" -H "$H" \\
  | node -pe 'const d = JSON.parse(require("fs").readFileSync(0)).data; d.turn.agent_id + ": " + d.output.content'
\`\`\`

Step 4 prints \`done\`, the four answers (\`planner: Echo: Design the cache\`, \`critic: Echo: [planner]: Echo: Design the cache\`, ...), then four \`agent:turn_end\` and one \`message:completed\`. Step 5 prints \`version 3: planner, critic (muted), coder\`, step 6 \`note\` and \`coder: Echo: Write it\`.`;
}
