/**
 * The room verbs. Each verb checks the access its actor needs (its first
 * line), validates the lifecycle rule it needs, then does its writes in one
 * EventLog transaction (durable, then published), and only after commit
 * touches workers. Services never import hono: they take a tenant-bound
 * handle and the actor (a token's user, or the system itself), and throw
 * AppError.
 */
import { randomUUID } from "node:crypto";
import { AppError } from "../errors.js";
import { actorId, authorize, type Actor as Caller } from "../auth/actor.js";
import type { EventLog, EventTx } from "../events/event.log.js";
import { ROOM_STREAM, TERMINAL_EVENT, type RoomEvent } from "../events/event.types.js";
import type { SseSource } from "../sse/sse.types.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { HistoryPager, type HistoryListPage } from "./room.history.js";
import { assertNotReleased, checkVersion, roomOr404, UUID_RE } from "./room.guards.js";
import { RoomContext } from "./room.context.js";
import { RoomRoster, stopAllInTx, type ActorStop } from "./room.roster.js";
import { address, sequenceOf, type Addressing } from "./room.sequence.js";
import { setSuccessStatus } from "../idempotency/idempotency.context.js";
import { DEFAULT_ACTOR, DEFAULT_DONE_POLICY, DEFAULT_TOOL_POLICY, DEFAULT_WAKE_POLICY } from "./room.defaults.js";
import { messageDto, roomDto, ZERO_USAGE, type MessageRecord } from "./room.dto.js";
import { addIso, beginRelease, beginTurn, completeRelease, failOrphanTurn, settleIdle, storeMessage, type TurnPlan } from "./room.lifecycle.js";
import { lastRoomEventSeq as lastEventSeq, readRoomEventsAfter as readEventsAfter, readRoomEventsBefore as readEventsBefore } from "./room.stream.js";
import type { Actor, DonePolicy, MessageResult, PatchRoomBody, RentRoomBody, Room, RoomStatus, ToolPolicy, WakePolicy } from "./room.schemas.js";
import { MESSAGE_END_EVENTS, messageResult } from "./room.message-result.js";
import { assertWithinBudget, mergeBudget, type Budget } from "./room.budget.js";
import { budgetPatched } from "./room.budget-patch.js";
import { countLiveRooms, findMessage, findRoom, findTurn, type MessageRow, listMessages, listRooms, updateMessage, updateRoom, insertRoom, type RoomRow } from "./room.store.js";


/** What the room service needs from the model runtime: the catalogue only. */
export interface ModelCatalog {
  hasModel(provider: string, model: string): boolean;
  toolNames(): string[];
}

/** Why a running turn is being stopped; decides how it ends. */
export type AbortReason = "interrupt" | "release" | "shutdown" | "budget" | ActorStop;

/** What the room service needs from the worker registry. */
export interface TurnRunner {
  start(plan: TurnPlan): void;
  /**
   * Aborts the room's running turn (only if it is `turnId`, when given) and
   * resolves once that turn has ended durably (immediately if none runs).
   */
  abort(tenant: string, roomId: string, reason: AbortReason, turnId?: string): Promise<void>;
  isRunning(tenant: string, roomId: string): boolean;
}

/** Decides whether a new turn may start now: shutdown, operator stop, quotas. Throws AppError when not. */
export interface TurnAdmission {
  checkNewTurn(t: TenantDb): void;
  /** False while turns must not start on their own (shutdown, operator stop). */
  mayStartQueued(tenant: string): boolean;
}

export interface RoomLimits {
  maxRoomsPerTenant: number;
  maxMessageChars: number;
  historyMessages: number;
  maxFollowersPerRoom: number;
  maxFollowersPerTenant: number;
}

/** A room's event feed for the SSE helper, holding the tenant's file open until `close`. */
export interface RoomEventStream {
  source: SseSource<RoomEvent>;
  close: () => void;
}

export interface RoomServiceDeps {
  /** Keeps a tenant's database open for a long-lived reader (released by the returned function). */
  holdTenant: (tenant: string) => () => void;
  events: EventLog;
  catalog: ModelCatalog;
  runner: TurnRunner;
  admission: TurnAdmission;
  limits: RoomLimits;
}

/** What every room verb is called with: the tenant's file and who acts. */
export interface RoomCtx {
  tdb: TenantDb;
  actor: Caller;
}

export interface PostMessageInput {
  kind?: "message" | "task" | "note" | undefined;
  content: string;
  metadata?: Record<string, unknown> | undefined;
  actor?: string | undefined;
  mentions?: string[] | undefined;
  rounds?: number | undefined;
}

/** A room to rent, checked and filled with defaults; inserted by the rent transaction. */
interface RoomDraft {
  purpose: string | null;
  actors: Actor[];
  toolPolicy: ToolPolicy;
  wakePolicy: WakePolicy;
  donePolicy: DonePolicy;
  metadata: Record<string, unknown>;
  addressing: Addressing;
  budget: Budget | null;
  summaryEveryTurns: number | null;
}

export interface HistoryQueryInput {
  limit: number;
  before_seq?: number | undefined;
  messages_before_seq?: number | undefined;
  events_before_seq?: number | undefined;
  partial_text?: boolean | undefined;
}

