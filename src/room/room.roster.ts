/**
 * Roster verbs: add, change, remove one actor of a live room, stop one
 * actor, and stop everything (interrupt with scope `all`).
 *
 * Each roster change is one EventLog transaction that checks the room's
 * version, bumps it and emits its roster event. Stopping an actor marks it
 * skipped in the running prompt's sequence (room.sequence.ts) in that same
 * transaction, so its pending turns never begin; then, after commit, its
 * running turn (if it runs one) is aborted at the model call, by turn id,
 * so an abort that arrives after that turn ended cannot reach the next
 * actor's. The verb answers once the stopped turn has ended durably.
 */
import { AppError } from "../errors.js";
import { authorize, type Actor as Caller } from "../auth/actor.js";
import type { EventLog, EventTx } from "../events/event.log.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { roomDto } from "./room.dto.js";
import { assertNotReleased, checkVersion, roomOr404 } from "./room.guards.js";
import type { Actor, Room } from "./room.schemas.js";
import { sequenceOf, totalSteps } from "./room.sequence.js";
import { findMessage, findRoom, updateMessage, updateRoom, type RoomRow } from "./room.store.js";

/** Most actors a room holds (as many as PATCH `agents` accepts). */
export const MAX_ACTORS = 16;

/** Why an actor's running turn is stopped: the `reason` its `agent:turn_end` carries. */
export type ActorStop = "muted" | "removed" | "actor_interrupt";

export interface RosterDeps {
  events: EventLog;
  /** Fills an actor's defaults and checks its model (resolveActors of room.service.ts). */
  resolve: (input: ActorInputLike[]) => Actor[];
  /** Aborts the room's running turn if it is `turnId`; resolves once it has ended durably. */
  abortTurn: (tenant: string, roomId: string, reason: ActorStop, turnId: string) => Promise<void>;
}

/** An actor as a request gives it (ActorInput). */
export interface ActorInputLike {
  agent_id: string;
  role?: string | undefined;
  adapter?: string | undefined;
  provider?: string | undefined;
  model?: string | undefined;
  skills?: string[] | undefined;
  system_prompt?: string | null | undefined;
  muted?: boolean | undefined;
  options?: Record<string, unknown> | undefined;
}

/** What PATCH /actors/:agent_id may change. */
export type ActorPatch = Omit<ActorInputLike, "agent_id">;

interface Ctx {
  tdb: TenantDb;
  actor: Caller;
}

const ACTOR_FIELDS = ["role", "adapter", "provider", "model", "skills", "system_prompt", "muted", "options"] as const;

export class RoomRoster {
  constructor(private readonly d: RosterDeps) {}

  /** POST /actors: appends one actor; version+1, `room:actor_added`. */
  add(ctx: Ctx, id: string, input: ActorInputLike, ifMatch: number | undefined): Room {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const [actor] = this.d.resolve([input]);
    const { tdb } = ctx;
    return this.d.events.transaction(tdb, (tx) => {
      const room = writable(tdb, id, ifMatch);
      const actors = room.actors as Actor[];
      if (actors.some((a) => a.agent_id === actor!.agent_id)) {
        throw new AppError("ACTOR_EXISTS", `this room already has an actor "${actor!.agent_id}"; pick another agent_id, or change it with PATCH /llm/room/${id}/actors/${actor!.agent_id}`);
      }
      if (actors.length >= MAX_ACTORS) {
        throw new AppError("VALIDATION_FAILED", `a room holds at most ${MAX_ACTORS} actors; remove one first with DELETE /llm/room/${id}/actors/{agent_id}`, {
          details: [{ path: "agent_id", message: "roster full" }],
        });
      }
      const updated = bump(tdb, tx, room, [...actors, actor!]);
      tx.emit(id, { event_type: "room:actor_added", payload: { actor: actor!, version: updated.version } });
      return roomDto(tdb.tenant, updated);
    });
  }

  /**
   * PATCH /actors/:agent_id: mute or unmute, model, options, system prompt.
   * A change that changes nothing is no write. Muting an actor that runs a
   * turn stops it (`agent:turn_end` interrupted, reason `muted`) and skips
   * its pending turns of the running prompt; other changes apply from its
   * next turn on.
   */
  async update(ctx: Ctx, id: string, agentId: string, patch: ActorPatch, ifMatch: number | undefined): Promise<Room> {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const result = this.d.events.transaction(tdb, (tx) => {
      const room = writable(tdb, id, ifMatch);
      const actors = room.actors as Actor[];
      const i = indexOf(actors, agentId, id);
      const current = actors[i]!;
      const [next] = this.d.resolve([{ ...current, ...stripUndefined(patch), agent_id: agentId }]);
      const changes = ACTOR_FIELDS.filter((f) => JSON.stringify(current[f]) !== JSON.stringify(next![f]));
      if (changes.length === 0) return { room, stop: null as string | null };
      const roster = actors.slice();
      roster[i] = next!;
      const updated = bump(tdb, tx, room, roster);
      tx.emit(id, { event_type: "room:actor_updated", payload: { agent_id: agentId, changes, actor: next!, version: updated.version } });
      const stop = !current.muted && next!.muted ? stopActorInTx(tdb, updated, agentId).turnId : null;
      return { room: updated, stop };
    });
    if (result.stop) await this.d.abortTurn(tdb.tenant, id, "muted", result.stop);
    return roomDto(tdb.tenant, result.stop ? roomOr404(tdb, id) : result.room);
  }

