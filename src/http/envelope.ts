/** The contract's success envelope and the zod schemas that document it. */
import { z } from "@hono/zod-openapi";
import { ERROR_CODES } from "../errors.js";

export function ok<T>(data: T) {
  return { success: true as const, data };
}

export function okList<T>(data: T[], meta: { next_cursor: string | null }) {
  return { success: true as const, data, meta };
}

export function envelopeSchema<T extends z.ZodType>(data: T, name?: string) {
  const schema = z.object({ success: z.literal(true), data });
  return name ? schema.openapi(name) : schema;
}

export function listEnvelopeSchema<T extends z.ZodType>(item: T, name?: string) {
  const schema = z.object({
    success: z.literal(true),
    data: z.array(item),
    meta: z.object({ next_cursor: z.string().nullable().openapi({ description: "Pass as `cursor` to get the next page; null on the last page." }) }),
  });
  return name ? schema.openapi(name) : schema;
}

export const ErrorSchema = z
  .object({
    success: z.literal(false),
    error: z.string().openapi({ description: "Same as `message` (kept for older clients)." }),
    code: z.enum(ERROR_CODES).openapi({ description: "Stable machine-readable code." }),
    message: z.string().openapi({ description: "What went wrong and what to do next." }),
    details: z.unknown().optional().openapi({ description: "For VALIDATION_FAILED: every issue with its path." }),
  })
  .openapi("Error", { example: { success: false, error: "room not found", code: "ROOM_NOT_FOUND", message: "room not found" } });
