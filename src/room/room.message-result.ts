/**
 * What became of one message, read from its rows: whether its work has
 * ended, the turn that ran it, the agent's answer, or why there is none.
 * GET /llm/room/:id/messages/:message_id answers this (at once, or when a
 * long poll wakes). Reads only; call it outside or inside a transaction.
 */
import type { TenantDb } from "../storage/tenant-db.js";
import { messageDto, type MessageRecord } from "./room.dto.js";
import type { MessageResult, TurnRecord } from "./room.schemas.js";
import { findTurn, findTurnReply, type MessageRow } from "./room.store.js";

/** Events after which a waiting message may have ended: a turn's end, a release, a failure. */
export const MESSAGE_END_EVENTS: ReadonlySet<string> = new Set(["agent:turn_end", "room:releasing", "room:released", "error"]);

export function messageResult(t: TenantDb, roomId: string, row: MessageRow): MessageResult {
  const message: MessageRecord = messageDto(row);
  const base = { message, turn: null, output: null, partial: null };
  if (row.authorKind !== "user") return { ...base, done: true, reason: `a message of kind ${row.kind} by the ${row.authorKind} is not a prompt: no turn answers it` };
  if (row.kind === "note") return { ...base, done: true, reason: "a note is stored without a turn" };
  if (row.status === "queued") {
    return { ...base, done: false, reason: "queued: it runs when the room's current turn ends (with wake_policy manual, on POST /llm/room/{id}/wake)" };
  }
  const turnRow = row.turnId ? findTurn(t, row.turnId) : undefined;
  const turn: TurnRecord | null = turnRow
    ? {
        id: turnRow.id,
        agent_id: turnRow.agentId,
        status: turnRow.status as TurnRecord["status"],
        started_at: turnRow.startedAt,
        ended_at: turnRow.endedAt,
        error: (turnRow.error as TurnRecord["error"]) ?? null,
      }
    : null;
  if (row.status === "running") return { ...base, turn, done: false, reason: "running: its turn has not ended yet" };
  const reply = turnRow ? findTurnReply(t, roomId, row.seq, turnRow.id) : undefined;
  const output = reply && reply.kind === "output" ? messageDto(reply) : null;
  const partial = reply && reply.kind === "partial" ? messageDto(reply) : null;
  return { message, turn, output, partial, done: true, reason: output ? null : whyNoOutput(row, turn) };
}

function whyNoOutput(row: MessageRow, turn: TurnRecord | null): string {
  if (!turn) return "cancelled before its turn ran: the room was released, or an interrupt dropped the queued message";
  switch (turn.status) {
    case "completed":
      return "the turn completed without text";
    case "interrupted":
      return "the turn was interrupted; `partial` holds what it had written";
    case "cancelled":
      return "the turn was cancelled: the room was released";
    case "failed":
      return `the turn failed${turn.error ? `: ${turn.error.code}: ${turn.error.message}` : ""}`;
    default:
      return `the message is ${row.status}`;
  }
}
