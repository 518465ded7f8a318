/**
 * The lifecycle table of ROOMS.md as transaction steps. Each function runs
 * inside an `EventLog` transaction, changes rows and emits the events of one
 * transition, so a transition is either wholly durable or not at all. No
 * awaits, no timers, no model calls here.
 */
import { randomUUID } from "node:crypto";
import type { EventTx } from "../events/event.log.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { ZERO_USAGE } from "./room.dto.js";
import { exceededLimit, type Budget } from "./room.budget.js";
import { noteBudgetCrossing, recordUsage, type UsageSource } from "./room.usage.js";
import type { Actor, DonePolicy, ToolPolicy, Usage, WakePolicy } from "./room.schemas.js";
import { findMessage, findRoom, findTurn, insertMessage, insertTurn, nextMessageSeq, updateMessage, updateRoom, updateTurn, type MessageRow, type RoomRow, type TurnRow } from "./room.store.js";

/** Everything a worker needs to run one turn, fixed when the turn begins. */
export interface TurnPlan {
  tenant: string;
  roomId: string;
  turnId: string;
  messageId: string;
  messageSeq: number;
  prompt: string;
  actor: Actor;
  toolPolicy: ToolPolicy;
  donePolicy: DonePolicy;
}

export type TurnEndStatus = "completed" | "interrupted" | "failed" | "cancelled";

export interface TurnOutcome {
  status: TurnEndStatus;
  text: string;
  usage: Usage;
  error?: { code: string; message: string };
}

export function addIso(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    totalTokens: a.totalTokens + b.totalTokens,
    cost: { total: Math.round((a.cost.total + b.cost.total) * 1e9) / 1e9 },
  };
}

/** The actor that answers a message: the one it names, else the first mentioned, else the first unmuted. */
export function pickActor(actors: Actor[], named: string | null, mentions: readonly string[]): Actor | undefined {
  if (named) return actors.find((a) => a.agent_id === named);
  for (const m of mentions) {
    const a = actors.find((x) => x.agent_id === m && !x.muted);
    if (a) return a;
  }
  return actors.find((a) => !a.muted);
}

function mustRoom(t: TenantDb, id: string): RoomRow {
  const room = findRoom(t, id);
  if (!room) throw new Error(`room ${id} vanished inside its transaction`);
  return room;
}

/** Stores a message with its seq and emits message:created. */
export function storeMessage(
  t: TenantDb,
  tx: EventTx,
  roomId: string,
  m: Omit<MessageRow, "id" | "roomId" | "seq" | "createdAt">,
): MessageRow {
  const seq = nextMessageSeq(t, roomId);
  const row = insertMessage(t, { ...m, id: randomUUID(), roomId, seq, createdAt: tx.nowIso });
  tx.emit(roomId, {
    event_type: "message:created",
    payload: { message_id: row.id, seq, kind: row.kind, author_kind: row.authorKind },
    agent_key: row.authorKind === "agent" ? row.authorId : null,
    turn_id: row.turnId,
  });
  return row;
}

/**
 * Starts a turn for a stored message: the room goes `active`, the message
 * `running`, and `room:active` + `agent:turn_start` are emitted. The caller
 * hands the returned plan to a worker after commit.
 */
