/**
 * The error table: the only place that knows which HTTP status a code means,
 * and the one error handler that turns anything thrown into the contract's
 * envelope without leaking stacks or SQL.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError, type ErrorCode } from "../errors.js";
import { AuthError } from "../auth/tokens.js";
import { classifyStorageError } from "../storage/storage-health.js";
import { REALM } from "./constants.js";

export const STATUS_BY_CODE: Record<ErrorCode, ContentfulStatusCode> = {
  VALIDATION_FAILED: 400,
  UNKNOWN_MODEL: 400,
  UNKNOWN_TOOL: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ROOM_NOT_FOUND: 404,
  MESSAGE_NOT_FOUND: 404,
  ACTOR_NOT_FOUND: 404,
  CONTEXT_NOT_FOUND: 404,
  RUN_NOT_FOUND: 404,
  STAGE_NOT_FOUND: 404,
  ISSUE_NOT_FOUND: 404,
  METRICS_DISABLED: 404,
  METHOD_NOT_ALLOWED: 405,
  ROOM_RELEASED: 409,
  ROOM_FAILED: 409,
  ROOM_QUEUE_FULL: 409,
  ROOM_BUDGET_EXCEEDED: 409,
  SUMMARY_IN_PROGRESS: 409,
  NO_ACTIVE_TURN: 409,
  VERSION_CONFLICT: 409,
  ACTOR_EXISTS: 409,
  LAST_ACTOR: 409,
  CONTEXT_FULL: 409,
  RUN_FINISHED: 409,
  RUN_STATE_CONFLICT: 409,
  DEPENDENCIES_NOT_PASSED: 409,
  ISSUE_BUSY: 409,
  ISSUE_LIMIT_REACHED: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  SOURCE_TOO_LARGE: 413,
  ARTIFACT_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  ACTIVE_RUN_LIMIT: 429,
  INTERNAL: 500,
  SUMMARY_FAILED: 502,
  GLOBAL_STOP_ACTIVE: 503,
  SHUTTING_DOWN: 503,
  STORAGE_BUSY: 503,
  STORAGE_FULL: 503,
  TENANT_DATA_DAMAGED: 503,
};

export interface ErrorBody {
  success: false;
  error: string;
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return details === undefined
    ? { success: false, error: message, code, message }
    : { success: false, error: message, code, message, details };
}

/** Writes an AppError as the envelope, with Retry-After and WWW-Authenticate where the code calls for them. */
export function errorResponse(c: Context, err: AppError): Response {
  const status = STATUS_BY_CODE[err.code];
  if (err.options.retryAfterS !== undefined) c.header("Retry-After", String(Math.max(1, Math.ceil(err.options.retryAfterS))));
  for (const [k, v] of Object.entries(err.options.headers ?? {})) c.header(k, v);
  if (err.code === "AUTH_REQUIRED") c.header("WWW-Authenticate", `Bearer realm="${REALM}"`);
  if (err.code === "AUTH_INVALID") {
    c.header("WWW-Authenticate", `Bearer realm="${REALM}", error="invalid_token", error_description="${err.message.replace(/["\\]/g, "")}"`);
  }
  if (err.code === "FORBIDDEN") c.header("WWW-Authenticate", `Bearer realm="${REALM}", error="insufficient_scope"`);
  return c.json(errorBody(err.code, err.message, err.options.details), status);
}

/** Seconds a caller is told to wait after a full disk: long enough for an operator to notice, short enough to recover by itself. */
const STORAGE_FULL_RETRY_S = 30;
const TENANT_DAMAGED_RETRY_S = 300;

function storageFullError(): AppError {
  return new AppError("STORAGE_FULL", "the server's storage is full; nothing of this request was stored. Retry after Retry-After", {
    retryAfterS: STORAGE_FULL_RETRY_S,
  });
}

function tenantDamagedError(): AppError {
  return new AppError(
    "TENANT_DATA_DAMAGED",
    "this tenant's data file is missing or damaged, so the server will not serve it (other tenants are unaffected); the operator has been alerted and must restore it",
    { retryAfterS: TENANT_DAMAGED_RETRY_S },
  );
}

/** Maps anything thrown to an AppError; unknown errors become INTERNAL (the caller logs them). */
export function toAppError(err: unknown): { appError: AppError; unexpected: boolean } {
  if (err instanceof AppError) return { appError: err, unexpected: false };
  if (err instanceof AuthError) return { appError: new AppError(err.code, err.message), unexpected: false };
  const fault = classifyStorageError(err);
  if (fault === "busy") return { appError: new AppError("STORAGE_BUSY", "storage is busy; retry shortly", { retryAfterS: 1 }), unexpected: false };
  if (fault === "full") return { appError: storageFullError(), unexpected: false };
  if (fault === "damaged") return { appError: tenantDamagedError(), unexpected: false };
  if (err instanceof HTTPException) {
    if (err.status === 413) return { appError: new AppError("PAYLOAD_TOO_LARGE", "request body is too large", { headers: { Connection: "close" } }), unexpected: false };
    if (err.status === 415) {
      return { appError: new AppError("UNSUPPORTED_MEDIA_TYPE", "send the body as JSON with Content-Type: application/json"), unexpected: false };
    }
    if (err.status === 400) {
      return { appError: new AppError("VALIDATION_FAILED", "request body is not valid JSON; send a JSON object"), unexpected: false };
    }
  }
  return { appError: new AppError("INTERNAL", "internal error; retry later, and report the request id if it persists"), unexpected: true };
}
