/**
 * What the factory needs from rooms, behind one small port so the room
 * service's signature (and, next, its actor parameter) touches this file
 * only. The supervisor acts as the system actor: rooms it rents carry the
 * run's id and the issue's id in their metadata, and `system:factory run
 * <run id>` as their creator and task author.
 */
import { systemActor } from "../auth/actor.js";
import type { EventBus } from "../events/event.bus.js";
import type { EventTx } from "../events/event.log.js";
import { ROOM_STREAM, type RoomEvent } from "../events/event.types.js";
import type { TurnPlan } from "../room/room.lifecycle.js";
import type { RoomService } from "../room/room.service.js";
import type { Actor, Usage } from "../room/room.schemas.js";
import { findMessage, findRoom, findTurn, findTurnReply } from "../room/room.store.js";
import type { TenantDb } from "../storage/tenant-db.js";

export interface DispatchRequest {
  runId: string;
  issueId: string;
  purpose: string;
  actors: Actor[];
  content: string;
  agent?: string | undefined;
}

/** How the turn of a dispatched task stands. */
export type TurnState =
  | { state: "running" }
  | { state: "ended"; status: "completed" | "failed" | "interrupted" | "cancelled"; error: { code: string; message: string } | null; output: string; usage: Usage }
  | { state: "missing" };

export interface RoomPort {
  /** Rents a room and stores its task message (its turn begun) inside the caller's transaction. */
  dispatchInTx(tdb: TenantDb, tx: EventTx, req: DispatchRequest): { roomId: string; messageId: string; plan: TurnPlan };
  /** Hands the begun turn to a worker; after commit. */
  startTurn(plan: TurnPlan): void;
  /** Reads the turn of the task message (durable state only). */
  turnOf(tdb: TenantDb, roomId: string, messageId: string): TurnState;
  /** Calls `onEnd` when a turn of the room ends (after its end is durable). Returns unsubscribe. */
  onTurnEnd(tenant: string, roomId: string, onEnd: () => void): () => void;
  /** Releases the room inside the caller's transaction if no worker runs in it; false (nothing changed) otherwise. */
  releaseIdleInTx(tdb: TenantDb, tx: EventTx, roomId: string, reason: string): boolean;
  /** Aborts any running turn and releases the room; idempotent, resolves once it is released. */
  release(tdb: TenantDb, roomId: string, reason: string): Promise<void>;
  isReleased(tdb: TenantDb, roomId: string): boolean;
}

const ZERO: Usage = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };

export class RoomServicePort implements RoomPort {
  constructor(
    private readonly rooms: RoomService,
    private readonly bus: EventBus,
  ) {}

  dispatchInTx(tdb: TenantDb, tx: EventTx, req: DispatchRequest) {
    const ctx = { tdb, actor: systemActor(`factory run ${req.runId}`) };
    const room = this.rooms.rentInTx(
      ctx,
      tx,
      {
        purpose: req.purpose.slice(0, 2000),
        metadata: { run_id: req.runId, issue_id: req.issueId, source: "factory" },
        agents: req.actors.map((a) => ({
          agent_id: a.agent_id,
          role: a.role,
          adapter: a.adapter,
          provider: a.provider,
          model: a.model,
          skills: a.skills,
          system_prompt: a.system_prompt,
          muted: a.muted,
          options: a.options,
        })),
        // The factory releases the room itself when the issue ends; the room must not fall asleep or go away first.
        wake_policy: { mode: "on_message", idle_timeout_s: 30 * 86_400, release_after_s: 365 * 86_400 },
      },
    );
    const { message, plan } = this.rooms.postTaskInTx(ctx, tx, room.id, { content: req.content, metadata: { source: "factory", run_id: req.runId, issue_id: req.issueId }, actor: req.agent });
    return { roomId: room.id, messageId: message.id, plan };
  }

  startTurn(plan: TurnPlan): void {
    this.rooms.startTurn(plan);
  }

  turnOf(tdb: TenantDb, roomId: string, messageId: string): TurnState {
    const message = findMessage(tdb, roomId, messageId);
    if (!message) return { state: "missing" };
    if (message.status === "queued" || message.status === "running") {
      // A queued or running task whose room was released (cancel, operator) will never run.
      const room = findRoom(tdb, roomId);
      if (room && (room.status === "released" || room.status === "releasing") && message.status === "queued") {
        return { state: "ended", status: "cancelled", error: { code: "ROOM_RELEASED", message: "the room was released before the task ran" }, output: "", usage: ZERO };
      }
      return { state: "running" };
    }
    const turn = message.turnId ? findTurn(tdb, message.turnId) : undefined;
    if (!turn) {
      return { state: "ended", status: "cancelled", error: { code: "ROOM_RELEASED", message: "the task was cancelled before its turn started" }, output: "", usage: ZERO };
    }
    if (turn.status === "running") return { state: "running" };
    // Only a whole answer (`output`) is the issue's result; an interrupted or failed turn's `partial` text is not.
    const reply = findTurnReply(tdb, roomId, message.seq, turn.id);
    const out = reply?.kind === "output" ? reply : undefined;
    const error = (turn.error as { code?: string; message?: string } | null) ?? null;
    return {
      state: "ended",
      status: turn.status as "completed" | "failed" | "interrupted" | "cancelled",
      error: error ? { code: String(error.code ?? "PROVIDER_ERROR"), message: String(error.message ?? "the turn failed") } : null,
      output: out?.content ?? "",
      usage: (turn.usage as Usage | null) ?? ZERO,
    };
  }

  onTurnEnd(tenant: string, roomId: string, onEnd: () => void): () => void {
    return this.bus.subscribe<RoomEvent>(tenant, ROOM_STREAM, roomId, (ev) => {
      if (ev.event_type === "agent:turn_end" || ev.event_type === "room:released") onEnd();
    });
  }

  releaseIdleInTx(tdb: TenantDb, tx: EventTx, roomId: string, reason: string): boolean {
    return this.rooms.releaseIdleInTx({ tdb, actor: systemActor(reason) }, tx, roomId, reason);
  }

  async release(tdb: TenantDb, roomId: string, reason: string): Promise<void> {
    await this.rooms.release({ tdb, actor: systemActor(reason) }, roomId, reason);
  }

  isReleased(tdb: TenantDb, roomId: string): boolean {
    const room = findRoom(tdb, roomId);
    return !room || room.status === "released";
  }
}