export function beginTurn(t: TenantDb, tx: EventTx, room: RoomRow, message: MessageRow): TurnPlan {
  const actors = room.actors as Actor[];
  const actor = actors.find((a) => a.agent_id === message.actorKey) ?? pickActor(actors, null, []);
  if (!actor) throw new Error(`room ${room.id} has no actor that can answer`);
  const turnId = randomUUID();
  insertTurn(t, { id: turnId, roomId: room.id, messageId: message.id, agentId: actor.agent_id, status: "running", startedAt: tx.nowIso });
  updateMessage(t, message.id, { status: "running", turnId, actorKey: actor.agent_id });
  updateRoom(t, room.id, {
    status: "active",
    activeTurn: { id: turnId, message_id: message.id, agent_id: actor.agent_id, started_at: tx.nowIso },
    queuedMessageId: room.queuedMessageId === message.id ? null : room.queuedMessageId,
    lastActiveAt: tx.nowIso,
    updatedAt: tx.nowIso,
    sleepAt: null,
    releaseAt: null,
  });
  tx.emit(room.id, { event_type: "room:active", payload: { trigger_message_id: message.id, turn_id: turnId }, agent_key: actor.agent_id, turn_id: turnId });
  tx.emit(room.id, {
    event_type: "agent:turn_start",
    payload: { turn_id: turnId, message_id: message.id, status: "running" },
    agent_key: actor.agent_id,
    turn_id: turnId,
  });
  return {
    tenant: t.tenant,
    roomId: room.id,
    turnId,
    messageId: message.id,
    messageSeq: message.seq,
    prompt: message.content,
    actor,
    toolPolicy: room.toolPolicy as ToolPolicy,
    donePolicy: room.donePolicy as DonePolicy,
  };
}

/** Puts a room at rest: `idle` with its sleep and release deadlines, emitting room:idle. */
export function settleIdle(t: TenantDb, tx: EventTx, room: RoomRow, reason: "turn_completed" | "interrupted" | "woken"): RoomRow {
  const wake = room.wakePolicy as WakePolicy;
  const updated = updateRoom(t, room.id, {
    status: "idle",
    activeTurn: null,
    updatedAt: tx.nowIso,
    sleepAt: addIso(tx.nowIso, wake.idle_timeout_s),
    releaseAt: addIso(room.lastActiveAt ?? tx.nowIso, wake.release_after_s),
  })!;
  tx.emit(room.id, { event_type: "room:idle", payload: { reason } });
  return updated;
}

export interface FinishOptions {
  /** Whether a queued message may start its turn now (false while stopping or shutting down). */
  mayStartNext: boolean;
}

/**
 * Ends a turn exactly once: the turn row leaves `running` in the same
 * transaction that emits its one `agent:turn_end`. Then the room moves on:
 * `failed` on failure, the queued message's turn if one waits, else `idle`.
 * Returns the next turn's plan, if one began. A turn already ended (e.g. by
 * recovery) is left alone and returns null.
 */
