/**
 * A room as the console shows it, folded from the durable record: the
 * messages of /history and the events of /history and the SSE feed. Pure (no
 * DOM, no fetch), mutable in place for speed (a streaming turn appends a
 * delta per event; nothing is copied per token), with `version` bumped on
 * every change so a view knows to re-render.
 *
 * Invariants:
 * - `events` is ascending by seq with no duplicates: an event at or below
 *   `lastSeq` is ignored, so a resumed stream that repeats an event cannot
 *   double its text; a jump past `lastSeq + 1` is recorded in `gaps`.
 * - Streamed text is the concatenation of the `text_delta`s of one
 *   assistant message (not the server's running `partial.text`), so a lost
 *   event would show as lost text rather than be papered over.
 * - Messages and events have separate seq counters; the transcript is ordered
 *   by event seq (a message sits where its `message:created` event is), and
 *   messages older than every loaded event come first, by message seq.
 */
import type { Message, RoomEvent } from "./types.js";

export type StreamState = "streaming" | "ended" | "completed" | "interrupted" | "failed" | "cancelled";

export interface MessageItem {
  kind: "message";
  key: string;
  order: number;
  sub: number;
  id: string;
  seq: number;
  msgKind: string;
  authorKind: string;
  authorId: string;
  actorKey: string | null;
  /** null until known: a `message:created` event carries no text. */
  content: string | null;
  status: string;
  turnId: string | null;
  metadata: Record<string, unknown>;
  createdAt: string | null;
  /**
   * For an agent's answer that was streamed here: whether the text that
   * streamed in equals the stored answer ("mismatch" would mean lost or
   * doubled deltas); null when this console did not see it stream.
   */
  streamed: "match" | "mismatch" | null;
  /** For an agent's answer: how its turn ended, once `agent:turn_end` is seen ("interrupted" means the text is partial). */
  turnStatus: string | null;
}

export interface StreamItem {
  kind: "stream";
  key: string;
  order: number;
  sub: number;
  turnId: string | null;
  agent: string | null;
  text: string;
  state: StreamState;
}

export interface ToolItem {
  kind: "tool";
  key: string;
  order: number;
  sub: number;
  toolCallId: string;
  name: string;
  agent: string | null;
  args: unknown;
  result: unknown;
  isError: boolean;
  done: boolean;
}

export interface ErrorItem {
  kind: "error";
  key: string;
  order: number;
  sub: number;
  code: string;
  message: string;
}

export type TranscriptItem = MessageItem | StreamItem | ToolItem | ErrorItem;

export interface TurnView {
  id: string;
  agent: string | null;
  status: string;
  messageId: string | null;
}

/** Sorts after every event seen so far: a message this console posted, until its `message:created` arrives. */
const PENDING_ORDER = Number.MAX_SAFE_INTEGER;

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

export class RoomState {
  /** Every loaded event, ascending by seq, unique. */
  readonly events: RoomEvent[] = [];
  /** The transcript, ordered by (order, sub). */
  readonly items: TranscriptItem[] = [];
  /** Seqs after which an event was missing (should stay empty: the server's replay is gap-free). */
  readonly gaps: number[] = [];
  /** Messages whose text is not known yet; the view fetches them. */
  readonly missing = new Set<string>();
  lastSeq = 0;
  /** Whether events older than `events[0]` exist on the server. */
  hasOlder = false;
  /** The newest turn seen: running, or how it ended. */
  turn: TurnView | null = null;
  /** True once `room:released` was seen: the feed ends and is not resumed. */
  released = false;
  version = 0;

  readonly #messages = new Map<string, MessageItem>();
  /** The open assistant message of each turn. */
  readonly #open = new Map<string, StreamItem>();
  readonly #tools = new Map<string, ToolItem>();
  /** The highest message seq whose `message:created` event has been seen. */
  #newestPlaced = 0;

  get firstSeq(): number {
    return this.events[0]?.seq ?? 0;
  }

  /** Starts over from a /history answer. */
  load(messages: Message[], events: RoomEvent[], hasOlder: boolean): void {
    this.events.length = 0;
    this.items.length = 0;
    this.gaps.length = 0;
    this.missing.clear();
    this.#messages.clear();
    this.#open.clear();
    this.#tools.clear();
    this.#newestPlaced = 0;
    this.lastSeq = 0;
    this.turn = null;
    this.released = false;
    this.hasOlder = hasOlder;
    this.upsertMessages(messages);
    this.apply(events);
    this.version++;
  }

  /** Applies events in seq order; returns how many were new. */
  apply(events: readonly RoomEvent[]): number {
    let applied = 0;
    for (const ev of events) {
      if (ev.seq <= this.lastSeq) continue;
      if (this.lastSeq > 0 && ev.seq !== this.lastSeq + 1) this.gaps.push(this.lastSeq);
      this.lastSeq = ev.seq;
      this.events.push(ev);
      this.#fold(ev);
      applied++;
    }
    if (applied > 0) this.version++;
    return applied;
  }