export interface HistoryResult {
  room: Room;
  messages: HistoryListPage;
  events: HistoryListPage;
  /** The room's newest event seq. */
  lastSeq: number;
}

export interface ListResult {
  rooms: Room[];
  nextCursor: string | null;
}

function encodeCursor(r: RoomRow): string {
  return Buffer.from(JSON.stringify([r.rentedAt, r.id])).toString("base64url");
}

function decodeCursor(cursor: string): { rentedAt: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === "string" && typeof v[1] === "string") return { rentedAt: v[0], id: v[1] };
  } catch {
    // fall through
  }
  throw new AppError("VALIDATION_FAILED", "cursor is not valid; pass meta.next_cursor from the previous page unchanged", {
    details: [{ path: "cursor", message: "invalid cursor" }],
  });
}


/** Parses If-Match: `3`, `"3"` or `W/"3"`; `*` (any current version, RFC 9110) checks nothing. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === "*") return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!m) throw new AppError("VALIDATION_FAILED", 'If-Match must be the room version, e.g. If-Match: 3 or If-Match: "3", or * for any version', { details: [{ path: "If-Match", message: "not a version" }] });
  return Number(m[1]);
}

/**
 * A roster as stored: defaults filled in, one default actor when none is
 * given, agent ids unique, every model known to the catalogue. Shared by
 * renting a room and by factory runs, whose actor settings rent their rooms.
 */
export function resolveActors(catalog: ModelCatalog, input: RentRoomBody["agents"]): Actor[] {
  const list = (input ?? []).map((a) => ({
    agent_id: a.agent_id,
    role: a.role ?? "assistant",
    adapter: a.adapter ?? "pi",
    provider: a.provider ?? DEFAULT_ACTOR.provider,
    model: a.model ?? DEFAULT_ACTOR.model,
    skills: a.skills ?? [],
    system_prompt: a.system_prompt ?? null,
    muted: a.muted ?? false,
    options: a.options ?? {},
  }));
  if (list.length === 0) return [{ ...DEFAULT_ACTOR }];
  const seen = new Set<string>();
  list.forEach((a, i) => {
    if (seen.has(a.agent_id)) {
      throw new AppError("VALIDATION_FAILED", `agent_id "${a.agent_id}" appears twice; give each actor its own agent_id`, {
        details: [{ path: `agents.${i}.agent_id`, message: "duplicate agent_id" }],
      });
    }
    seen.add(a.agent_id);
    if (!catalog.hasModel(a.provider, a.model)) {
      throw new AppError("UNKNOWN_MODEL", `unknown model ${a.provider}/${a.model}; GET /llm/providers/models lists the enabled ones`, {
        details: [{ path: `agents.${i}`, message: `unknown model ${a.provider}/${a.model}` }],
      });
    }
  });
  return list;
}

export class RoomService {
  readonly #d: RoomServiceDeps;
  readonly #followers = new Map<string, number>();
  readonly #history = new HistoryPager();
  /** Roster verbs: POST/PATCH/DELETE /actors, POST /actors/:agent_id/interrupt. */
  readonly roster: RoomRoster;
  /** Shared context: POST/DELETE /context. */
  readonly context: RoomContext;

  constructor(deps: RoomServiceDeps) {
    this.#d = deps;
    this.roster = new RoomRoster({
      events: deps.events,
      resolve: (input) => resolveActors(deps.catalog, input),
      abortTurn: (tenant, roomId, reason, turnId) => deps.runner.abort(tenant, roomId, reason, turnId),
    });
    this.context = new RoomContext(deps.events);
  }

  #toolPolicy(base: ToolPolicy, input: RentRoomBody["tool_policy"]): ToolPolicy {
    const merged = { ...base, ...stripUndefined(input ?? {}) } as ToolPolicy;
    const known = new Set(this.#d.catalog.toolNames());
    merged.allowed_tools.forEach((name, i) => {
      if (!known.has(name)) {
        throw new AppError("UNKNOWN_TOOL", `unknown tool "${name}"; available: ${[...known].join(", ") || "none"}`, {
          details: [{ path: `tool_policy.allowed_tools.${i}`, message: "unknown tool" }],
        });
      }
    });
    merged.allowed_tools = [...new Set(merged.allowed_tools)];
    return merged;
  }