export function finishTurn(t: TenantDb, tx: EventTx, plan: TurnPlan, outcome: TurnOutcome, opts: FinishOptions): TurnPlan | null {
  const turn = findTurn(t, plan.turnId);
  if (!turn || turn.status !== "running") return null;
  const room = mustRoom(t, plan.roomId);
  if (room.status === "released") {
    // Released is final and `room:released` is the log's last event: the turn's rows end, quietly.
    const usage = outcome.usage ?? ZERO_USAGE;
    recordUsage(t, tx, plan.roomId, turnSource(plan), usage);
    updateTurn(t, plan.turnId, { status: outcome.status, endedAt: tx.nowIso, usage, error: outcome.error ?? null });
    updateMessage(t, plan.messageId, { status: outcome.status === "completed" ? "done" : outcome.status === "failed" ? "failed" : "cancelled" });
    // The room's usage stays the sum of its ledger rows (GET /usage), events or not.
    if (usage.totalTokens > 0 || usage.cost.total > 0) updateRoom(t, room.id, { usage: addUsage((room.usage as Usage) ?? ZERO_USAGE, usage) });
    return null;
  }

  const agentKey = plan.actor.agent_id;
  if (outcome.text.length > 0) {
    // Only a completed turn has an answer (`output`, announced by agent:output). The text of an interrupted or
    // failed one is kept as `partial`, so a client taking the newest output never prints a cut reply as complete.
    const partial = outcome.status !== "completed";
    const out = storeMessage(t, tx, plan.roomId, {
      kind: partial ? "partial" : "output",
      authorKind: "agent",
      authorId: agentKey,
      actorKey: agentKey,
      content: outcome.text,
      metadata: partial ? { partial: true, turn_status: outcome.status } : {},
      status: "done",
      turnId: plan.turnId,
    });
    if (!partial) tx.emit(plan.roomId, { event_type: "agent:output", payload: { message_id: out.id, text: outcome.text }, agent_key: agentKey, turn_id: plan.turnId });
  }
  const usage = outcome.usage ?? ZERO_USAGE;
  recordUsage(t, tx, plan.roomId, turnSource(plan), usage);
  updateTurn(t, plan.turnId, { status: outcome.status, endedAt: tx.nowIso, usage, error: outcome.error ?? null });
  updateMessage(t, plan.messageId, {
    status: outcome.status === "completed" ? "done" : outcome.status === "failed" ? "failed" : "cancelled",
  });
  tx.emit(plan.roomId, {
    event_type: "agent:turn_end",
    payload: { turn_id: plan.turnId, message_id: plan.messageId, status: outcome.status, usage },
    agent_key: agentKey,
    turn_id: plan.turnId,
  });

  const usedBefore = (room.usage as Usage) ?? ZERO_USAGE;
  const usedAfter = addUsage(usedBefore, usage);
  noteBudgetCrossing(tx, plan.roomId, room.budget as Budget | null, usedBefore, usedAfter, plan.turnId);
  const base = {
    usage: usedAfter,
    lastActiveAt: tx.nowIso,
    updatedAt: tx.nowIso,
    activeTurn: null,
  };

  if (outcome.status === "failed") {
    const error = outcome.error ?? { code: "PROVIDER_ERROR", message: "the turn failed" };
    const releasing = room.status === "releasing";
    updateRoom(t, room.id, {
      ...base,
      status: releasing ? "releasing" : "failed",
      lastError: { code: error.code, message: error.message, at: tx.nowIso, turn_id: plan.turnId },
      sleepAt: null,
      // A release in progress keeps its deadline (see beginRelease).
      releaseAt: releasing ? room.releaseAt : addIso(tx.nowIso, (room.wakePolicy as WakePolicy).release_after_s),
    });
    tx.emit(plan.roomId, { event_type: "error", payload: { code: error.code, message: error.message, turn_id: plan.turnId }, agent_key: agentKey, turn_id: plan.turnId });
    return null;
  }
  if (room.status === "releasing") {
    updateRoom(t, room.id, base);
    return null;
  }
  const after = updateRoom(t, room.id, base)!;
  // With wake policy `manual` a queued message waits for a wake, even behind a running turn. Past its budget
  // the room starts nothing: the queued message waits until a PATCH raises the budget (room.budget.ts).
  if (opts.mayStartNext && after.queuedMessageId && (after.wakePolicy as WakePolicy).mode === "on_message" && !exceededLimit(after.budget as Budget | null, usedAfter)) {
    const next = findMessage(t, room.id, after.queuedMessageId);
    if (next && next.status === "queued") return beginTurn(t, tx, after, next);
  }
  settleIdle(t, tx, after, outcome.status === "interrupted" ? "interrupted" : "turn_completed");
  return null;
}

/** Who a turn's usage is charged to: its actor, on the model it ran. */
function turnSource(plan: TurnPlan): UsageSource {
  return { kind: "turn", turnId: plan.turnId, messageId: plan.messageId, agentId: plan.actor.agent_id, provider: plan.actor.provider, model: plan.actor.model };
}

/**
 * Starts the release: `releasing`, the queued message cancelled. The caller
 * aborts any running turn, then calls completeRelease. The release deadline
 * is now: if whoever began the release never completes it (a failed write,
 * a crash between the two steps), the lifecycle sweep completes it as soon
 * as no worker runs in the room, so `releasing` cannot last.
 */
