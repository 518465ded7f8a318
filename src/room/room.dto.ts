/** Rows to the contract's records. The only place that knows both shapes. */
import type { MessageRow, RoomRow } from "./room.store.js";
import type { z } from "@hono/zod-openapi";
import { exceededLimit, type Budget } from "./room.budget.js";
import type { Actor, DonePolicy, Message, Room, ToolPolicy, Usage, WakePolicy } from "./room.schemas.js";

export const ZERO_USAGE: Usage = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };

export function roomDto(tenant: string, r: RoomRow): Room {
  return {
    id: r.id,
    tenant,
    status: r.status as Room["status"],
    // Always a string: clients (the Abbotik TUI) parse it as one, and a room rented without one has none.
    purpose: r.purpose ?? "",
    metadata: r.metadata,
    actors: r.actors as Actor[],
    tool_policy: r.toolPolicy as ToolPolicy,
    wake_policy: r.wakePolicy as WakePolicy,
    done_policy: r.donePolicy as DonePolicy,
    version: r.version,
    rented_at: r.rentedAt,
    updated_at: r.updatedAt,
    last_active_at: r.lastActiveAt,
    released_at: r.releasedAt,
    last_error: (r.lastError as Room["last_error"]) ?? null,
    queued_message_id: r.queuedMessageId,
    active_turn: (r.activeTurn as Room["active_turn"]) ?? null,
    usage: (r.usage as Usage) ?? ZERO_USAGE,
    summary_text: r.summaryText,
    summary_updated_at: r.summaryUpdatedAt ?? null,
    summary_every_turns: r.summaryEveryTurns ?? null,
    budget: (r.budget as Budget | null) ?? null,
    budget_exceeded: exceededLimit(r.budget as Budget | null, (r.usage as Usage) ?? ZERO_USAGE),
  };
}

export type MessageRecord = z.infer<typeof Message>;

export function messageDto(m: MessageRow): MessageRecord {
  return {
    id: m.id,
    room_id: m.roomId,
    seq: m.seq,
    kind: m.kind as MessageRecord["kind"],
    author_kind: m.authorKind as MessageRecord["author_kind"],
    author_id: m.authorId,
    actor_key: m.actorKey,
    content: m.content,
    metadata: m.metadata,
    status: m.status as MessageRecord["status"],
    turn_id: m.turnId,
    created_at: m.createdAt,
  };
}
