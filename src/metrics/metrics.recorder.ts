/**
 * The recorder the rest of the service is handed (through deps, never a
 * global): one typed method per thing that happens. Each call resolves its
 * label child from a small map (or the caller keeps the child, as a turn
 * does) and increments numbers; nothing is formatted until a scrape.
 *
 * No label ever carries a tenant or room id: labels are route templates,
 * methods, statuses, error codes, stream close reasons and the operator's
 * provider/model names (bounded by MAX_MODELS, then "other").
 */
import type { ErrorCode } from "../errors.js";
import type { SseCloseReason } from "../sse/sse.types.js";
import { Count, CounterFamily, HistogramFamily, type Histo } from "./metrics.primitives.js";

/** How a turn ended, as stored (room.lifecycle.ts TurnEndStatus). */
export type TurnEnd = "completed" | "interrupted" | "failed" | "cancelled";
const TURN_ENDS: readonly TurnEnd[] = ["completed", "interrupted", "failed", "cancelled"];

/** The usage a turn reports at its end (the contract's Usage). */
export interface TurnUsage {
  input: number;
  output: number;
  cost: { total: number };
}

/** One running turn's timing, resolved to its provider/model children when the turn starts. */
export interface TurnRecord {
  /** Whether the first streamed delta was seen; a call site checks it first, so later deltas cost one field read. */
  readonly streaming: boolean;
  /** The first streamed delta (text, thinking or tool-call) arrived: observes the first-token latency once. */
  firstToken(): void;
  /** The turn's end was recorded (or it was lost, which ends it failed). Counts once; later calls do nothing. */
  ended(status: TurnEnd, usage: TurnUsage): void;
}

export interface MetricsRecorder {
  /** One answered HTTP request: its route template (never the raw path), method, status and seconds to the response head. */
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  /** A request answered with an error envelope of this code (RATE_LIMITED, QUOTA_EXCEEDED, ...). */
  httpError(code: ErrorCode): void;
  /** A committed event-log transaction: how many durable events it wrote and how long it took, commit included. */
  eventsCommitted(events: number, seconds: number): void;
  /** One group commit of a tenant: how many writers and turn ends shared its transaction. */
  groupCommit(size: number): void;
  /** One fsync of a tenant file's log run off the event loop (storage/wal-sync.ts), seconds. */
  walFsynced(seconds: number): void;
  /** A worker starts running a turn. */
  turnStarted(provider: string, model: string): TurnRecord;
  /** An event stream ended, and why (`overflow`: the follower fell behind and was cut off). */
  streamClosed(reason: SseCloseReason): void;
  /** A request was answered from its Idempotency-Key's stored response. */
  idempotentReplay(): void;
}

/** Distinct provider/model pairs with their own labels; more are counted under provider="other", model="other". */
export const MAX_MODELS = 100;
/** Distinct route templates with their own labels (routes are templates, so this is a guard, not a limit in practice). */
export const MAX_ROUTES = 200;

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export const BUCKETS = {
  httpSeconds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  turnSeconds: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
  firstTokenSeconds: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  commitSeconds: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  groupSize: [1, 2, 4, 8, 16, 32, 64, 128, 256],
  fsyncSeconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
} as const;

interface ModelChildren {
  started: Count;
  ended: Record<TurnEnd, Count>;
  duration: Histo;
  firstToken: Histo;
  tokensIn: Count;
  tokensOut: Count;
  cost: Count;
}

class Turn implements TurnRecord {
  streaming = false;
  #done = false;
  readonly #startedAt = performance.now();

  constructor(private readonly m: ModelChildren) {}

