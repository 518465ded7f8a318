/** Small builders so every route documents its errors the same way. */
import { ErrorSchema } from "./envelope.js";
import type { ErrorCode } from "../errors.js";

const DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request (VALIDATION_FAILED, UNKNOWN_MODEL, UNKNOWN_TOOL); `details` lists each issue with its path.",
  401: "Missing, malformed, expired or wrongly signed token (AUTH_REQUIRED, AUTH_INVALID). See WWW-Authenticate.",
  403: "The token's access level does not allow this verb (FORBIDDEN).",
  404: "No such room for this tenant (ROOM_NOT_FOUND); another tenant's room is 404 too.",
  409: "The room's state forbids the verb.",
  408: "The body did not arrive in time (REQUEST_TIMEOUT); the connection is closed.",
  413: "Body over the size limit (PAYLOAD_TOO_LARGE).",
  415: "Body is not JSON (UNSUPPORTED_MEDIA_TYPE).",
  422: "Same Idempotency-Key, different request (IDEMPOTENCY_KEY_REUSED).",
  429: "Rate limit or quota hit (RATE_LIMITED, QUOTA_EXCEEDED); wait Retry-After seconds.",
  500: "Unexpected error (INTERNAL); logged with the request id.",
  502: "The model behind the request failed (SUMMARY_FAILED); nothing was changed.",
  503: "Operator stop, shutdown, or storage that is busy, full or damaged for this tenant (GLOBAL_STOP_ACTIVE, SHUTTING_DOWN, STORAGE_BUSY, STORAGE_FULL, TENANT_DATA_DAMAGED); retry after Retry-After.",
};

/**
 * Error responses for a route: the common ones plus `extra` statuses, each
 * with the codes it may carry. Every authenticated route can meet damaged or
 * full storage (503); a route with a body (413) can also time out reading it (408).
 */
export function errorResponses(statuses: number[], codes: Partial<Record<number, ErrorCode[]>> = {}) {
  const all = [...new Set([401, 429, 500, 503, ...statuses, ...(statuses.includes(413) ? [408] : [])])].sort();
  return Object.fromEntries(
    all.map((s) => [
      s,
      {
        description: codes[s] ? `${DESCRIPTIONS[s] ?? "Error."} Codes: ${codes[s]!.join(", ")}.` : (DESCRIPTIONS[s] ?? "Error."),
        content: { "application/json": { schema: ErrorSchema } },
      },
    ]),
  );
}

export const bearerSecurity = [{ bearerAuth: [] as string[] }];