  /**
   * DELETE /actors/:agent_id: the actor leaves the roster (its messages and
   * events stay); version+1, `room:actor_removed`. Its running turn is
   * stopped (reason `removed`) and its pending turns skipped. The last
   * actor cannot be removed (409 LAST_ACTOR).
   */
  async remove(ctx: Ctx, id: string, agentId: string, ifMatch: number | undefined): Promise<Room> {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const stop = this.d.events.transaction(tdb, (tx) => {
      const room = writable(tdb, id, ifMatch);
      const actors = room.actors as Actor[];
      indexOf(actors, agentId, id);
      if (actors.length === 1) {
        throw new AppError("LAST_ACTOR", `"${agentId}" is the room's only actor; add another first (POST /llm/room/${id}/actors) or mute it (PATCH /llm/room/${id}/actors/${agentId})`);
      }
      const updated = bump(tdb, tx, room, actors.filter((a) => a.agent_id !== agentId));
      tx.emit(id, { event_type: "room:actor_removed", payload: { agent_id: agentId, version: updated.version } });
      return stopActorInTx(tdb, updated, agentId).turnId;
    });
    if (stop) await this.d.abortTurn(tdb.tenant, id, "removed", stop);
    return roomDto(tdb.tenant, roomOr404(tdb, id));
  }

  /**
   * POST /actors/:agent_id/interrupt: stops that actor's running turn
   * (reason `actor_interrupt`) and drops its pending turns of the running
   * prompt; the next actor's turn, if any, then runs. 409 NO_ACTIVE_TURN
   * when the actor has neither. No version change: the roster is the same.
   */
  async interrupt(ctx: Ctx, id: string, agentId: string, ifMatch: number | undefined): Promise<Room> {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    const stop = this.d.events.transaction(tdb, () => {
      const room = writable(tdb, id, ifMatch);
      indexOf(room.actors as Actor[], agentId, id);
      const { turnId, pending } = stopActorInTx(tdb, room, agentId);
      if (!turnId && !pending) {
        throw new AppError("NO_ACTIVE_TURN", `actor "${agentId}" has no running or pending turn in this room; nothing to interrupt`);
      }
      return turnId;
    });
    if (stop) await this.d.abortTurn(tdb.tenant, id, "actor_interrupt", stop);
    return roomDto(tdb.tenant, roomOr404(tdb, id));
  }
}

/**
 * Interrupt with scope `all`, inside the interrupt's transaction: the
 * queued message is cancelled (`message:cancelled`, reason `interrupted`)
 * and the running prompt's remaining turns will not begin (its
 * `message:cancelled` follows its running turn's end). The caller then
 * aborts the running turn.
 */
export function stopAllInTx(t: TenantDb, tx: EventTx, room: RoomRow): void {
  if (room.queuedMessageId) {
    const queued = findMessage(t, room.id, room.queuedMessageId);
    updateRoom(t, room.id, { queuedMessageId: null, updatedAt: tx.nowIso });
    if (queued && queued.status === "queued") {
      const seq = sequenceOf(queued.sequence);
      updateMessage(t, queued.id, seq ? { status: "cancelled", sequence: { ...seq, cancelled: true } } : { status: "cancelled" });
      tx.emit(room.id, { event_type: "message:cancelled", payload: { message_id: queued.id, reason: "interrupted", turns_run: 0 } });
    }
  }
  const active = room.activeTurn as { message_id?: string } | null;
  const running = active?.message_id ? findMessage(t, room.id, active.message_id) : undefined;
  const seq = sequenceOf(running?.sequence);
  if (running && seq && !seq.cancelled) updateMessage(t, running.id, { sequence: { ...seq, cancelled: true } });
}

/**
 * Marks `agentId` skipped in the running prompt's sequence. Returns the
 * turn to abort (the running one, if it is that actor's) and whether the
 * actor had pending turns left in that prompt.
 */
function stopActorInTx(t: TenantDb, room: RoomRow, agentId: string): { turnId: string | null; pending: boolean } {
  const active = room.activeTurn as { id: string; message_id: string; agent_id: string } | null;
  if (!active) return { turnId: null, pending: false };
  const message = findMessage(t, room.id, active.message_id);
  const seq = sequenceOf(message?.sequence);
  let pending = false;
  if (message && seq && !seq.cancelled && !seq.skip.includes(agentId)) {
    for (let i = seq.step + 1; i < totalSteps(seq); i++) if (seq.actors[i % seq.actors.length] === agentId) pending = true;
    updateMessage(t, message.id, { sequence: { ...seq, skip: [...seq.skip, agentId] } });
  }
  return { turnId: active.agent_id === agentId ? active.id : null, pending };
}

/** The room, if a roster write may change it now: it exists, is not released, and is at the version the caller expects. */
function writable(t: TenantDb, id: string, ifMatch: number | undefined): RoomRow {
  const room = roomOr404(t, id);
  assertNotReleased(room);
  checkVersion(room, ifMatch);
  return room;
}

function indexOf(actors: readonly Actor[], agentId: string, roomId: string): number {
  const i = actors.findIndex((a) => a.agent_id === agentId);
  if (i < 0) {
    throw new AppError("ACTOR_NOT_FOUND", `no actor "${agentId}" in this room; its actors are ${actors.map((a) => a.agent_id).join(", ")} (GET /llm/room/${roomId})`);
  }
  return i;
}

/** Writes the new roster with version+1, only if the room is still at the version read. */
function bump(t: TenantDb, tx: EventTx, room: RoomRow, actors: Actor[]): RoomRow {
  const updated = updateRoom(t, room.id, { actors, version: room.version + 1, updatedAt: tx.nowIso }, room.version);
  if (!updated) throw new AppError("VERSION_CONFLICT", "the room changed while its roster was being written; GET it and retry", { details: { current_version: findRoom(t, room.id)?.version ?? null } });
  return updated;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