export function beginRelease(t: TenantDb, tx: EventTx, room: RoomRow, reason: string): RoomRow {
  if (room.queuedMessageId) updateMessage(t, room.queuedMessageId, { status: "cancelled" });
  const updated = updateRoom(t, room.id, {
    status: "releasing",
    queuedMessageId: null,
    sleepAt: null,
    releaseAt: tx.nowIso,
    updatedAt: tx.nowIso,
  })!;
  tx.emit(room.id, { event_type: "room:releasing", payload: { reason } });
  return updated;
}

/**
 * Finishes the release: `released`, with room:released as the stream's last
 * event. A turn still marked running (its worker is gone: it could not record
 * its end, or the server stopped) ends `cancelled` first, so its
 * `agent:turn_end` comes before `room:released` and nothing can follow it.
 * The caller must have stopped the room's worker, if it had one.
 */
export function completeRelease(t: TenantDb, tx: EventTx, roomId: string, reason: string): RoomRow {
  let room = mustRoom(t, roomId);
  if (room.status === "released") return room;
  const orphan = runningTurnOf(t, room);
  if (orphan) {
    finishTurn(t, tx, orphan, { status: "cancelled", text: "", usage: ZERO_USAGE }, { mayStartNext: false });
    room = mustRoom(t, roomId);
  }
  const updated = updateRoom(t, roomId, { status: "released", releasedAt: tx.nowIso, updatedAt: tx.nowIso, activeTurn: null, sleepAt: null, releaseAt: null })!;
  tx.emit(roomId, { event_type: "room:released", payload: { reason } });
  return updated;
}

/**
 * The plan of a turn row that is still `running`, rebuilt from the rows (for
 * a turn whose worker is gone: recovery after a restart, a lost turn end, a
 * release). Undefined when the turn, its room or its message is missing.
 */
export function planForTurn(t: TenantDb, turn: TurnRow): TurnPlan | undefined {
  const room = findRoom(t, turn.roomId);
  const message = room ? findMessage(t, turn.roomId, turn.messageId) : undefined;
  if (!room || !message) return undefined;
  const actors = room.actors as Actor[];
  const actor = actors.find((a) => a.agent_id === turn.agentId) ?? actors[0];
  if (!actor) return undefined;
  return {
    tenant: t.tenant,
    roomId: room.id,
    turnId: turn.id,
    messageId: message.id,
    messageSeq: message.seq,
    prompt: message.content,
    actor,
    toolPolicy: room.toolPolicy as ToolPolicy,
    donePolicy: room.donePolicy as DonePolicy,
  };
}

/** The room's active turn if its row is still `running`, as a plan. */
function runningTurnOf(t: TenantDb, room: RoomRow): TurnPlan | undefined {
  const turnId = (room.activeTurn as { id?: string } | null)?.id;
  const turn = turnId ? findTurn(t, turnId) : undefined;
  return turn && turn.status === "running" ? planForTurn(t, turn) : undefined;
}

/** What a turn ends with when its worker could not record its end. */
export const TURN_NOT_RECORDED = {
  code: "TURN_NOT_RECORDED",
  message: "storage failed while this turn ended, so its result was not recorded; POST /wake to retry it",
} as const;

/**
 * Ends the room's running turn `failed` with TURN_NOT_RECORDED when no worker
 * runs it any more (the caller checks that): the durable `error` and
 * `agent:turn_end` events, the room `failed`. Returns whether a turn ended;
 * false when the room has no turn still running (nothing to do).
 */
export function failOrphanTurn(t: TenantDb, tx: EventTx, roomId: string): boolean {
  const room = findRoom(t, roomId);
  const plan = room ? runningTurnOf(t, room) : undefined;
  if (!plan) return false;
  finishTurn(t, tx, plan, { status: "failed", text: "", usage: ZERO_USAGE, error: { ...TURN_NOT_RECORDED } }, { mayStartNext: false });
  return true;
}