  #roomOr404(t: TenantDb, id: string): RoomRow {
    return roomOr404(t, id);
  }

  /** POST /llm/room: a new room in `rented`, with room:rented as its first event. */
  rent(ctx: RoomCtx, body: RentRoomBody): Room {
    const draft = this.#roomDraft(ctx, body);
    return this.#d.events.transaction(ctx.tdb, (tx) => roomDto(ctx.tdb.tenant, this.#rentIn(ctx, tx, draft)));
  }

  /**
   * Rents a room inside the caller's open transaction (the factory rents a
   * room and posts its task in the same transaction as its own records).
   */
  rentInTx(ctx: RoomCtx, tx: EventTx, body: RentRoomBody): Room {
    return roomDto(ctx.tdb.tenant, this.#rentIn(ctx, tx, this.#roomDraft(ctx, body)));
  }

  /**
   * POST /v1/responses without a room: rents a room and posts the first
   * message in one transaction, so both are durable or neither is (a turn
   * refused by admission rents nothing). `answer` builds the transaction's
   * result, which is also what an Idempotency-Key stores with the effect.
   */
  rentAndPost<T>(ctx: RoomCtx, body: RentRoomBody, input: PostMessageInput, answer: (room: Room, message: MessageRecord) => T): T {
    const draft = this.#roomDraft(ctx, body);
    this.#checkPost(ctx, input);
    let plan: TurnPlan | null = null;
    const result = this.#d.events.transaction(ctx.tdb, (tx) => {
      const row = this.#rentIn(ctx, tx, draft);
      const posted = this.#postIn(ctx, tx, row.id, input, undefined);
      plan = posted.plan;
      return answer(roomDto(ctx.tdb.tenant, row), posted.message);
    });
    if (plan) this.#d.runner.start(plan);
    return result;
  }

  /** What renting checks before its transaction; the room it will insert. */
  #roomDraft(ctx: RoomCtx, body: RentRoomBody): RoomDraft {
    authorize(ctx.actor, ctx.tdb.tenant, "full");
    if (body.agents && body.actors) {
      throw new AppError("VALIDATION_FAILED", "send either agents or actors (they are aliases), not both", { details: [{ path: "actors", message: "alias of agents" }] });
    }
    const actors = resolveActors(this.#d.catalog, body.agents ?? body.actors);
    const toolPolicy = this.#toolPolicy(DEFAULT_TOOL_POLICY, body.tool_policy);
    const wakePolicy = { ...DEFAULT_WAKE_POLICY, ...stripUndefined(body.wake_policy ?? {}) } as WakePolicy;
    const donePolicy = { ...DEFAULT_DONE_POLICY, ...stripUndefined(body.done_policy ?? {}) } as DonePolicy;
    const metadata = dropNulls(body.metadata ?? {});
    return {
      purpose: body.purpose ?? null,
      actors,
      toolPolicy,
      wakePolicy,
      donePolicy,
      metadata,
      budget: mergeBudget(null, body.budget ?? null),
      summaryEveryTurns: body.summary_every_turns ?? null,
      addressing: body.addressing ?? "first_unmuted",
    };
  }

  /** Inside a transaction: the room row (tenant quota checked) and its room:rented. */
  #rentIn(ctx: RoomCtx, tx: EventTx, d: RoomDraft): RoomRow {
    const { tdb } = ctx;
    if (countLiveRooms(tdb) >= this.#d.limits.maxRoomsPerTenant) {
      throw new AppError("QUOTA_EXCEEDED", `this tenant already has ${this.#d.limits.maxRoomsPerTenant} rooms that are not released; release one first`, {
        retryAfterS: 60,
      });
    }
    const id = randomUUID();
    const row = insertRoom(tdb, {
      id,
      status: "rented",
      purpose: d.purpose,
      name: typeof d.metadata["name"] === "string" ? (d.metadata["name"] as string) : null,
      metadata: d.metadata,
      actors: d.actors,
      toolPolicy: d.toolPolicy,
      wakePolicy: d.wakePolicy,
      donePolicy: d.donePolicy,
      version: 1,
      rentedAt: tx.nowIso,
      updatedAt: tx.nowIso,
      lastActiveAt: null,
      releasedAt: null,
      lastError: null,
      queuedMessageId: null,
      activeTurn: null,
      usage: ZERO_USAGE,
      summaryText: null,
      addressing: d.addressing,
      budget: d.budget,
      summaryEveryTurns: d.summaryEveryTurns,
      createdBy: actorId(ctx.actor),
      releaseAt: addIso(tx.nowIso, d.wakePolicy.release_after_s),
    });
    tx.emit(id, { event_type: "room:rented", payload: { actors: d.actors } });
    return row;
  }

  get(ctx: RoomCtx, id: string): Room {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    return roomDto(ctx.tdb.tenant, this.#roomOr404(ctx.tdb, id));
  }

  list(ctx: RoomCtx, q: { status?: RoomStatus[] | undefined; name?: string | undefined; limit: number; cursor?: string | undefined }): ListResult {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const rows = listRooms(ctx.tdb, {
      statuses: q.status && q.status.length > 0 ? q.status : null,
      name: q.name ?? null,
      limit: q.limit + 1,
      before: q.cursor ? decodeCursor(q.cursor) : null,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return { rooms: page.map((r) => roomDto(ctx.tdb.tenant, r)), nextCursor: rows.length > q.limit && last ? encodeCursor(last) : null };
  }

  /** PATCH: merges metadata, replaces the roster, merges policies; version+1 and room:updated. */
  patch(ctx: RoomCtx, id: string, body: PatchRoomBody, ifMatch: number | undefined): Room {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    if (body.agents && body.actors) {
      throw new AppError("VALIDATION_FAILED", "send either agents or actors (they are aliases), not both", { details: [{ path: "actors", message: "alias of agents" }] });
    }
    const { tdb } = ctx;
    let plan: TurnPlan | null = null;
    const patched = this.#d.events.transaction(tdb, (tx) => {
      const room = this.#roomOr404(tdb, id);
      assertNotReleased(room);
      if (ifMatch !== undefined && ifMatch !== room.version) {
        throw new AppError("VERSION_CONFLICT", `room is at version ${room.version}, not ${ifMatch}; GET it, reapply your change, and send If-Match: ${room.version}`, {
          details: { current_version: room.version },
        });
      }
      const changes: string[] = [];
      const set: Partial<RoomRow> = {};
      if (body.purpose !== undefined) {
        set.purpose = body.purpose;
        changes.push("purpose");
      }
      if (body.metadata !== undefined) {
        const merged: Record<string, unknown> = { ...room.metadata };
        for (const [k, v] of Object.entries(body.metadata)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        set.metadata = merged;
        set.name = typeof merged["name"] === "string" ? (merged["name"] as string) : null;
        changes.push("metadata");
      }
      const roster = body.agents ?? body.actors;
      if (roster !== undefined) {
        set.actors = resolveActors(this.#d.catalog, roster);
        changes.push("actors");
      }
      if (body.tool_policy !== undefined) {
        set.toolPolicy = this.#toolPolicy(room.toolPolicy as ToolPolicy, body.tool_policy);
        changes.push("tool_policy");
      }
      if (body.wake_policy !== undefined) {
        const wake = { ...(room.wakePolicy as WakePolicy), ...stripUndefined(body.wake_policy) } as WakePolicy;
        set.wakePolicy = wake;
        const anchor = room.lastActiveAt ?? room.rentedAt;
        if (room.status === "idle") set.sleepAt = addIso(anchor, wake.idle_timeout_s);
        if (room.status !== "active") set.releaseAt = addIso(anchor, wake.release_after_s);
        changes.push("wake_policy");
      }
      if (body.done_policy !== undefined) {
        set.donePolicy = { ...(room.donePolicy as DonePolicy), ...stripUndefined(body.done_policy) } as DonePolicy;
        changes.push("done_policy");
      }
      if (body.addressing !== undefined) {
        set.addressing = body.addressing;
        changes.push("addressing");
      }
      if (body.budget !== undefined) {
        set.budget = mergeBudget(room.budget as Budget | null, body.budget);
        changes.push("budget");
      }
      if (body.summary_every_turns !== undefined) {
        set.summaryEveryTurns = body.summary_every_turns;
        changes.push("summary_every_turns");
      }
      // A PATCH that changes nothing (`{}`, or only current values) is no write: same version, no event.
      if (changes.every((field) => sameValue(field, set, room))) return roomDto(tdb.tenant, room);
      const version = room.version + 1;
      const updated = updateRoom(tdb, id, { ...set, version, updatedAt: tx.nowIso }, room.version);
      if (!updated) throw new AppError("VERSION_CONFLICT", "room changed while patching; GET it and retry", { details: { current_version: room.version + 1 } });
      tx.emit(id, { event_type: "room:updated", payload: { changes, version } });
      if (!changes.includes("budget")) return roomDto(tdb.tenant, updated);
      // A budget raised past the room's usage lets its queued message run; one lowered below it blocks the room.
      plan = budgetPatched(tdb, tx, room, updated, this.#d.admission);
      return roomDto(tdb.tenant, findRoom(tdb, id)!);
    });
    if (plan) this.#d.runner.start(plan);
    return patched;
  }

  /**
   * POST /messages. Durable before the answer: the message row, its event and
   * (when the room can start one) the turn's start are one transaction.
   */
  async postMessage(ctx: RoomCtx, id: string, input: PostMessageInput, ifMatch?: number): Promise<{ message: MessageRecord; startedTurn: boolean }> {
    this.#checkPost(ctx, input);
    const post = this.#posting(ctx, id, input, ifMatch, (m) => m);
    // With other turns streaming into the file, its log is fsynced off the event loop again and again
    // (storage/wal-sync.ts): the post's commit goes with them and the answer waits for that fsync, instead of
    // the loop waiting for one of its own (1–2 ms each at hundreds of rooms). Alone, the fsync stays inline:
    // handing it to a thread and back costs more than it saves when nothing else waits.
    const posted = ctx.tdb.streamingTurns() > 1 ? await this.#d.events.transactionDurable(ctx.tdb, post.body) : this.#d.events.transaction(ctx.tdb, post.body);
    const { message, startedTurn } = post.committed(posted);
    return { message, startedTurn };
  }

  /** postMessage whose transaction returns `answer(message)` (what an Idempotency-Key stores with the effect). */
  postMessageAs<T>(ctx: RoomCtx, id: string, input: PostMessageInput, ifMatch: number | undefined, answer: (message: MessageRecord) => T): { message: MessageRecord; startedTurn: boolean; answer: T } {
    this.#checkPost(ctx, input);
    const post = this.#posting(ctx, id, input, ifMatch, answer);
    return post.committed(this.#d.events.transaction(ctx.tdb, post.body));
  }

  /** A post's transaction body, and what follows its durable commit (the turn it began starts). */
  #posting<T>(ctx: RoomCtx, id: string, input: PostMessageInput, ifMatch: number | undefined, answer: (message: MessageRecord) => T) {
    let plan: TurnPlan | null = null;
    let message!: MessageRecord;
    return {
      body: (tx: EventTx): T => {
        const posted = this.#postIn(ctx, tx, id, input, ifMatch);
        plan = posted.plan;
        message = posted.message;
        return answer(posted.message);
      },
      committed: (result: T): { message: MessageRecord; startedTurn: boolean; answer: T } => {
        if (plan) this.#d.runner.start(plan);
        return { message, startedTurn: plan !== null, answer: result };
      },
    };
  }

  /** What posting checks before its transaction. */
  #checkPost(ctx: RoomCtx, input: PostMessageInput): void {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    if (input.content.length > this.#d.limits.maxMessageChars) {
      throw new AppError("VALIDATION_FAILED", `content is longer than ${this.#d.limits.maxMessageChars} characters; split it`, {
        details: [{ path: "content", message: "too long" }],
      });
    }
  }

  /** Inside a transaction: stores the message and, when the room can, begins its turn (the plan to start after commit). */
  #postIn(ctx: RoomCtx, tx: EventTx, id: string, input: PostMessageInput, ifMatch: number | undefined): { message: MessageRecord; plan: TurnPlan | null } {
    const { tdb } = ctx;
    const author = actorId(ctx.actor);
    const authorKind = ctx.actor.kind === "system" ? "system" : "user";
    const kind = input.kind ?? "message";
    const room = this.#roomOr404(tdb, id);
    assertNotReleased(room);
    checkVersion(room, ifMatch);
    const actors = room.actors as Actor[];
    if (input.actor && !actors.some((a) => a.agent_id === input.actor)) {
      throw new AppError("VALIDATION_FAILED", `no actor "${input.actor}" in this room; its actors are ${actors.map((a) => a.agent_id).join(", ")}`, {
        details: [{ path: "actor", message: "unknown actor" }],
      });
    }
    const unknownMention = (input.mentions ?? []).findIndex((m) => !actors.some((a) => a.agent_id === m));
    if (unknownMention >= 0) {
      throw new AppError("VALIDATION_FAILED", `no actor "${input.mentions![unknownMention]}" in this room to mention; its actors are ${actors.map((a) => a.agent_id).join(", ")}`, {
        details: [{ path: `mentions.${unknownMention}`, message: "unknown actor" }],
      });
    }
    let metadata = input.mentions && input.mentions.length > 0 ? { ...(input.metadata ?? {}), mentions: input.mentions } : (input.metadata ?? {});
    if (input.rounds) metadata = { ...metadata, rounds: input.rounds };
    // Who answers (room.sequence.ts): a prompt nobody may answer is stored as a note, without a turn.
    const addressed = kind === "note" ? null : address(actors, room.addressing as Addressing, input);
    if (kind === "note" || addressed?.sequence === null) {
      if (addressed && addressed.sequence === null) {
        metadata = { ...metadata, unaddressed: addressed.why };
        setSuccessStatus(201);
      }
      const note = storeMessage(tdb, tx, id, {
        kind: "note",
        authorKind,
        authorId: author,
        actorKey: input.actor ?? null,
        content: input.content,
        metadata,
        status: "done",
        turnId: null,
      });
      return { message: messageDto(note), plan: null };
    }
    if (room.status === "failed") {
      throw new AppError("ROOM_FAILED", "the room's last turn failed; POST /wake to retry it, or release the room", {
        details: { last_error: room.lastError },
      });
    }
    assertWithinBudget(room);
    if (room.queuedMessageId) {
      throw new AppError("ROOM_QUEUE_FULL", "a message is already queued in this room; wait for the current turn to end and retry", { retryAfterS: 1 });
    }
    const { sequence, first } = addressed!;
    const wake = room.wakePolicy as WakePolicy;
    const startsNow = room.status !== "active" && wake.mode === "on_message";
    if (startsNow) this.#d.admission.checkNewTurn(tdb);
    const stored = storeMessage(tdb, tx, id, {
      kind,
      authorKind,
      authorId: author,
      actorKey: first.agent_id,
      content: input.content,
      metadata,
      status: "queued",
      turnId: null,
      sequence,
    });
    if (startsNow) {
      const plan = beginTurn(tdb, tx, room, stored);
      return { message: messageDto(findMessage(tdb, id, stored.id)!), plan };
    }
    updateRoom(tdb, id, { queuedMessageId: stored.id, updatedAt: tx.nowIso });
    return { message: messageDto(stored), plan: null };
  }

  /** POST /wake: runs what waits (or retries a failed turn); otherwise the room goes idle. */
  wake(ctx: RoomCtx, id: string, reason: string | undefined, ifMatch?: number): Room {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    let plan: TurnPlan | null = null;
    const room = this.#d.events.transaction(tdb, (tx): Room => {
      let room = this.#roomOr404(tdb, id);
      assertNotReleased(room);
      checkVersion(room, ifMatch);
      if (room.status === "active") {
        if (this.#d.runner.isRunning(tdb.tenant, id)) return roomDto(tdb.tenant, room);
        // No worker runs the room's turn (its end was lost): it ends failed here, and the wake retries it.
        if (failOrphanTurn(tdb, tx, id)) room = findRoom(tdb, id)!;
      }
      const why = reason ?? "manual";
      tx.emit(id, { event_type: "room:woken", payload: { reason: why } });
      let retry: MessageRow | undefined;
      let base = room;
      if (room.status === "failed") {
        retry = (room.lastError ? findFailedTrigger(tdb, room) : undefined) ?? undefined;
        base = updateRoom(tdb, id, { lastError: null, updatedAt: tx.nowIso })!;
      }
      if (!retry && base.queuedMessageId) {
        const queued = findMessage(tdb, id, base.queuedMessageId);
        if (queued && queued.status === "queued") retry = queued;
      }
      if (retry) {
        assertWithinBudget(base);
        this.#d.admission.checkNewTurn(tdb);
        if (retry.status !== "queued") retry = updateMessage(tdb, retry.id, { status: "queued" })!;
        plan = beginTurn(tdb, tx, base, retry);
        if (plan) return roomDto(tdb.tenant, findRoom(tdb, id)!);
        base = findRoom(tdb, id)!;
      }
      return roomDto(tdb.tenant, settleIdle(tdb, tx, base, "woken"));
    });
    if (plan) this.#d.runner.start(plan);
    return room;
  }

  /**
   * POST /interrupt: aborts the running turn at the model call and waits
   * until it has ended durably. Scope `all` also drops the running prompt's
   * remaining turns and cancels the queued message (room.roster.ts).
   */
  async interrupt(
    ctx: RoomCtx,
    id: string,
    input: { reason?: string | undefined; drop_queued?: boolean | undefined; scope?: "turn" | "all" | undefined },
    ifMatch?: number,
  ): Promise<Room> {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const turnId = this.#d.events.transaction(tdb, (tx): string | null => {
      const room = this.#roomOr404(tdb, id);
      assertNotReleased(room);
      checkVersion(room, ifMatch);
      const all = input.scope === "all";
      if (room.status !== "active" || !room.activeTurn) {
        if (!all || !room.queuedMessageId) throw new AppError("NO_ACTIVE_TURN", `no turn is running in this room (status ${room.status}); nothing to interrupt`);
        stopAllInTx(tdb, tx, room);
        return null;
      }
      if (all) stopAllInTx(tdb, tx, room);
      else if (input.drop_queued && room.queuedMessageId) {
        updateMessage(tdb, room.queuedMessageId, { status: "cancelled" });
        updateRoom(tdb, id, { queuedMessageId: null, updatedAt: tx.nowIso });
      }
      if (this.#d.runner.isRunning(tdb.tenant, id)) return (room.activeTurn as { id: string }).id;
      // No worker runs the turn (its end was lost): it ends failed now instead of an abort that would reach nothing.
      failOrphanTurn(tdb, tx, id);
      return null;
    });
    if (turnId !== null) {
      // By turn id: if that turn ended meanwhile and its message's next turn began, the interrupt does not reach that one.
      await this.#d.runner.abort(tdb.tenant, id, "interrupt", turnId);
      this.#endIfLost(tdb, id, turnId);
    }
    return roomDto(tdb.tenant, this.#roomOr404(tdb, id));
  }

  /**
   * After an abort: if the turn's worker gave up on recording its end (storage
   * failing), end the turn failed here, or throw the storage error, so a verb
   * never answers as if the turn had ended while it still shows running.
   */
  #endIfLost(tdb: TenantDb, id: string, turnId: string): void {
    const room = findRoom(tdb, id);
    if (!room || room.status !== "active" || (room.activeTurn as { id?: string } | null)?.id !== turnId || this.#d.runner.isRunning(tdb.tenant, id)) return;
    this.#d.events.transaction(tdb, (tx) => failOrphanTurn(tdb, tx, id));
  }

  /** POST /release: idempotent; aborts the running turn, cancels the queued message, ends with room:released. */
  async release(ctx: RoomCtx, id: string, reason: string | undefined, ifMatch?: number): Promise<Room> {
    authorize(ctx.actor, ctx.tdb.tenant, "full");
    const { tdb } = ctx;
    const room = this.#roomOr404(tdb, id);
    if (room.status === "released") return roomDto(tdb.tenant, room);
    checkVersion(room, ifMatch);
    await this.#release(tdb, id, reason ?? "released by caller");
    return roomDto(tdb.tenant, this.#roomOr404(tdb, id));
  }

  /**
   * One transaction when no worker runs in the room (begin, end a turn whose
   * worker is gone, complete). With a worker, `releasing` is committed first,
   * the worker is aborted and waited for, and a second transaction completes;
   * if that one fails, the release deadline set by beginRelease lets the
   * lifecycle sweep complete it.
   */
  async #release(tdb: TenantDb, id: string, reason: string): Promise<void> {
    const running = this.#d.events.transaction(tdb, (tx) => {
      const room = findRoom(tdb, id);
      if (!room || room.status === "released") return false;
      if (room.status !== "releasing") beginRelease(tdb, tx, room, reason);
      if (this.#d.runner.isRunning(tdb.tenant, id)) return true;
      completeRelease(tdb, tx, id, reason);
      return false;
    });
    if (!running) return;
    await this.#d.runner.abort(tdb.tenant, id, "release");
    this.#d.events.transaction(tdb, (tx) => {
      const room = findRoom(tdb, id);
      if (!room || room.status === "released") return;
      completeRelease(tdb, tx, id, reason);
    });
  }

  /**
   * Releases a room inside the caller's open transaction when no worker runs
   * in it (the factory releases an issue's room in the transaction that
   * records the result). Returns false, changing nothing, when a
   * worker still runs: the caller then uses `release`.
   */
  releaseIdleInTx(ctx: RoomCtx, tx: EventTx, id: string, reason: string): boolean {
    authorize(ctx.actor, ctx.tdb.tenant, "full");
    const { tdb } = ctx;
    const room = findRoom(tdb, id);
    if (!room || room.status === "released") return true;
    if (this.#d.runner.isRunning(tdb.tenant, id)) return false;
    if (room.status !== "releasing") beginRelease(tdb, tx, room, reason);
    completeRelease(tdb, tx, id, reason);
    return true;
  }

  /**
   * Stores a task message in a resting room inside the caller's open
   * transaction and begins its turn there (the same path as POST /messages);
   * the caller hands the returned plan to `startTurn` after commit. A crash
   * before that leaves the turn `running` in the file, and recovery ends it
   * `failed` SERVER_RESTARTED. A room that would only queue the task (a turn
   * running, or a wake mode other than on_message) is refused.
   */
  postTaskInTx(ctx: RoomCtx, tx: EventTx, id: string, input: { content: string; metadata: Record<string, unknown>; actor?: string | undefined }): { message: MessageRecord; plan: TurnPlan } {
    const task: PostMessageInput = { kind: "task", content: input.content, metadata: input.metadata, actor: input.actor };
    this.#checkPost(ctx, task);
    const room = this.#roomOr404(ctx.tdb, id);
    if (room.status === "active" || (room.wakePolicy as WakePolicy).mode !== "on_message") {
      throw new AppError("ROOM_QUEUE_FULL", `room ${id} is ${room.status}; a task can only start in a resting room that wakes on a message`);
    }
    const { message, plan } = this.#postIn(ctx, tx, id, task, undefined);
    if (!plan) throw new AppError("ROOM_QUEUE_FULL", `room ${id} is ${room.status}; a task can only start in a resting room that wakes on a message`);
    return { message, plan };
  }

  /** Hands a turn begun by `postTaskInTx` to a worker; call after the transaction committed. */
  startTurn(plan: TurnPlan): void {
    this.#d.runner.start(plan);
  }

  /**
   * GET /history: the newest messages and events before each list's cursor,
   * ascending by seq, each list bounded in rows and in bytes (room.history.ts)
   * and serialised a slice at a time; the tenant's file is held open until then.
   */
  async history(ctx: RoomCtx, id: string, q: HistoryQueryInput): Promise<HistoryResult> {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const { tdb } = ctx;
    const room = roomDto(tdb.tenant, this.#roomOr404(tdb, id));
    const lastSeq = lastEventSeq(tdb, id);
    const release = this.#d.holdTenant(tdb.tenant);
    try {
      const page = await this.#history.page(
        {
          messages: (before, n) => listMessages(tdb, id, n, before).map(messageDto),
          events: (before, n) => readEventsBefore(tdb, id, before, n),
          // The open file's repository is unique in the process: a reopened file starts with nothing cached.
          cacheKey: `${tdb.repo.id}\u0000${id}`,
        },
        {
          limit: q.limit,
          messagesBeforeSeq: q.messages_before_seq ?? q.before_seq ?? Number.MAX_SAFE_INTEGER,
          eventsBeforeSeq: q.events_before_seq ?? q.before_seq ?? Number.MAX_SAFE_INTEGER,
          partialText: q.partial_text ?? true,
          lastSeq,
        },
      );
      return { room, messages: page.messages, events: page.events, lastSeq };
    } finally {
      release();
    }
  }

  /**
   * GET /events: the room's durable log and live feed, for the one SSE
   * helper. Bounded per room and per tenant (429 QUOTA_EXCEEDED); the
   * returned close must be called exactly once when the stream ends.
   */
  openEventStream(ctx: RoomCtx, id: string): RoomEventStream {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const { tdb } = ctx;
    this.#roomOr404(tdb, id);
    const giveBack = this.#followerSlot(tdb.tenant, id);
    const release = this.#d.holdTenant(tdb.tenant);
    let closed = false;
    return {
      source: {
        replay: (after, limit) => readEventsAfter(tdb, id, after, limit),
        subscribe: (listener) => this.#d.events.bus.subscribe(tdb.tenant, ROOM_STREAM, id, listener),
        isTerminal: (e) => e.event_type === TERMINAL_EVENT,
        isClosed: () => findRoom(tdb, id)?.status === "released",
      },
      close: () => {
        if (closed) return;
        closed = true;
        giveBack();
        release();
      },
    };
  }

  /**
   * Takes one follower slot of the room and of its tenant (event streams and
   * long polls share the quotas), or throws 429 QUOTA_EXCEEDED. The returned
   * function gives both back; call it exactly once.
   */
  #followerSlot(tenant: string, id: string): () => void {
    const roomKey = `${tenant}/${id}`;
    const tenantKey = `${tenant}/`;
    if ((this.#followers.get(roomKey) ?? 0) >= this.#d.limits.maxFollowersPerRoom) {
      throw new AppError("QUOTA_EXCEEDED", `this room already has ${this.#d.limits.maxFollowersPerRoom} event followers; close one and retry`, { retryAfterS: 5 });
    }
    if ((this.#followers.get(tenantKey) ?? 0) >= this.#d.limits.maxFollowersPerTenant) {
      throw new AppError("QUOTA_EXCEEDED", `this tenant already has ${this.#d.limits.maxFollowersPerTenant} event followers; close some and retry`, { retryAfterS: 5 });
    }
    const bump = (key: string, by: number) => {
      const n = (this.#followers.get(key) ?? 0) + by;
      if (n <= 0) this.#followers.delete(key);
      else this.#followers.set(key, n);
    };
    bump(roomKey, 1);
    bump(tenantKey, 1);
    return () => {
      bump(roomKey, -1);
      bump(tenantKey, -1);
    };
  }

  /**
   * GET /messages/:message_id: the message and what became of it. With
   * `waitMs` > 0 and its work not yet ended, waits on the room's event bus
   * (no polling, no worker) until it has ended, the time is up, or `signal`
   * aborts (the client left). While waiting it takes a follower slot and
   * holds the tenant's file; both are given back however the wait ends.
   */
  async message(ctx: RoomCtx, id: string, messageId: string, waitMs: number, signal: AbortSignal): Promise<MessageResult> {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    const { tdb } = ctx;
    this.#roomOr404(tdb, id);
    const read = (): MessageResult => {
      const row = UUID_RE.test(messageId) ? findMessage(tdb, id, messageId) : undefined;
      if (!row) throw new AppError("MESSAGE_NOT_FOUND", "no such message in this room; the room's messages are in GET /llm/room/{id}/history");
      return messageResult(tdb, id, row);
    };
    const first = read();
    if (first.done || waitMs <= 0 || signal.aborted) return first;
    const giveBack = this.#followerSlot(tdb.tenant, id);
    const release = this.#d.holdTenant(tdb.tenant);
    return new Promise<MessageResult>((resolve, reject) => {
      let settled = false;
      let checkQueued = false;
      const settle = (answer: () => MessageResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener("abort", onAbort);
        try {
          resolve(answer());
        } catch (err) {
          reject(err);
        } finally {
          giveBack();
          release();
        }
      };
      const check = () => {
        checkQueued = false;
        if (settled) return;
        let now: MessageResult;
        try {
          now = read();
        } catch (err) {
          settle(() => {
            throw err;
          });
          return;
        }
        if (now.done) settle(() => now);
      };
      // Published after commit, synchronously: only note it here and read once the publisher is done.
      const unsubscribe = this.#d.events.bus.subscribe(tdb.tenant, ROOM_STREAM, id, (event) => {
        if (checkQueued || !MESSAGE_END_EVENTS.has(event.event_type)) return;
        checkQueued = true;
        queueMicrotask(check);
      });
      const onAbort = () => settle(() => first);
      const timer = setTimeout(() => settle(read), waitMs);
      signal.addEventListener("abort", onAbort, { once: true });
      // It may have ended between the first read and the subscription.
      check();
    });
  }

  /** Live event followers, for tests and metrics. */
  followerCount(tenant: string, roomId?: string): number {
    return this.#followers.get(roomId === undefined ? `${tenant}/` : `${tenant}/${roomId}`) ?? 0;
  }
}

