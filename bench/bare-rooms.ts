/**
 * The rooms baseline: a bare node:http server that streams rooms the way
 * the bench's followers see them, started as its own process by
 * bench/figures/capacity.ts (the capacity ramp's floor) and
 * bench/figures/stream.ts (the durable event rate's). It answers the three calls the
 * capacity phase makes (rent, follow, post) and, for each posted message,
 * writes the same frames the real server writes for an echo turn: the same
 * event types in the same order, records with the same fields, the stamped
 * tokens due on the same fixed schedule (one timer per token), each
 * `pi:message_update` carrying the cumulative `partial.text`, every frame
 * formatted once, and each follower written once per event-loop turn.
 *
 * No durability, no auth, no model runtime, no framework: what is left is
 * what any server must do for this workload in one Node process (timers,
 * frame building, socket writes, the posts), so its capacity on the same
 * machine, with the same client process, is the floor the real server's
 * figure is read against.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";

interface Room {
  id: string;
  seq: number;
  delayMs: number;
  /** Tokens per reply: the words of the rented `reply`. */
  tokens: number;
  followers: Set<http.ServerResponse>;
  busy: boolean;
  /** The rented actors, for `room:rented`: written when the first follower arrives, as the real server's replay would give it. */
  actors: unknown[];
  /** Its followers are corked until the end of this event-loop turn (see `send`). */
  corked: boolean;
}

const rooms = new Map<string, Room>();

function send(room: Room, eventType: string, agentKey: string | null, turnId: string | null, payload: unknown): void {
  const seq = ++room.seq;
  const record = { id: `${room.id}:${seq}`, seq, room_id: room.id, event_type: eventType, agent_key: agentKey, turn_id: turnId, payload, created_at: new Date().toISOString() };
  const frame = Buffer.from(`id: ${seq}\nevent: ${eventType}\ndata: ${JSON.stringify(record)}\n\n`);
  // One write per follower per event-loop turn, as the real server's feed does (sse.feed.ts `flushDue`).
  if (!room.corked && room.followers.size > 0) {
    room.corked = true;
    for (const f of room.followers) f.cork();
    setImmediate(uncork, room);
  }
  for (const f of room.followers) f.write(frame);
}

function uncork(room: Room): void {
  room.corked = false;
  for (const f of room.followers) f.uncork();
}

/** One turn, as the real server's events for a local/echo reply with stamp_tokens. */
function turn(room: Room, messageId: string, turnId: string): void {
  send(room, "message:created", null, null, { message_id: messageId, seq: 1, kind: "message", author_kind: "user" });
  send(room, "room:active", "a", turnId, { trigger_message_id: messageId, turn_id: turnId });
  send(room, "agent:turn_start", "a", turnId, { turn_id: turnId, message_id: messageId, status: "running" });
  send(room, "pi:message_start", "a", turnId, { message: { role: "assistant" } });
  const startedAt = Date.now();
  let text = "";
  let sent = 0;
  const next = () => {
    const due = startedAt + (sent + 1) * room.delayMs;
    const wait = due - Date.now();
    if (wait > 0) setTimeout(emit, wait, due);
    // With no delay, a turn of its own every 64 tokens, as local/echo does.
    else if (room.delayMs <= 0 && sent > 0 && sent % 64 === 0) setImmediate(emit, due);
    else emit(due);
  };
  const emit = (due: number) => {
    const piece = `${due.toString(36)} `;
    text += piece;
    sent++;
    send(room, "pi:message_update", "a", turnId, { update_type: "text_delta", delta: piece, partial: { role: "assistant", text } });
    if (sent < room.tokens) next();
    else finish();
  };
  const finish = () => {
    const usage = { input: 1, output: sent, totalTokens: sent + 1, cost: { total: 0 } };
    const message = { role: "assistant", provider: "local", model: "echo", stop_reason: "stop", usage, text };
    const outputId = randomUUID();
    send(room, "pi:message_update", "a", turnId, { update_type: "text_end", delta: "", partial: { role: "assistant", text } });
    send(room, "pi:message_end", "a", turnId, { message });
    send(room, "pi:turn_end", "a", turnId, { message, tool_result_count: 0, tool_error_count: 0 });
    send(room, "pi:agent_end", "a", turnId, { terminal_message: message });
    send(room, "message:created", "a", turnId, { message_id: outputId, seq: 2, kind: "output", author_kind: "agent" });
    send(room, "agent:output", "a", turnId, { message_id: outputId, text });
    send(room, "agent:turn_end", "a", turnId, { turn_id: turnId, message_id: messageId, status: "completed", usage });
    send(room, "room:idle", null, null, { reason: "turn_completed" });
    room.busy = false;
  };
  next();
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function readBody(req: http.IncomingMessage, then: (body: Record<string, unknown>) => void): void {
  let text = "";
  req.setEncoding("utf8");
  req.on("data", (d: string) => (text += d));
  req.on("end", () => then(text ? (JSON.parse(text) as Record<string, unknown>) : {}));
}

const ROOM_PATH = /^\/llm\/room\/([^/?]+)\/(events|messages)/;

const server = http.createServer((req, res) => {
  const url = req.url ?? "";
  if (req.method === "GET" && url === "/health") {
    json(res, 200, { success: true, data: { status: "ok" } });
    return;
  }
  if (req.method === "POST" && url === "/llm/room") {
    readBody(req, (body) => {
      const agents = body["agents"] as { options?: { token_delay_ms?: number; reply?: string } }[] | undefined;
      const options = agents?.[0]?.options ?? {};
      const id = randomUUID();
      const tokens = String(options.reply ?? "").split(/\s+/).filter(Boolean).length;
      rooms.set(id, { id, seq: 0, delayMs: options.token_delay_ms ?? 50, tokens, followers: new Set(), busy: false, actors: agents ?? [], corked: false });
      json(res, 201, { success: true, data: { id } });
    });
    return;
  }
  const m = ROOM_PATH.exec(url);
  const room = m ? rooms.get(m[1]!) : undefined;
  if (!m || !room) {
    json(res, 404, { success: false, error: { code: "NOT_FOUND", message: "no such room" } });
    return;
  }
  if (req.method === "GET" && m[2] === "events") {
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache, no-transform", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.write("retry: 2000\n\n");
    room.followers.add(res);
    if (room.seq === 0) send(room, "room:rented", null, null, { actors: room.actors });
    res.on("close", () => room.followers.delete(res));
    return;
  }
  if (req.method === "POST" && m[2] === "messages") {
    readBody(req, (body) => {
      if (room.busy) {
        json(res, 409, { success: false, error: { code: "ROOM_BUSY", message: "a turn is running" } });
        return;
      }
      room.busy = true;
      const messageId = randomUUID();
      const turnId = randomUUID();
      json(res, 202, { success: true, data: { id: messageId, room_id: room.id, content: body["content"], status: "running", turn_id: turnId, created_at: new Date().toISOString() } });
      turn(room, messageId, turnId);
    });
    return;
  }
  json(res, 405, { success: false, error: { code: "METHOD_NOT_ALLOWED", message: "no such route" } });
});
server.listen(Number(process.env["PORT"] ?? 0), process.env["HOST"] ?? "127.0.0.1");
const stop = () => {
  for (const room of rooms.values()) for (const f of room.followers) f.destroy();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