  /** Older events (a page of /history before `firstSeq`) go in front of the log; their messages join the transcript. */
  prepend(messages: Message[], events: RoomEvent[], hasOlder: boolean): void {
    const first = this.firstSeq;
    const older = events.filter((e) => first === 0 || e.seq < first);
    this.events.unshift(...older);
    this.upsertMessages(messages);
    for (const ev of older) {
      if (ev.event_type === "message:created") this.#placeMessage(ev);
      else if (ev.event_type === "pi:tool_execution_start" || ev.event_type === "pi:tool_execution_end") this.#fold(ev);
      else if (ev.event_type === "error") this.#fold(ev);
    }
    this.hasOlder = hasOlder;
    this.version++;
  }

  /** Merges message records (from /history or a POST answer): text, status, and where each sits. */
  upsertMessages(messages: readonly Message[]): void {
    for (const m of messages) {
      let item = this.#messages.get(m.id);
      if (!item) {
        item = {
          kind: "message",
          key: `m:${m.id}`,
          order: 0,
          sub: m.seq,
          id: m.id,
          seq: m.seq,
          msgKind: m.kind,
          authorKind: m.author_kind,
          authorId: m.author_id,
          actorKey: m.actor_key,
          content: m.content,
          status: m.status,
          turnId: m.turn_id,
          metadata: m.metadata ?? {},
          createdAt: m.created_at,
          streamed: null,
          turnStatus: null,
        };
        // Known to the feed already? Then it sits at its event; else before every loaded event, or (posted just now) at the end.
        item.order = this.lastSeq > 0 && m.seq > this.#newestPlaced ? PENDING_ORDER : 0;
        this.#messages.set(m.id, item);
        this.#insert(item);
      } else {
        item.content = m.content;
        item.status = m.status;
        item.metadata = m.metadata ?? {};
        item.turnId = m.turn_id;
        item.actorKey = m.actor_key;
        item.authorId = m.author_id;
        item.createdAt = m.created_at;
        item.seq = m.seq;
        item.sub = m.seq;
      }
      this.missing.delete(m.id);
      if (m.author_kind === "agent") this.#settleTurn(m.turn_id);
    }
    this.version++;
  }

