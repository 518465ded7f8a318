/**
 * The room's `summary_text`: a bounded summary of its transcript, written by
 * POST /llm/room/:id/summary or, when the room sets `summary_every_turns`,
 * after every that many ended turns. The summarizer is the first actor with
 * role `summarizer`, else the first actor. On `local/echo` the summary is a
 * deterministic digest of the newest messages (no model call, free); on a
 * real model it is that model's answer to one bounded request.
 *
 * Why a summary does not go through the room's worker queue: it only reads
 * a committed snapshot of the transcript (through message seq N, recorded in
 * its event) and writes `summary_text` plus its usage in one transaction of
 * its own, so it cannot interleave with a turn's writes; queued in the
 * worker it would hold the room's next turn behind it and an interrupt
 * would stop the wrong thing. What the worker gives turns it keeps by other
 * means: at most one summary per room at a time (another is 409
 * SUMMARY_IN_PROGRESS; the refresh skips), the same admission as a turn
 * (operator stop, shutdown, quotas, the daily token budget) and the room's
 * budget, the room's `done_policy.max_turn_s` as its time limit, and its
 * model call is aborted when the room is released, the server shuts down or
 * the caller of POST /summary goes away. A summary that ends after the room
 * began releasing writes nothing but its usage, so `room:released` stays the
 * stream's last event.
 */
import type { Logger } from "pino";
import { authorize } from "../auth/actor.js";
import { AppError } from "../errors.js";
import type { EventLog } from "../events/event.log.js";
import { ROOM_STREAM, type RoomEvent } from "../events/event.types.js";
import { ECHO_MODEL_ID, ECHO_PROVIDER } from "../runtime/llm/echo.model.js";
import type { LlmRuntime } from "../runtime/llm/llm.types.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { lastUsageId, turnsAfter } from "../usage/usage.store.js";
import { assertWithinBudget, type Budget } from "./room.budget.js";
import { roomDto, ZERO_USAGE } from "./room.dto.js";
import { addUsage } from "./room.lifecycle.js";
import type { Actor, DonePolicy, Room, Usage } from "./room.schemas.js";
import type { RoomCtx, TurnAdmission } from "./room.service.js";
import { findRoom, listMessages, updateRoom, type MessageRow, type RoomRow } from "./room.store.js";
import { noteBudgetCrossing, recordUsage } from "./room.usage.js";

/** Default and bounds of a summary's length, in characters. */
export const SUMMARY_DEFAULT_CHARS = 2000;
export const SUMMARY_MIN_CHARS = 200;
export const SUMMARY_MAX_CHARS = 8000;
/** The newest messages a summary is made from, and how much of each a model is shown. */
const SUMMARY_MESSAGES = 200;
const MODEL_CHARS_PER_MESSAGE = 4000;
const MODEL_TRANSCRIPT_CHARS = 60_000;
const DIGEST_CHARS_PER_MESSAGE = 160;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Message kinds that make up the transcript: what people asked and noted, and completed answers. */
const TRANSCRIPT_KINDS = new Set(["message", "task", "note", "output"]);

export const SUMMARY_SYSTEM_PROMPT =
  "You summarize a conversation between people and AI agents for someone who joins it later. Say what it is about, what was decided or answered, what is still open, and which agent said what when it matters. Plain text, no preamble.";

export type SummaryTrigger = "request" | "every_turns";

export interface SummaryDeps {
  events: EventLog;
  runtime: Pick<LlmRuntime, "runTurn">;
  admission: TurnAdmission;
  holdTenant: (tenant: string) => () => void;
  log: Pick<Logger, "warn">;
}

interface InFlight {
  controller: AbortController;
  done: Promise<unknown>;
}