function findFailedTrigger(t: TenantDb, room: RoomRow) {
  const turnId = (room.lastError as { turn_id?: string | null } | null)?.turn_id;
  if (!turnId) return undefined;
  const turn = findTurn(t, turnId);
  const message = turn ? findMessage(t, room.id, turn.messageId) : undefined;
  // A prompt of several turns whose rest was cancelled when this turn failed is over: a wake does not run it again.
  return message && message.status === "failed" && !sequenceOf(message.sequence)?.cancelled ? message : undefined;
}

/** The row column each PATCH field writes. */
const PATCH_COLUMNS: Record<string, keyof RoomRow> = {
  purpose: "purpose",
  metadata: "metadata",
  actors: "actors",
  tool_policy: "toolPolicy",
  wake_policy: "wakePolicy",
  done_policy: "donePolicy",
  addressing: "addressing",
  budget: "budget",
  summary_every_turns: "summaryEveryTurns",
};

/** Whether a PATCH field's new value equals the room's (stored JSON compares by content; purpose null and "" read the same). */
function sameValue(field: string, set: Partial<RoomRow>, room: RoomRow): boolean {
  const column = PATCH_COLUMNS[field]!;
  if (column === "purpose") return (set.purpose ?? "") === (room.purpose ?? "");
  return JSON.stringify(set[column]) === JSON.stringify(room[column]);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function dropNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
}
