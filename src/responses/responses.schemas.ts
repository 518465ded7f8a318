/**
 * Wire schemas of POST /v1/responses, the room-backed ingress of the Abbotik
 * TUI: one prompt in, the room and message it became out. The body is what
 * the TUI sends (it always sends provider/model/adapter, also for an
 * existing room, where they are ignored).
 */
import { z } from "@hono/zod-openapi";
import { freeformObject, MESSAGE_STATUSES } from "../room/room.schemas.js";

const ROOM_ID = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";
const MESSAGE_ID = "7a2e4c6b-8d0f-4a1c-b3e5-d7f9a1c3e5b7";

export const ResponsesBody = z
  .strictObject({
    input: z.string().min(1).max(100_000).openapi({ description: "The prompt; posted to the room as a message of kind `task`." }),
    room_id: z.string().max(64).optional().openapi({ description: "Post to this room (access `edit`). Without it a new room is rented (access `full`)." }),
    purpose: z.string().max(2000).optional().openapi({ description: "The new room's purpose; ignored with `room_id`." }),
    provider: z.string().min(1).max(64).optional().openapi({ description: "The new room's model provider (default `local`); ignored with `room_id`." }),
    model: z.string().min(1).max(200).optional().openapi({ description: "The new room's model (default `echo`); ignored with `room_id`." }),
    adapter: z.string().min(1).max(64).optional().openapi({ description: "Free-text label of the client-side adapter (default `pi`); ignored with `room_id`." }),
    metadata: freeformObject("metadata").optional().openapi({ description: "Stored on the message (and, for a new room, on the room too)." }),
  })
  .openapi("ResponsesBody", {
    example: { input: "Calculate 42 * 19", purpose: "math scratch", provider: "local", model: "echo", adapter: "pi", metadata: { source: "abbot-tui" } },
  });
export type ResponsesBody = z.infer<typeof ResponsesBody>;

export const RESPONSE_CREATED_EXAMPLE = {
  room_id: ROOM_ID,
  room_created: true,
  request_message_id: MESSAGE_ID,
  status: "running" as const,
  result_url: `/llm/room/${ROOM_ID}/messages/${MESSAGE_ID}?wait=30`,
};

export const ResponseCreated = z
  .object({
    room_id: z.string().openapi({ description: "The room the prompt went to." }),
    room_created: z.boolean().openapi({ description: "True when this request rented the room." }),
    request_message_id: z.string().openapi({ description: "The stored prompt message." }),
    status: z.enum(MESSAGE_STATUSES).openapi({ description: "The message's status: `running` if its turn started, `queued` if it waits behind one." }),
    result_url: z.string().openapi({ description: "Long-poll here for the answer: it returns once the turn has ended (or after `wait` seconds) with the agent's output." }),
  })
  .openapi("ResponseCreated", { example: RESPONSE_CREATED_EXAMPLE });
export type ResponseCreated = z.infer<typeof ResponseCreated>;