/** The summarizer of a roster: the first actor with role `summarizer`, else the first actor. */
export function summarizerOf(actors: readonly Actor[]): Actor | undefined {
  return actors.find((a) => a.role === "summarizer") ?? actors[0];
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();
const cut = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, Math.max(0, n - 1))}…`);
const authorOf = (m: MessageRow) => (m.authorKind === "agent" ? m.authorId : m.authorKind === "system" ? "system" : m.authorId);

/**
 * The deterministic digest: a header counting the messages and who wrote
 * them, then the newest messages one line each (`- author: text`, cut to
 * 160 characters), as many as fit in `maxChars`, oldest first.
 */
export function digestOf(messages: readonly MessageRow[], maxChars: number): string {
  if (messages.length === 0) return "No messages yet.";
  const users = messages.filter((m) => m.authorKind !== "agent").length;
  const agents = new Map<string, number>();
  for (const m of messages) if (m.authorKind === "agent") agents.set(m.authorId, (agents.get(m.authorId) ?? 0) + 1);
  const who = [...agents].map(([id, n]) => `${id} ×${n}`).join(", ");
  const first = messages[0]!.seq;
  const last = messages[messages.length - 1]!.seq;
  const header = `${messages.length} messages (seq ${first}–${last}): ${users} from people, ${messages.length - users} from agents${who ? ` (${who})` : ""}.`;
  const lines: string[] = [];
  let used = header.length;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    const line = `- ${authorOf(m)}: ${cut(oneLine(m.content), DIGEST_CHARS_PER_MESSAGE)}`;
    // Room for this line and for the note on what was left out.
    if (used + 1 + line.length + 40 > maxChars) break;
    lines.unshift(line);
    used += 1 + line.length;
  }
  const omitted = messages.length - lines.length;
  const parts = [header, ...(omitted > 0 ? [`(${omitted} earlier ${omitted === 1 ? "message" : "messages"} not shown)`] : []), ...lines];
  return cut(parts.join("\n"), maxChars);
}

/** The transcript as a model is shown it: `[seq] author (kind): text`, newest messages first to go when it is long. */
function transcriptFor(messages: readonly MessageRow[]): string {
  const lines: string[] = [];
  let used = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    const role = m.authorKind === "agent" ? "agent" : m.authorKind === "system" ? "system" : "user";
    const line = `[${m.seq}] ${role} ${authorOf(m)}${m.kind === "note" ? " (note)" : ""}: ${cut(m.content, MODEL_CHARS_PER_MESSAGE)}`;
    if (used + line.length > MODEL_TRANSCRIPT_CHARS && lines.length > 0) break;
    lines.unshift(line);
    used += line.length + 1;
  }
  return lines.join("\n");
}

export class SummaryService {
  readonly #inFlight = new Map<string, InFlight>();

  constructor(private readonly d: SummaryDeps) {}

  /**
   * POST /llm/room/:id/summary: writes `summary_text` and `room:summary_updated`
   * and answers with the room. `signal` aborts the model call (the caller left).
   */
  async summarize(ctx: RoomCtx, id: string, opts: { maxChars?: number | undefined; signal?: AbortSignal | undefined } = {}): Promise<Room> {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const room = UUID_RE.test(id) ? findRoom(ctx.tdb, id) : undefined;
    if (!room) throw new AppError("ROOM_NOT_FOUND", "no such room for this tenant (ids are never shared across tenants); list yours with GET /llm/room");
    if (this.#inFlight.has(`${ctx.tdb.tenant}/${id}`)) {
      throw new AppError("SUMMARY_IN_PROGRESS", "a summary of this room is being written; wait for room:summary_updated on its event stream, then read summary_text", { retryAfterS: 1 });
    }
    return this.#run(ctx.tdb, room, "request", opts.maxChars ?? SUMMARY_DEFAULT_CHARS, opts.signal);
  }

  /**
   * After a turn's end is recorded: refreshes the summary of a room that asks
   * for one every N turns once N turns have ended since the last. Costs a
   * turn end one cached room read when the room asks for none.
   */
  afterTurn(t: TenantDb, roomId: string): void {
    const room = findRoom(t, roomId);
    const every = room?.summaryEveryTurns;
    if (!room || !every || room.status === "releasing" || room.status === "released") return;
    if (this.#inFlight.has(`${t.tenant}/${roomId}`)) return;
    if (turnsAfter(t, roomId, room.summaryUsageMark ?? 0) < every) return;
    let written: Promise<Room>;
    try {
      written = this.#run(t, room, "every_turns", SUMMARY_DEFAULT_CHARS, undefined);
    } catch (err) {
      written = Promise.reject(err);
    }
    written.catch((err: unknown) => {
      // Refused (budget, operator stop, quota) or failed: the next turn's end tries again.
      const code = err instanceof AppError ? err.code : undefined;
      this.d.log.warn({ err: code ? undefined : err, code, tenant: t.tenant, room_id: roomId }, `the room's summary was not refreshed${code ? ` (${code})` : ""}`);
    });
  }

  /** Aborts every summary's model call and resolves when each has ended (shutdown). */
  async drain(): Promise<void> {
    const all = [...this.#inFlight.values()];
    for (const f of all) f.controller.abort("shutdown");
    await Promise.allSettled(all.map((f) => f.done));
  }

  /** Summaries being written now (tests). */
  inFlightCount(): number {
    return this.#inFlight.size;
  }

  #run(t: TenantDb, room: RoomRow, trigger: SummaryTrigger, maxChars: number, signal: AbortSignal | undefined): Promise<Room> {
    if (room.status === "released" || room.status === "releasing") throw new AppError("ROOM_RELEASED", "the room is released; rent a new one with POST /llm/room");
    const actor = summarizerOf(room.actors as Actor[]);
    if (!actor) throw new AppError("VALIDATION_FAILED", "the room has no actor to write its summary");
    const messages = listMessages(t, room.id, SUMMARY_MESSAGES, null).filter((m) => TRANSCRIPT_KINDS.has(m.kind) && m.status !== "cancelled");
    const throughSeq = room.lastMessageSeq;
    const mark = lastUsageId(t, room.id);
    const base = { trigger, agent_id: actor.agent_id, provider: actor.provider, model: actor.model, through_seq: throughSeq, messages: messages.length };
    const byModel = !(actor.provider === ECHO_PROVIDER && actor.model === ECHO_MODEL_ID) && messages.length > 0;
    if (!byModel) {
      const text = digestOf(messages, maxChars);
      return Promise.resolve(this.#write(t, room.id, text, mark, { ...base, method: "digest" }, null));
    }
    // A model costs money: the room's budget and the turn admission apply, as to a turn.
    assertWithinBudget(room);
    this.d.admission.checkNewTurn(t);
    const key = `${t.tenant}/${room.id}`;
    const controller = new AbortController();
    const done = this.#callModel(t, room, actor, messages, maxChars, controller, signal).then(({ text, usage }) =>
      this.#write(t, room.id, text, mark, { ...base, method: "model" }, usage),
    );
    const flight: InFlight = { controller, done };
    this.#inFlight.set(key, flight);
    const forget = () => {
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
    };
    done.then(forget, forget);
    return done;
  }

  async #callModel(
    t: TenantDb,
    room: RoomRow,
    actor: Actor,
    messages: readonly MessageRow[],
    maxChars: number,
    controller: AbortController,
    signal: AbortSignal | undefined,
  ): Promise<{ text: string; usage: Usage }> {
    const release = this.d.holdTenant(t.tenant);
    const onCallerAbort = () => controller.abort("caller left");
    signal?.addEventListener("abort", onCallerAbort, { once: true });
    if (signal?.aborted) controller.abort("caller left");
    let releasing = false;
    const unsubscribe = this.d.events.bus.subscribe<RoomEvent>(t.tenant, ROOM_STREAM, room.id, (event) => {
      if (event.event_type === "room:releasing" || event.event_type === "room:released") {
        releasing = true;
        controller.abort("release");
      }
    });
    const done = room.donePolicy as DonePolicy;
    try {
      const first = messages[0]!.seq;
      const last = messages[messages.length - 1]!.seq;
      const result = await this.d.runtime.runTurn({
        actor: { agent_id: actor.agent_id, provider: actor.provider, model: actor.model, options: actor.options, system_prompt: `${SUMMARY_SYSTEM_PROMPT} At most ${maxChars} characters.` },
        history: [],
        prompt: `Summarize this conversation (messages ${first} to ${last}) in at most ${maxChars} characters.\n\n${transcriptFor(messages)}`,
        limits: {
          maxTurnMs: done.max_turn_s * 1000,
          maxOutputTokens: Math.min(done.max_output_tokens, Math.ceil(maxChars / 2) + 64),
          maxSteps: 1,
          maxToolCalls: 0,
          allowedTools: [],
        },
        controller,
        emit: () => {},
      });
      const usage = result.usage ?? ZERO_USAGE;
      const text = cut(result.text.trim(), maxChars);
      if (result.status === "completed" && text.length > 0) return { text, usage };
      // Tokens spent on a summary that was not written still count.
      this.#charge(t, room.id, actor, usage);
      if (releasing) throw new AppError("ROOM_RELEASED", "the room was released while its summary was being written; nothing was written");
      if (controller.signal.reason === "shutdown") throw new AppError("SHUTTING_DOWN", "the server is shutting down; summary_text is unchanged. Retry against the restarted server", { retryAfterS: 5 });
      if (result.status === "interrupted") throw new AppError("SUMMARY_FAILED", "the summary was stopped before it was written; summary_text is unchanged");
      const why = result.error ? `${result.error.code}: ${result.error.message}` : "the model answered with no text";
      throw new AppError("SUMMARY_FAILED", `the summarizer ${actor.agent_id} (${actor.provider}/${actor.model}) could not write the summary (${why}); summary_text is unchanged, retry later`);
    } finally {
      unsubscribe();
      signal?.removeEventListener("abort", onCallerAbort);
      release();
    }
  }

  /** Records a summary's usage without writing a summary (it failed or was stopped). */
  #charge(t: TenantDb, roomId: string, actor: Actor, usage: Usage): void {
    if (usage.totalTokens <= 0 && usage.cost.total <= 0) return;
    this.d.events.transaction(t, (tx) => {
      const room = findRoom(t, roomId);
      if (!room) return;
      recordUsage(t, tx, roomId, { kind: "summary", turnId: null, messageId: null, agentId: actor.agent_id, provider: actor.provider, model: actor.model }, usage);
      const after = addUsage((room.usage as Usage) ?? ZERO_USAGE, usage);
      updateRoom(t, roomId, { usage: after });
      if (room.status !== "releasing" && room.status !== "released") noteBudgetCrossing(tx, roomId, room.budget as Budget | null, room.usage as Usage, after, null);
    });
  }

  /** One transaction: the summary, its usage (a model's), `room:summary_updated`. */
  #write(t: TenantDb, roomId: string, text: string, mark: number, about: Record<string, unknown> & { agent_id: string; provider: string; model: string }, usage: Usage | null): Room {
    return this.d.events.transaction(t, (tx) => {
      let room = findRoom(t, roomId);
      if (!room) throw new AppError("ROOM_NOT_FOUND", "the room is gone");
      const closed = room.status === "releasing" || room.status === "released";
      if (usage) {
        recordUsage(t, tx, roomId, { kind: "summary", turnId: null, messageId: null, agentId: about.agent_id, provider: about.provider, model: about.model }, usage);
        const before = (room.usage as Usage) ?? ZERO_USAGE;
        const after = addUsage(before, usage);
        room = updateRoom(t, roomId, { usage: after })!;
        if (!closed) noteBudgetCrossing(tx, roomId, room.budget as Budget | null, before, after, null);
      }
      if (closed) throw new AppError("ROOM_RELEASED", "the room was released while its summary was being written; nothing was written");
      const updated = updateRoom(t, roomId, { summaryText: text, summaryUpdatedAt: tx.nowIso, summaryUsageMark: mark })!;
      tx.emit(roomId, { event_type: "room:summary_updated", payload: { ...about, chars: text.length, usage: usage ?? ZERO_USAGE }, agent_key: about.agent_id });
      return roomDto(t.tenant, updated);
    });
  }
}
