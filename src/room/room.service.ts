/**
 * The room verbs. Each verb validates the lifecycle rule it needs, then does
 * its writes in one EventLog transaction (durable, then published), and only
 * after commit touches workers. Services never import hono: they take a
 * tenant-bound handle and the caller's principal, and throw AppError.
 */
import { randomUUID } from "node:crypto";
import { AppError } from "../errors.js";
import type { Principal } from "../auth/principal.js";
import type { EventLog } from "../events/event.log.js";
import { ROOM_STREAM, TERMINAL_EVENT, type RoomEvent } from "../events/event.types.js";
import type { SseSource } from "../sse/sse.types.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { HistoryPager, type HistoryListPage } from "./room.history.js";
import { DEFAULT_ACTOR, DEFAULT_DONE_POLICY, DEFAULT_TOOL_POLICY, DEFAULT_WAKE_POLICY } from "./room.defaults.js";
import { messageDto, roomDto, ZERO_USAGE, type MessageRecord } from "./room.dto.js";
import { addIso, beginRelease, beginTurn, completeRelease, pickActor, settleIdle, storeMessage, type TurnPlan } from "./room.lifecycle.js";
import { lastRoomEventSeq as lastEventSeq, readRoomEventsAfter as readEventsAfter, readRoomEventsBefore as readEventsBefore } from "./room.stream.js";
import type { Actor, DonePolicy, PatchRoomBody, RentRoomBody, Room, RoomStatus, ToolPolicy, WakePolicy } from "./room.schemas.js";
import { countLiveRooms, findMessage, findRoom, findTurn, type MessageRow, listMessages, listRooms, updateMessage, updateRoom, insertRoom, type RoomRow } from "./room.store.js";


/** What the room service needs from the model runtime: the catalogue only. */
export interface ModelCatalog {
  hasModel(provider: string, model: string): boolean;
  toolNames(): string[];
}

/** Why a running turn is being stopped; decides how it ends. */
export type AbortReason = "interrupt" | "release" | "shutdown" | "budget";

/** What the room service needs from the worker registry. */
export interface TurnRunner {
  start(plan: TurnPlan): void;
  /** Aborts the room's running turn and resolves once that turn has ended durably (immediately if none runs). */
  abort(tenant: string, roomId: string, reason: AbortReason): Promise<void>;
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

export interface RoomCtx {
  tdb: TenantDb;
  principal: Principal;
}

export interface PostMessageInput {
  kind?: "message" | "task" | "note" | undefined;
  content: string;
  metadata?: Record<string, unknown> | undefined;
  actor?: string | undefined;
  mentions?: string[] | undefined;
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

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses If-Match: `3`, `"3"` or `W/"3"`. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header);
  if (!m) throw new AppError("VALIDATION_FAILED", 'If-Match must be the room version, e.g. If-Match: 3 or If-Match: "3"', { details: [{ path: "If-Match", message: "not a version" }] });
  return Number(m[1]);
}

export class RoomService {
  readonly #d: RoomServiceDeps;
  readonly #followers = new Map<string, number>();
  readonly #history = new HistoryPager();

  constructor(deps: RoomServiceDeps) {
    this.#d = deps;
  }

