/**
 * The event types of a factory run. Their catalogue (when each is written,
 * payload schema, example) is in src/docs/docs.factory.ts. `run:finished` is
 * the terminal event: the SSE stream of a run ends after it.
 */

export const RUN_EVENT_TYPES = [
  "run:created",
  "run:started",
  "run:status",
  "run:planned",
  "stage:created",
  "stage:status",
  "stage:updated",
  "issue:created",
  "issue:status",
  "issue:updated",
  "issue:dispatched",
  "issue:checked",
  "artifact:created",
  "checkpoint:created",
  "verification:completed",
  "gate:verdict",
  "run:finished",
] as const;
export type RunEventType = (typeof RUN_EVENT_TYPES)[number];

/** The event after which a run's stream ends (written once, with the run's final status). */
export const RUN_TERMINAL_EVENT: RunEventType = "run:finished";

/** A run event as readers see it. */
export interface RunEvent {
  id: string;
  seq: number;
  run_id: string;
  event_type: string;
  payload: Record<string, unknown>;
  created_at: string;
}

/** What a writer hands to the log; seq, id and time are assigned at the durable write. */
export interface NewRunEvent {
  event_type: RunEventType;
  payload: Record<string, unknown>;
}

export function runEventId(runId: string, seq: number): string {
  return `${runId}:${seq}`;
}
