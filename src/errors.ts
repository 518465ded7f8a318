/**
 * The one error taxonomy. Domain code throws `AppError` with a stable code;
 * `http/errors.ts` alone maps codes to HTTP statuses. Messages are written for
 * the caller: they say what went wrong and what to do next, never internals.
 */
export const ERROR_CODES = [
  "VALIDATION_FAILED",
  "UNKNOWN_MODEL",
  "UNKNOWN_TOOL",
  "AUTH_REQUIRED",
  "AUTH_INVALID",
  "FORBIDDEN",
  "NOT_FOUND",
  "ROOM_NOT_FOUND",
  "MESSAGE_NOT_FOUND",
  "ACTOR_NOT_FOUND",
  "CONTEXT_NOT_FOUND",
  "RUN_NOT_FOUND",
  "STAGE_NOT_FOUND",
  "ISSUE_NOT_FOUND",
  "METHOD_NOT_ALLOWED",
  "ROOM_RELEASED",
  "ROOM_FAILED",
  "ROOM_QUEUE_FULL",
  "ROOM_BUDGET_EXCEEDED",
  "SUMMARY_IN_PROGRESS",
  "SUMMARY_FAILED",
  "NO_ACTIVE_TURN",
  "VERSION_CONFLICT",
  "ACTOR_EXISTS",
  "LAST_ACTOR",
  "CONTEXT_FULL",
  "RUN_FINISHED",
  "RUN_STATE_CONFLICT",
  "DEPENDENCIES_NOT_PASSED",
  "ISSUE_BUSY",
  "ISSUE_LIMIT_REACHED",
  "IDEMPOTENCY_IN_PROGRESS",
  "REQUEST_TIMEOUT",
  "PAYLOAD_TOO_LARGE",
  "SOURCE_TOO_LARGE",
  "ARTIFACT_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "IDEMPOTENCY_KEY_REUSED",
  "RATE_LIMITED",
  "QUOTA_EXCEEDED",
  "ACTIVE_RUN_LIMIT",
  "INTERNAL",
  "GLOBAL_STOP_ACTIVE",
  "SHUTTING_DOWN",
  "STORAGE_BUSY",
  "STORAGE_FULL",
  "TENANT_DATA_DAMAGED",
  "METRICS_DISABLED",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  override name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: { details?: unknown; retryAfterS?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }
}
