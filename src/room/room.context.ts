/**
 * What an actor's turn sees, and the shared context attached to a room.
 *
 * Every actor has its own context: the room's transcript with its own
 * answers as the assistant's and every other actor's answers as attributed
 * user turns (`[agent_id]: text`), its own system prompt, model and options,
 * and the texts attached to the room (POST /context), read when the turn
 * starts. A later turn of a prompt answered by several turns sees the
 * answers given since the prompt; its prompt is the newest of them.
 */
import { randomUUID } from "node:crypto";
import { AppError } from "../errors.js";
import { actorId, authorize, type Actor as Caller } from "../auth/actor.js";
import type { EventLog } from "../events/event.log.js";
import type { TenantDb } from "../storage/tenant-db.js";
import { contextOfRoom, contextSize, deleteContext, findContext, insertContext, listContext } from "./room.context.store.js";
import { assertNotReleased, roomOr404, UUID_RE } from "./room.guards.js";
import type { TurnPlan } from "./room.lifecycle.js";
import type { Actor } from "./room.schemas.js";
import { conversationBefore } from "./room.store.js";

/** Bounds of the shared context: per text, texts per room, characters per room. */
export const CONTEXT_LIMITS = { maxChars: 100_000, maxPerRoom: 8, maxRoomChars: 200_000 } as const;

export interface ContextAttachment {
  id: string;
  room_id: string;
  name: string;
  chars: number;
  created_at: string;
}

/** One model request's inputs: the actor (system prompt with the shared context), the transcript, the prompt. */
export interface TurnInput {
  actor: Actor;
  history: Array<{ role: "user" | "assistant"; text: string }>;
  prompt: string;
}

/** The inputs of a turn's model request, read when it starts (see the file comment). */
export function turnInput(t: TenantDb, plan: TurnPlan, historyLimit: number): TurnInput {
  const own = plan.actor.agent_id;
  const later = plan.turnsBefore > 0;
  const rows = conversationBefore(t, plan.roomId, later ? Number.MAX_SAFE_INTEGER : plan.messageSeq, historyLimit);
  const history: TurnInput["history"] = rows.map((m) =>
    m.authorKind !== "agent" ? { role: "user", text: m.content } : m.authorId === own ? { role: "assistant", text: m.content } : { role: "user", text: `[${m.authorId}]: ${m.content}` },
  );
  let prompt = plan.prompt;
  if (later) {
    const last = history[history.length - 1];
    if (last && last.role === "user") {
      history.pop();
      prompt = last.text;
    } else {
      prompt = `[room]: ${own}, your turn again: continue from your last answer.`;
    }
  }
  const attached = contextOfRoom(t, plan.roomId);
  if (attached.length === 0) return { actor: plan.actor, history, prompt };
  const shared = attached.map((a) => `## ${a.name}\n\n${a.content}`).join("\n\n");
  const system = `${plan.actor.system_prompt ? `${plan.actor.system_prompt}\n\n` : ""}# Shared context of this room\n\n${shared}`;
  return { actor: { ...plan.actor, system_prompt: system }, history, prompt };
}

/** POST and DELETE /llm/room/:id/context. */
export class RoomContext {
  constructor(private readonly events: EventLog) {}

  /** Attaches a named text; durable with `room:context_attached`. Bounded per text and per room (409 CONTEXT_FULL). */
  attach(ctx: { tdb: TenantDb; actor: Caller }, id: string, input: { name: string; content: string }): ContextAttachment {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    if (input.content.length > CONTEXT_LIMITS.maxChars) {
      throw new AppError("VALIDATION_FAILED", `content is longer than ${CONTEXT_LIMITS.maxChars} characters; attach it in parts`, { details: [{ path: "content", message: "too long" }] });
    }
    return this.events.transaction(tdb, (tx) => {
      const room = roomOr404(tdb, id);
      assertNotReleased(room);
      const size = contextSize(tdb, id);
      if (size.n >= CONTEXT_LIMITS.maxPerRoom) {
        throw new AppError("CONTEXT_FULL", `this room already has ${CONTEXT_LIMITS.maxPerRoom} context attachments; detach one with DELETE /llm/room/${id}/context/{attachment_id}`);
      }
      if (size.chars + input.content.length > CONTEXT_LIMITS.maxRoomChars) {
        throw new AppError("CONTEXT_FULL", `the room's context would exceed ${CONTEXT_LIMITS.maxRoomChars} characters (it holds ${size.chars}); detach one with DELETE /llm/room/${id}/context/{attachment_id}`);
      }
      const row = { id: randomUUID(), roomId: id, name: input.name, content: input.content, createdBy: actorId(ctx.actor), createdAt: tx.nowIso };
      insertContext(tdb, row);
      tx.emit(id, { event_type: "room:context_attached", payload: { attachment_id: row.id, name: row.name, chars: row.content.length } });
      return { id: row.id, room_id: id, name: row.name, chars: row.content.length, created_at: row.createdAt };
    });
  }

  /** GET /context: the attached texts (without their content), oldest first. */
  list(ctx: { tdb: TenantDb; actor: Caller }, id: string): ContextAttachment[] {
    authorize(ctx.actor, ctx.tdb.tenant, "read");
    roomOr404(ctx.tdb, id);
    return listContext(ctx.tdb, id).map((r) => ({ id: r.id, room_id: id, name: r.name, chars: r.chars, created_at: r.createdAt }));
  }

  /** Detaches a text: turns that start from now on do not see it; durable with `room:context_detached`. */
  detach(ctx: { tdb: TenantDb; actor: Caller }, id: string, attachmentId: string): ContextAttachment {
    authorize(ctx.actor, ctx.tdb.tenant, "edit");
    const { tdb } = ctx;
    return this.events.transaction(tdb, (tx) => {
      const room = roomOr404(tdb, id);
      assertNotReleased(room);
      const row = UUID_RE.test(attachmentId) ? findContext(tdb, id, attachmentId) : undefined;
      if (!row) throw new AppError("CONTEXT_NOT_FOUND", "no such context attachment in this room; POST /llm/room/{id}/context answered its id");
      deleteContext(tdb, row.id);
      tx.emit(id, { event_type: "room:context_detached", payload: { attachment_id: row.id, name: row.name } });
      return { id: row.id, room_id: id, name: row.name, chars: row.content.length, created_at: row.createdAt };
    });
  }
}
