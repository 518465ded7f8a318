/**
 * Factory runs as the second stream kind of the event log
 * (src/events/event.stream.ts): the run event vocabulary, `run:created` as
 * the opening event, `run:finished` as the terminal one (the SSE stream of
 * a run ends after it), no compaction (a run writes a few events per issue)
 * and no codec (payloads are stored as written). The wire record:
 * `{id: "<run>:<seq>", seq, run_id, event_type, payload, created_at}`.
 */
import type { EventHead, Payload, StreamKind } from "../events/event.stream.js";
import { RUN_EVENT_TYPES, RUN_TERMINAL_EVENT, runEventId, type RunEvent } from "./factory.events.js";

export const RUN_STREAM = "run";

export const runStream: StreamKind<RunEvent> = {
  name: RUN_STREAM,
  eventTypes: RUN_EVENT_TYPES,
  opening: "run:created",
  terminal: RUN_TERMINAL_EVENT,
  record: (runId: string, h: EventHead, payload: Payload): RunEvent => ({
    id: runEventId(runId, h.seq),
    seq: h.seq,
    run_id: runId,
    event_type: h.event_type,
    payload,
    created_at: h.created_at,
  }),
};