  #fold(ev: RoomEvent): void {
    const p = ev.payload ?? {};
    switch (ev.event_type) {
      case "message:created":
        this.#placeMessage(ev);
        break;
      case "agent:turn_start": {
        const turnId = str(p["turn_id"]) ?? ev.turn_id;
        const messageId = str(p["message_id"]);
        if (turnId) this.turn = { id: turnId, agent: ev.agent_key, status: "running", messageId };
        const m = messageId ? this.#messages.get(messageId) : undefined;
        if (m) {
          m.status = "running";
          m.turnId = turnId;
        }
        break;
      }
      case "pi:message_start": {
        const role = (p["message"] as { role?: unknown } | undefined)?.role;
        if (role === "assistant") this.#openStream(ev, "");
        break;
      }
      case "pi:message_update": {
        if (p["update_type"] !== "text_delta") break;
        const delta = str(p["delta"]) ?? "";
        const open = this.#open.get(ev.turn_id ?? "");
        if (open) open.text += delta;
        else {
          // The start of this message is older than what was loaded: begin from the server's text so far.
          const partial = str((p["partial"] as { text?: unknown } | undefined)?.text);
          this.#openStream(ev, partial ?? delta);
        }
        break;
      }
      case "pi:message_end": {
        const open = this.#open.get(ev.turn_id ?? "");
        if (open) {
          this.#open.delete(ev.turn_id ?? "");
          open.state = "ended";
          if (open.text === "") this.#remove(open);
        }
        break;
      }
      case "pi:tool_execution_start":
      case "pi:tool_execution_end": {
        const id = str(p["tool_call_id"]) ?? `seq${ev.seq}`;
        let tool = this.#tools.get(id);
        if (!tool) {
          tool = { kind: "tool", key: `t:${id}`, order: ev.seq, sub: 0, toolCallId: id, name: str(p["tool_name"]) ?? "tool", agent: ev.agent_key, args: p["args"], result: undefined, isError: false, done: false };
          this.#tools.set(id, tool);
          this.#insert(tool);
        }
        if (ev.event_type === "pi:tool_execution_end") {
          tool.result = p["result"];
          tool.isError = p["is_error"] === true;
          tool.done = true;
        }
        break;
      }
      case "agent:output": {
        const id = str(p["message_id"]);
        if (!id) break;
        let m = this.#messages.get(id);
        if (!m) {
          m = this.#newMessage(id, ev.seq, 0, "output", "agent", ev.agent_key ?? "agent");
          this.#messages.set(id, m);
          this.#insert(m);
        }
        m.content = str(p["text"]) ?? "";
        m.actorKey = ev.agent_key;
        m.turnId = ev.turn_id;
        m.status = "done";
        this.missing.delete(id);
        this.#settleTurn(ev.turn_id);
        break;
      }
      case "agent:turn_end": {
        const turnId = str(p["turn_id"]) ?? ev.turn_id;
        const status = str(p["status"]) ?? "completed";
        const messageId = str(p["message_id"]);
        if (turnId) this.turn = { id: turnId, agent: ev.agent_key, status, messageId };
        const m = messageId ? this.#messages.get(messageId) : undefined;
        if (m) m.status = status === "completed" ? "done" : status === "failed" ? "failed" : "cancelled";
        if (turnId) for (const item of this.items) if (item.kind === "message" && item.authorKind === "agent" && item.turnId === turnId) item.turnStatus = status;
        // Streams not (yet) replaced by the turn's stored answer keep their text, marked with how the turn ended.
        for (const item of this.items) if (item.kind === "stream" && item.turnId === turnId) item.state = status as StreamState;
        if (turnId) this.#open.delete(turnId);
        this.#settleTurn(turnId);
        break;
      }
      case "error":
        this.#insert({ kind: "error", key: `e:${ev.seq}`, order: ev.seq, sub: 0, code: str(p["code"]) ?? "ERROR", message: str(p["message"]) ?? "" });
        break;
      case "room:released":
        this.released = true;
        break;
      default:
        break;
    }
  }

  #newMessage(id: string, order: number, seq: number, kind: string, authorKind: string, authorId: string): MessageItem {
    return { kind: "message", key: `m:${id}`, order, sub: seq, id, seq, msgKind: kind, authorKind, authorId, actorKey: null, content: null, status: "", turnId: null, metadata: {}, createdAt: null, streamed: null, turnStatus: null };
  }

  /** Puts a message at its `message:created` event (creating it, text unknown, if no record has been seen). */
  #placeMessage(ev: RoomEvent): void {
    const p = ev.payload ?? {};
    const id = str(p["message_id"]);
    if (!id) return;
    const seq = typeof p["seq"] === "number" ? p["seq"] : 0;
    if (seq > this.#newestPlaced) this.#newestPlaced = seq;
    const m = this.#messages.get(id);
    if (m) {
      if (m.order !== ev.seq) {
        this.#remove(m);
        m.order = ev.seq;
        this.#insert(m);
      }
      return;
    }
    const item = this.#newMessage(id, ev.seq, seq, str(p["kind"]) ?? "message", str(p["author_kind"]) ?? "user", ev.agent_key ?? "");
    item.turnId = ev.turn_id;
    if (item.authorKind === "agent") item.actorKey = ev.agent_key;
    this.#messages.set(id, item);
    this.#insert(item);
    // An agent's output brings its text in `agent:output`; anything else (a user's message, a turn's partial answer) is fetched.
    if (item.msgKind !== "output") this.missing.add(id);
  }

  #openStream(ev: RoomEvent, text: string): void {
    const item: StreamItem = { kind: "stream", key: `s:${ev.seq}`, order: ev.seq, sub: 0, turnId: ev.turn_id, agent: ev.agent_key, text, state: "streaming" };
    const prev = this.#open.get(ev.turn_id ?? "");
    if (prev) {
      prev.state = "ended";
      if (prev.text === "") this.#remove(prev);
    }
    this.#open.set(ev.turn_id ?? "", item);
    this.#insert(item);
  }

  #lastStream(turnId: string | null): StreamItem | undefined {
    if (!turnId) return undefined;
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (item.kind === "stream" && item.turnId === turnId) return item;
    }
    return undefined;
  }

  /**
   * Once the turn's stored answer (`output`, or `partial` for a turn that did
   * not complete) has its text, it replaces what streamed in, after the two
   * are compared: the answer is the turn's last assistant message.
   */
  #settleTurn(turnId: string | null): void {
    if (!turnId) return;
    let answer: MessageItem | undefined;
    for (const item of this.items) if (item.kind === "message" && item.authorKind === "agent" && item.turnId === turnId && item.content !== null) answer = item;
    if (!answer) return;
    const streamed = this.#lastStream(turnId);
    if (streamed && answer.streamed === null) answer.streamed = streamed.text === answer.content ? "match" : "mismatch";
    this.#dropStreams(turnId);
  }

  /** An agent message for the turn is known: its streamed copies go. */
  #dropStreams(turnId: string | null): void {
    if (!turnId) return;
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (item.kind === "stream" && item.turnId === turnId) this.items.splice(i, 1);
    }
    this.#open.delete(turnId);
  }

  #insert(item: TranscriptItem): void {
    const items = this.items;
    let lo = 0;
    let hi = items.length;
    // Almost every insert is an append: check the end first.
    const last = items[hi - 1];
    if (!last || last.order < item.order || (last.order === item.order && last.sub <= item.sub)) {
      items.push(item);
      return;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = items[mid]!;
      if (m.order < item.order || (m.order === item.order && m.sub <= item.sub)) lo = mid + 1;
      else hi = mid;
    }
    items.splice(lo, 0, item);
  }

  #remove(item: TranscriptItem): void {
    const i = this.items.lastIndexOf(item);
    if (i !== -1) this.items.splice(i, 1);
  }

  /** The streamed text of the turn that is running now, if any (for tests and the status line). */
  streamingText(): string | null {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i]!;
      if (item.kind === "stream" && item.state === "streaming") return item.text;
    }
    return null;
  }
}