  firstToken(): void {
    if (this.streaming) return;
    this.streaming = true;
    this.m.firstToken.observe((performance.now() - this.#startedAt) / 1000);
  }

  ended(status: TurnEnd, usage: TurnUsage): void {
    if (this.#done) return;
    this.#done = true;
    this.m.ended[status].n++;
    this.m.duration.observe((performance.now() - this.#startedAt) / 1000);
    if (usage.input > 0) this.m.tokensIn.n += usage.input;
    if (usage.output > 0) this.m.tokensOut.n += usage.output;
    if (usage.cost.total > 0) this.m.cost.n += usage.cost.total;
  }
}

export class Recorder implements MetricsRecorder {
  readonly http = new HistogramFamily(
    "roomservice_http_request_duration_seconds",
    "HTTP requests by route template, method and status: seconds until the response head (for event streams: until the stream opened). _count is the request count.",
    BUCKETS.httpSeconds,
  );
  readonly httpErrors = new CounterFamily("roomservice_http_errors_total", "Requests answered with an error envelope, by error code (RATE_LIMITED and QUOTA_EXCEEDED are the refusals).");
  readonly turnsStarted = new CounterFamily("roomservice_turns_started_total", "Turns a worker started running, by provider and model.");
  readonly turnsEnded = new CounterFamily("roomservice_turns_ended_total", "Turns ended, by provider, model and end status (completed, interrupted, failed, cancelled).");
  readonly turnSeconds = new HistogramFamily("roomservice_turn_duration_seconds", "Seconds from a worker starting a turn to its end being recorded, by provider and model.", BUCKETS.turnSeconds);
  readonly firstTokenSeconds = new HistogramFamily(
    "roomservice_turn_first_token_seconds",
    "Seconds from a worker starting a turn to the model's first streamed delta, by provider and model.",
    BUCKETS.firstTokenSeconds,
  );
  readonly tokens = new CounterFamily("roomservice_model_tokens_total", "Model tokens used by turns, by provider, model and direction (input, output).");
  readonly cost = new CounterFamily("roomservice_model_cost_usd_total", "Model cost of turns in US dollars as the provider catalog prices it, by provider and model.");
  readonly eventsWritten = new CounterFamily("roomservice_events_written_total", "Durable room events committed.");
  readonly commitSeconds = new HistogramFamily(
    "roomservice_event_commit_seconds",
    "Seconds per event-log transaction, from its start to its commit (writes, and the fsync except for streamed events and turn ends, whose fsync runs off the event loop). _count is the transaction count.",
    BUCKETS.commitSeconds,
  );
  readonly groupSize = new HistogramFamily(
    "roomservice_group_commit_size",
    "Streamed flushes and turn ends that shared one group-commit transaction of a tenant.",
    BUCKETS.groupSize,
  );
  readonly fsyncSeconds = new HistogramFamily(
    "roomservice_wal_fsync_seconds",
    "Seconds per fsync of a tenant file's write-ahead log run off the event loop: streamed events and turn ends are shown once it returns.",
    BUCKETS.fsyncSeconds,
  );
  readonly streamsClosed = new CounterFamily(
    "roomservice_sse_streams_closed_total",
    "Event streams ended, by reason; reason=\"overflow\" counts followers cut off for falling behind (they resume with Last-Event-ID).",
  );
  readonly replays = new CounterFamily("roomservice_idempotent_replays_total", "Requests answered from the stored response of their Idempotency-Key.");

  readonly #routes = new Map<string, Map<number, Histo>>();
  readonly #errors = new Map<string, Count>();
  readonly #closed = new Map<string, Count>();
  readonly #models = new Map<string, Map<string, ModelChildren>>();
  #modelCount = 0;
  readonly #events = this.eventsWritten.child();
  readonly #commit = this.commitSeconds.child();
  readonly #group = this.groupSize.child();
  readonly #fsync = this.fsyncSeconds.child();
  readonly #replay = this.replays.child();

  constructor() {
    // The series alerts watch exist from the start (at 0), so a rate() over them is defined before the first event.
    for (const code of ["RATE_LIMITED", "QUOTA_EXCEEDED", "INTERNAL", "STORAGE_BUSY"] as const) this.httpError(code, 0);
    this.streamClosed("overflow", 0);
  }

  families(): (CounterFamily | HistogramFamily)[] {
    return [
      this.http,
      this.httpErrors,
      this.turnsStarted,
      this.turnsEnded,
      this.turnSeconds,
      this.firstTokenSeconds,
      this.tokens,
      this.cost,
      this.eventsWritten,
      this.commitSeconds,
      this.groupSize,
      this.fsyncSeconds,
      this.streamsClosed,
      this.replays,
    ];
  }

  httpRequest(route: string, method: string, status: number, seconds: number): void {
    let byStatus = this.#routes.get(route);
    if (!byStatus) {
      if (this.#routes.size >= MAX_ROUTES) route = "other";
      byStatus = this.#routes.get(route);
      if (!byStatus) this.#routes.set(route, (byStatus = new Map()));
    }
    let m = METHODS.indexOf(method as (typeof METHODS)[number]);
    if (m < 0) m = METHODS.length;
    const key = m * 1000 + status;
    let h = byStatus.get(key);
    if (!h) byStatus.set(key, (h = this.http.child({ route, method: METHODS[m] ?? "OTHER", status: String(status) })));
    h.observe(seconds);
  }

  httpError(code: ErrorCode, by = 1): void {
    let c = this.#errors.get(code);
    if (!c) this.#errors.set(code, (c = this.httpErrors.child({ code })));
    c.n += by;
  }

  eventsCommitted(events: number, seconds: number): void {
    this.#events.n += events;
    this.#commit.observe(seconds);
  }

  groupCommit(size: number): void {
    this.#group.observe(size);
  }

  walFsynced(seconds: number): void {
    this.#fsync.observe(seconds);
  }

  turnStarted(provider: string, model: string): TurnRecord {
    const m = this.#model(provider, model);
    m.started.n++;
    return new Turn(m);
  }

  streamClosed(reason: SseCloseReason, by = 1): void {
    let c = this.#closed.get(reason);
    if (!c) this.#closed.set(reason, (c = this.streamsClosed.child({ reason })));
    c.n += by;
  }

  idempotentReplay(): void {
    this.#replay.n++;
  }

  #model(provider: string, model: string): ModelChildren {
    let byModel = this.#models.get(provider);
    const hit = byModel?.get(model);
    if (hit) return hit;
    if (this.#modelCount >= MAX_MODELS) {
      provider = "other";
      model = "other";
      byModel = this.#models.get(provider);
      const other = byModel?.get(model);
      if (other) return other;
    }
    if (!byModel) this.#models.set(provider, (byModel = new Map()));
    const labels = { provider, model };
    const ended = {} as Record<TurnEnd, Count>;
    for (const status of TURN_ENDS) ended[status] = this.turnsEnded.child({ provider, model, status });
    const children: ModelChildren = {
      started: this.turnsStarted.child(labels),
      ended,
      duration: this.turnSeconds.child(labels),
      firstToken: this.firstTokenSeconds.child(labels),
      tokensIn: this.tokens.child({ provider, model, direction: "input" }),
      tokensOut: this.tokens.child({ provider, model, direction: "output" }),
      cost: this.cost.child(labels),
    };
    byModel.set(model, children);
    this.#modelCount++;
    return children;
  }
}

/** The turn a recorder that records nothing hands out: `streaming` is already true, so the per-delta check stops at its first read. */
const NO_TURN: TurnRecord = { streaming: true, firstToken() {}, ended() {} };

/**
 * The recorder of a server started with METRICS_ENABLED=false: every method
 * does nothing, so the hot paths make the same calls with no branch of
 * their own, and nothing is kept. Chosen once, where the server is wired.
 */
export const NO_RECORDING: MetricsRecorder = Object.freeze({
  httpRequest() {},
  httpError() {},
  eventsCommitted() {},
  groupCommit() {},
  walFsynced() {},
  turnStarted: () => NO_TURN,
  streamClosed() {},
  idempotentReplay() {},
});
