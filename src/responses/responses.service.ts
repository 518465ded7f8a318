/**
 * POST /v1/responses as room verbs: with `room_id` the prompt is posted to
 * that room; without, a room is rented and the prompt posted in the same
 * transaction. Access, errors and Idempotency-Key are the room verbs' own:
 * this service only shapes the answer (which is also what an
 * Idempotency-Key stores with the effect, so a replay is the same answer).
 */
import type { MessageRecord } from "../room/room.dto.js";
import type { RoomCtx, RoomService } from "../room/room.service.js";
import type { ResponseCreated, ResponsesBody } from "./responses.schemas.js";

export class ResponsesService {
  constructor(private readonly rooms: RoomService) {}

  create(ctx: RoomCtx, body: ResponsesBody): { created: ResponseCreated } {
    const prompt = { kind: "task" as const, content: body.input, metadata: body.metadata };
    const answer = (roomId: string, roomCreated: boolean) => (m: MessageRecord): ResponseCreated => ({
      room_id: roomId,
      room_created: roomCreated,
      request_message_id: m.id,
      status: m.status,
      result_url: `/llm/room/${roomId}/messages/${m.id}?wait=30`,
    });
    if (body.room_id !== undefined) {
      return { created: this.rooms.postMessageAs(ctx, body.room_id, prompt, undefined, answer(body.room_id, false)).answer };
    }
    const actor = {
      agent_id: "assistant",
      ...(body.provider !== undefined ? { provider: body.provider } : {}),
      ...(body.model !== undefined ? { model: body.model } : {}),
      ...(body.adapter !== undefined ? { adapter: body.adapter } : {}),
    };
    const room = { agents: [actor], ...(body.purpose !== undefined ? { purpose: body.purpose } : {}), ...(body.metadata !== undefined ? { metadata: body.metadata } : {}) };
    return { created: this.rooms.rentAndPost(ctx, room, prompt, (r, m) => answer(r.id, true)(m)) };
  }
}