  #actorsFrom(input: RentRoomBody["agents"]): Actor[] {
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
      if (!this.#d.catalog.hasModel(a.provider, a.model)) {
        throw new AppError("UNKNOWN_MODEL", `unknown model ${a.provider}/${a.model}; GET /llm/providers/models lists the enabled ones`, {
          details: [{ path: `agents.${i}`, message: `unknown model ${a.provider}/${a.model}` }],
        });
      }
    });
    return list;
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
    const room = UUID_RE.test(id) ? findRoom(t, id) : undefined;
    if (!room) throw new AppError("ROOM_NOT_FOUND", "no such room for this tenant (ids are never shared across tenants); list yours with GET /llm/room");
    return room;
  }

  /** POST /llm/room: a new room in `rented`, with room:rented as its first event. */
  rent(ctx: RoomCtx, body: RentRoomBody): Room {
    if (body.agents && body.actors) {
      throw new AppError("VALIDATION_FAILED", "send either agents or actors (they are aliases), not both", { details: [{ path: "actors", message: "alias of agents" }] });
    }
    const actors = this.#actorsFrom(body.agents ?? body.actors);
    const toolPolicy = this.#toolPolicy(DEFAULT_TOOL_POLICY, body.tool_policy);
    const wakePolicy = { ...DEFAULT_WAKE_POLICY, ...stripUndefined(body.wake_policy ?? {}) } as WakePolicy;
    const donePolicy = { ...DEFAULT_DONE_POLICY, ...stripUndefined(body.done_policy ?? {}) } as DonePolicy;
    const metadata = dropNulls(body.metadata ?? {});
    const { tdb } = ctx;
    return this.#d.events.transaction(tdb, (tx) => {
      if (countLiveRooms(tdb) >= this.#d.limits.maxRoomsPerTenant) {
        throw new AppError("QUOTA_EXCEEDED", `this tenant already has ${this.#d.limits.maxRoomsPerTenant} rooms that are not released; release one first`, {
          retryAfterS: 60,
        });
      }
      const id = randomUUID();
      const row = insertRoom(tdb, {
        id,
        status: "rented",
        purpose: body.purpose ?? null,
        name: typeof metadata["name"] === "string" ? (metadata["name"] as string) : null,
        metadata,
        actors,
        toolPolicy,
        wakePolicy,
        donePolicy,
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
        createdBy: ctx.principal.sub,
        releaseAt: addIso(tx.nowIso, wakePolicy.release_after_s),
      });
      tx.emit(id, { event_type: "room:rented", payload: { actors } });
      return roomDto(tdb.tenant, row);
    });
  }

  get(ctx: RoomCtx, id: string): Room {
    return roomDto(ctx.tdb.tenant, this.#roomOr404(ctx.tdb, id));
  }

  list(ctx: RoomCtx, q: { status?: RoomStatus[] | undefined; name?: string | undefined; limit: number; cursor?: string | undefined }): ListResult {
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
    if (body.agents && body.actors) {
      throw new AppError("VALIDATION_FAILED", "send either agents or actors (they are aliases), not both", { details: [{ path: "actors", message: "alias of agents" }] });
    }
    const { tdb } = ctx;
    return this.#d.events.transaction(tdb, (tx) => {
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
        set.actors = this.#actorsFrom(roster);
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
      const version = room.version + 1;
      const updated = updateRoom(tdb, id, { ...set, version, updatedAt: tx.nowIso }, room.version);
      if (!updated) throw new AppError("VERSION_CONFLICT", "room changed while patching; GET it and retry", { details: { current_version: room.version + 1 } });
      tx.emit(id, { event_type: "room:updated", payload: { changes, version } });
      return roomDto(tdb.tenant, updated);
    });
  }

  /**
   * POST /messages. Durable before the answer: the message row, its event and
   * (when the room can start one) the turn's start are one transaction.
   */
  postMessage(ctx: RoomCtx, id: string, input: PostMessageInput, ifMatch?: number): { message: MessageRecord; startedTurn: boolean } {
    const { tdb, principal } = ctx;
    const kind = input.kind ?? "message";
    if (input.content.length > this.#d.limits.maxMessageChars) {
      throw new AppError("VALIDATION_FAILED", `content is longer than ${this.#d.limits.maxMessageChars} characters; split it`, {
        details: [{ path: "content", message: "too long" }],
      });
    }
    let plan: TurnPlan | null = null;
    const message = this.#d.events.transaction(tdb, (tx): MessageRecord => {
      const room = this.#roomOr404(tdb, id);
      assertNotReleased(room);
      checkVersion(room, ifMatch);
      const actors = room.actors as Actor[];
      if (input.actor && !actors.some((a) => a.agent_id === input.actor)) {
        throw new AppError("VALIDATION_FAILED", `no actor "${input.actor}" in this room; its actors are ${actors.map((a) => a.agent_id).join(", ")}`, {
          details: [{ path: "actor", message: "unknown actor" }],
        });
      }
      const metadata = input.mentions && input.mentions.length > 0 ? { ...(input.metadata ?? {}), mentions: input.mentions } : (input.metadata ?? {});
      if (kind === "note") {
        const note = storeMessage(tdb, tx, id, {
          kind,
          authorKind: "user",
          authorId: principal.sub,
          actorKey: input.actor ?? null,
          content: input.content,
          metadata,
          status: "done",
          turnId: null,
        });
        return messageDto(note);
      }
      if (room.status === "failed") {
        throw new AppError("ROOM_FAILED", "the room's last turn failed; POST /wake to retry it, or release the room", {
          details: { last_error: room.lastError },
        });
      }
      if (room.queuedMessageId) {
        throw new AppError("ROOM_QUEUE_FULL", "a message is already queued in this room; wait for the current turn to end and retry", { retryAfterS: 1 });
      }
      const actor = pickActor(actors, input.actor ?? null, input.mentions ?? []);
      const wake = room.wakePolicy as WakePolicy;
      const startsNow = room.status !== "active" && wake.mode === "on_message";
      if (startsNow) this.#d.admission.checkNewTurn(tdb);
      const stored = storeMessage(tdb, tx, id, {
        kind,
        authorKind: "user",
        authorId: principal.sub,
        actorKey: actor?.agent_id ?? null,
        content: input.content,
        metadata,
        status: "queued",
        turnId: null,
      });
      if (startsNow) {
        plan = beginTurn(tdb, tx, room, stored);
        return messageDto(findMessage(tdb, id, stored.id)!);
      }
      updateRoom(tdb, id, { queuedMessageId: stored.id, updatedAt: tx.nowIso });
      return messageDto(stored);
    });
    if (plan) this.#d.runner.start(plan);
    return { message, startedTurn: plan !== null };
  }

  /** POST /wake: runs what waits (or retries a failed turn); otherwise the room goes idle. */
  wake(ctx: RoomCtx, id: string, reason: string | undefined, ifMatch?: number): Room {
    const { tdb } = ctx;
    let plan: TurnPlan | null = null;
    const room = this.#d.events.transaction(tdb, (tx): Room => {
      const room = this.#roomOr404(tdb, id);
      assertNotReleased(room);
      checkVersion(room, ifMatch);
      if (room.status === "active") return roomDto(tdb.tenant, room);
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
        this.#d.admission.checkNewTurn(tdb);
        if (retry.status !== "queued") retry = updateMessage(tdb, retry.id, { status: "queued" })!;
        plan = beginTurn(tdb, tx, base, retry);
        return roomDto(tdb.tenant, findRoom(tdb, id)!);
      }
      return roomDto(tdb.tenant, settleIdle(tdb, tx, base, "woken"));
    });
    if (plan) this.#d.runner.start(plan);
    return room;
  }

  /** POST /interrupt: aborts the running turn at the model call and waits until it has ended durably. */
  async interrupt(ctx: RoomCtx, id: string, input: { reason?: string | undefined; drop_queued?: boolean | undefined }, ifMatch?: number): Promise<Room> {
    const { tdb } = ctx;
    this.#d.events.transaction(tdb, (tx) => {
      const room = this.#roomOr404(tdb, id);
      assertNotReleased(room);
      checkVersion(room, ifMatch);
      if (room.status !== "active" || !room.activeTurn) {
        throw new AppError("NO_ACTIVE_TURN", `no turn is running in this room (status ${room.status}); nothing to interrupt`);
      }
      if (input.drop_queued && room.queuedMessageId) {
        updateMessage(tdb, room.queuedMessageId, { status: "cancelled" });
        return roomDto(tdb.tenant, updateRoom(tdb, id, { queuedMessageId: null, updatedAt: tx.nowIso })!);
      }
      return roomDto(tdb.tenant, room);
    });
    await this.#d.runner.abort(tdb.tenant, id, "interrupt");
    return this.get(ctx, id);
  }

  /** POST /release: idempotent; aborts the running turn, cancels the queued message, ends with room:released. */
  async release(ctx: RoomCtx, id: string, reason: string | undefined, ifMatch?: number): Promise<Room> {
    const { tdb } = ctx;
    const room = this.#roomOr404(tdb, id);
    if (room.status === "released") return roomDto(tdb.tenant, room);
    checkVersion(room, ifMatch);
    await this.releaseRoom(tdb, id, reason ?? "released by caller");
    return this.get(ctx, id);
  }

  /** The release path shared by the verb and the auto-release timer. */
  async releaseRoom(tdb: TenantDb, id: string, reason: string): Promise<void> {
    this.#d.events.transaction(tdb, (tx) => {
      const room = findRoom(tdb, id);
      if (!room || room.status === "released" || room.status === "releasing") return room ? roomDto(tdb.tenant, room) : null;
      return roomDto(tdb.tenant, beginRelease(tdb, tx, room, reason));
    });
    await this.#d.runner.abort(tdb.tenant, id, "release");
    this.#d.events.transaction(tdb, (tx) => {
      const room = findRoom(tdb, id);
      if (!room || room.status === "released") return;
      completeRelease(tdb, tx, id, reason);
    });
  }

  /**
   * GET /history: the newest messages and events before each list's cursor,
   * ascending by seq, each list bounded in rows and in bytes (room.history.ts)
   * and serialised a slice at a time; the tenant's file is held open until then.
   */
  async history(ctx: RoomCtx, id: string, q: HistoryQueryInput): Promise<HistoryResult> {
    const { tdb } = ctx;
    const room = roomDto(tdb.tenant, this.#roomOr404(tdb, id));
    const lastSeq = lastEventSeq(tdb, id);
    const release = this.#d.holdTenant(tdb.tenant);
    try {
      const page = await this.#history.page(
        { messages: (before, n) => listMessages(tdb, id, n, before).map(messageDto), events: (before, n) => readEventsBefore(tdb, id, before, n) },
        {
          limit: q.limit,
          messagesBeforeSeq: q.messages_before_seq ?? q.before_seq ?? Number.MAX_SAFE_INTEGER,
          eventsBeforeSeq: q.events_before_seq ?? q.before_seq ?? Number.MAX_SAFE_INTEGER,
          partialText: q.partial_text ?? true,
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
    const { tdb } = ctx;
    this.#roomOr404(tdb, id);
    const roomKey = `${tdb.tenant}/${id}`;
    const tenantKey = `${tdb.tenant}/`;
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
        bump(roomKey, -1);
        bump(tenantKey, -1);
        release();
      },
    };
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
  return message && message.status === "failed" ? message : undefined;
}

function assertNotReleased(room: RoomRow): void {
  if (room.status === "released" || room.status === "releasing") {
    throw new AppError("ROOM_RELEASED", "the room is released; rent a new one with POST /llm/room");
  }
}

function checkVersion(room: RoomRow, ifMatch: number | undefined): void {
  if (ifMatch !== undefined && ifMatch !== room.version) {
    throw new AppError("VERSION_CONFLICT", `room is at version ${room.version}, not ${ifMatch}; GET it and retry with If-Match: ${room.version}`, {
      details: { current_version: room.version },
    });
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function dropNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
}
