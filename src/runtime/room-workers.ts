/**
 * One worker per active room. A worker runs the room's turns one after the
 * other (the triggering one, then the queued one, ...) and exits when the
 * room comes to rest. Abort goes through the turn's AbortController into the
 * model's HTTP request; the turn's end (turn row, events, next state) is one
 * transaction, written exactly once, whatever stopped it.
 *
 * A turn whose end cannot be written (storage failing past the retries) or
 * whose worker crashed is *lost*: no worker runs it, but its rows still say
 * running. The worker keeps the tenant's file open for it and the rooms
 * sweep (`endLostTurns`) ends it `failed` as soon as storage answers again;
 * the room verbs end it too when they find an active room with no worker.
 */
import type { Logger } from "pino";
import type { EventLog } from "../events/event.log.js";
import { finishTurn, TURN_NOT_RECORDED, type TurnEndStatus, type TurnOutcome, type TurnPlan } from "../room/room.lifecycle.js";
import type { AbortReason, TurnRunner } from "../room/room.service.js";
import { findTurn } from "../room/room.store.js";
import { turnInput } from "../room/room.context.js";
import type { TenantDatabases, TenantDb } from "../storage/tenant-db.js";
import type { Admission } from "./admission.js";
import type { LlmRuntime, TurnEvent, TurnResult } from "./llm/llm.types.js";
import type { MetricsRecorder, TurnRecord } from "../metrics/metrics.recorder.js";
import { GroupCommit, TurnEventWriter } from "./turn-writer.js";
import { outsideRequest } from "../idempotency/idempotency.context.js";

export interface RoomWorkersDeps {
  tenants: TenantDatabases;
  events: EventLog;
  runtime: LlmRuntime;
  log: Logger;
  coalesceMs: number;
  /** How long a group commit waits after the previous one, in ms (default none: see GroupCommit). */
  commitPace?: () => number;
  historyMessages: number;
  admission: () => Admission;
  metrics: Pick<MetricsRecorder, "turnStarted" | "groupCommit">;
  /** How a turn's end is retried while storage fails before the turn counts as lost (default: 20 attempts, 25 ms doubling to 1 s). */
  endRetry?: EndRetry;
  /** Hears each turn whose end was recorded, after commit (the summary refresh); must not throw. */
  onTurnRecorded?: (tdb: TenantDb, plan: TurnPlan) => void;
}

export interface EndRetry {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

const DEFAULT_END_RETRY: EndRetry = { attempts: 20, baseMs: 25, maxMs: 1000 };

interface Worker {
  key: string;
  tenant: string;
  plan: TurnPlan;
  controller: AbortController;
  abortReason: AbortReason | null;
  /** Resolves when the current turn has ended durably; made only when an abort waits for it, as most turns are never aborted. */
  turnEnded: { promise: Promise<void>; resolve: () => void } | null;
  /**
   * Turns begun while this worker was finishing its last one (a caller
   * committed a new turn before the worker had left the registry): they run
   * next, in order, in this worker.
   */
  pending: TurnPlan[];
  /** Resolves when the worker has exited. */
  done: Promise<void>;
}

/** A turn no worker runs any more, and the hold that keeps its tenant's file open until it has ended. */
interface LostTurn {
  plan: TurnPlan;
  release: () => void;
}

const ZERO = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class RoomWorkers implements TurnRunner {
  readonly #workers = new Map<string, Worker>();
  /** Lost turns by tenant/room (see the file comment). */
  readonly #lost = new Map<string, LostTurn>();
  readonly #group: GroupCommit;
  readonly #endRetry: EndRetry;

  constructor(private readonly d: RoomWorkersDeps) {
    this.#group = new GroupCommit(d.events, d.log, (size) => d.metrics.groupCommit(size), d.commitPace);
    this.#endRetry = d.endRetry ?? DEFAULT_END_RETRY;
  }

  /**
   * Runs a committed turn. If the room's worker is still registered (it is
   * finishing the turn before, which already let the room rest), the plan
   * waits in that worker and runs next: a committed turn always runs.
   */
  start(plan: TurnPlan): void {
    const key = `${plan.tenant}/${plan.roomId}`;
    const existing = this.#workers.get(key);
    if (existing) {
      existing.pending.push(plan);
      return;
    }
    const worker: Worker = { key, tenant: plan.tenant, plan, controller: new AbortController(), abortReason: null, turnEnded: null, pending: [], done: Promise.resolve() };
    this.#workers.set(key, worker);
    const release = this.d.tenants.hold(plan.tenant);
    let lost = false;
    // The worker outlives the request that started it: it must not inherit that request's idempotency context.
    worker.done = outsideRequest(() => this.#loop(worker))
      .then(
        (lostPlan) => {
          if (lostPlan) lost = this.#markLost(lostPlan, release);
        },
        (err) => {
          this.d.log.error({ err, tenant: plan.tenant, room_id: plan.roomId, turn_id: worker.plan.turnId }, "room worker crashed; its turn will be ended failed");
          lost = this.#markLost(worker.plan, release);
          this.#leave(worker);
        },
      )
      .finally(() => {
        if (this.#workers.get(key) === worker) this.#workers.delete(key);
        if (!lost) release();
        worker.turnEnded?.resolve();
      });
  }

  isRunning(tenant: string, roomId: string): boolean {
    return this.#workers.has(`${tenant}/${roomId}`);
  }

  activeCount(tenant?: string): number {
    if (tenant === undefined) return this.#workers.size;
    let n = 0;
    for (const w of this.#workers.values()) if (w.tenant === tenant) n++;
    return n;
  }

  async abort(tenant: string, roomId: string, reason: AbortReason, turnId?: string): Promise<void> {
    const w = this.#workers.get(`${tenant}/${roomId}`);
    if (!w || (turnId !== undefined && w.plan.turnId !== turnId)) return;
    w.abortReason = reason;
    w.controller.abort(reason);
    w.turnEnded ??= deferred();
    await w.turnEnded.promise;
  }

  /** Lets running turns finish for up to graceMs, then interrupts the rest; resolves when every worker has exited. */
  async drain(graceMs: number): Promise<void> {
    const all = () => Promise.all([...this.#workers.values()].map((w) => w.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      for (const w of this.#workers.values()) {
        w.abortReason = "shutdown";
        w.controller.abort("shutdown");
      }
      await all();
    }
  }

  /** Turns whose end was lost, for tests and logs. */
  lostCount(tenant?: string): number {
    if (tenant === undefined) return this.#lost.size;
    let n = 0;
    for (const l of this.#lost.values()) if (l.plan.tenant === tenant) n++;
    return n;
  }

  /**
   * Ends the tenant's lost turns `failed` with TURN_NOT_RECORDED (the durable
   * `error` and `agent:turn_end`, the room `failed`), one transaction each; a
   * turn something else has ended meanwhile is just forgotten. Throws the
   * storage error if storage still fails (the next sweep tries again).
   */
  endLostTurns(t: TenantDb): void {
    for (const [key, lost] of this.#lost) {
      if (lost.plan.tenant !== t.tenant) continue;
      this.d.events.transaction(t, (tx) =>
        finishTurn(t, tx, lost.plan, { status: "failed", text: "", usage: ZERO, error: { ...TURN_NOT_RECORDED } }, { mayStartNext: false }),
      );
      this.#lost.delete(key);
      lost.release();
      this.d.log.warn({ tenant: t.tenant, room_id: lost.plan.roomId, turn_id: lost.plan.turnId }, "a turn whose end had been lost was ended failed");
    }
  }

  /** Registers a lost turn; returns true when it keeps the worker's hold on the tenant file. */
  #markLost(plan: TurnPlan, release: () => void): boolean {
    const key = `${plan.tenant}/${plan.roomId}`;
    const prev = this.#lost.get(key);
    this.#lost.set(key, { plan, release });
    prev?.release();
    return true;
  }

  /**
   * Runs turns until the room rests. Returns null, or the plan of a turn
   * whose end could not be written (lost). The worker leaves the registry in
   * the same synchronous step that finds nothing more to run, so a `start`
   * either lands in `pending` here or makes a new worker, never neither.
   */
  async #loop(w: Worker): Promise<TurnPlan | null> {
    let plan: TurnPlan | null = w.plan;
    while (plan) {
      w.plan = plan;
      const turn = this.d.metrics.turnStarted(plan.actor.provider, plan.actor.model);
      const tdb = this.d.tenants.get(plan.tenant);
      const budgetLeft = this.d.admission().tokensLeftToday(tdb);
      const writer = new TurnEventWriter(this.d.events, tdb, plan, this.d.coalesceMs, (err) =>
        this.d.log.warn({ err, room_id: plan!.roomId, turn_id: plan!.turnId }, "turn events not yet written; will retry"),
        this.#group,
      );
      // The file's page cache grows while the turn streams (tenant-db.ts PageCachePolicy), until its end is written.
      const streamed = tdb.streamingTurn();
      let ended: { recorded: boolean; next: TurnPlan | null };
      try {
        const { result, streamedChars } = await this.#run(tdb, plan, w, writer, budgetLeft, turn);
        const outcome = this.#outcome(result, w.abortReason, streamedChars);
        ended = await this.#finish(tdb, plan, outcome, writer, w);
        turn.ended(ended.recorded ? outcome.status : "failed", ended.recorded ? outcome.usage : ZERO);
      } finally {
        streamed();
      }
      w.turnEnded?.resolve();
      w.turnEnded = null;
      if (!ended.recorded) {
        this.#leave(w);
        return plan;
      }
      this.d.onTurnRecorded?.(tdb, plan);
      const next = ended.next ?? this.#nextPending(w, tdb);
      if (next) {
        w.controller = new AbortController();
        w.abortReason = null;
      }
      plan = next;
    }
    this.#leave(w);
    return null;
  }

  #leave(w: Worker): void {
    if (this.#workers.get(w.key) === w) this.#workers.delete(w.key);
    // Plans that arrived after the last check cannot exist (this runs in the same synchronous step), but never drop one.
    for (const plan of w.pending.splice(0)) this.start(plan);
  }

  /**
   * The next turn begun behind this worker's back, if it still runs: one
   * ended meanwhile (by a release) is skipped, and none starts after this
   * worker was stopped for a release or shutdown (recovery or the release
   * ends those turns).
   */
  #nextPending(w: Worker, tdb: TenantDb): TurnPlan | null {
    while (w.pending.length > 0) {
      const plan = w.pending.shift()!;
      if (w.abortReason === "release" || w.abortReason === "shutdown") continue;
      if (findTurn(tdb, plan.turnId)?.status === "running") return plan;
    }
    return null;
  }

  /** Not async: while the model runs, the turn's only suspended frame here is #loop's. */
  #run(tdb: TenantDb, plan: TurnPlan, w: Worker, writer: TurnEventWriter, budgetLeft: number, turn: TurnRecord): Promise<{ result: TurnResult; streamedChars: number }> {
    // Streamed text counts against the daily budget as it arrives (about 4 characters a token), so a
    // turn that would overrun it is stopped mid-stream rather than after the fact.
    let streamedChars = 0;
    const emit = (ev: TurnEvent) => {
      writer.push(ev);
      if (!turn.streaming && ev.event_type === "pi:message_update") turn.firstToken();
      if (Number.isFinite(budgetLeft) && ev.event_type === "pi:message_update" && typeof ev.payload["delta"] === "string") {
        streamedChars += (ev.payload["delta"] as string).length;
        if (streamedChars / 4 > budgetLeft && w.abortReason === null) {
          w.abortReason = "budget";
          w.controller.abort("budget");
        }
      }
    };
    const failed = (err: unknown) => {
      this.d.log.error({ err, room_id: plan.roomId, turn_id: plan.turnId }, "model runtime threw");
      const result: TurnResult = { status: "failed", text: "", usage: ZERO, error: { code: "INTERNAL", message: "the turn failed inside the server" } };
      return { result, streamedChars };
    };
    try {
      // The actor's own context: transcript attributed by agent_id, its system prompt with the room's shared context.
      const { actor, history, prompt } = turnInput(tdb, plan, this.d.historyMessages);
      const request = {
        actor,
        history,
        prompt,
        limits: {
          maxTurnMs: plan.donePolicy.max_turn_s * 1000,
          maxOutputTokens: plan.donePolicy.max_output_tokens,
          maxSteps: plan.donePolicy.max_steps,
          maxToolCalls: plan.toolPolicy.max_tool_calls,
          allowedTools: plan.toolPolicy.allowed_tools,
        },
        controller: w.controller,
        emit,
      };
      // streamedChars is read when the turn has ended, not now.
      return this.d.runtime.runTurn(request).then((result) => ({ result, streamedChars }), failed);
    } catch (err) {
      return Promise.resolve(failed(err));
    }
  }

  #outcome(result: TurnResult, reason: AbortReason | null, streamedChars: number): TurnOutcome {
    let status: TurnEndStatus = result.status;
    if (reason === "release") status = "cancelled";
    else if (reason === "budget") {
      // An aborted call reports no usage; charge what was streamed so the budget stays honest.
      const streamed = Math.ceil(streamedChars / 4);
      const usage = result.usage && result.usage.totalTokens > 0 ? result.usage : { ...ZERO, output: streamed, totalTokens: streamed };
      return {
        status: "failed",
        text: result.text,
        usage,
        error: { code: "QUOTA_EXCEEDED", message: "the tenant's daily token budget ran out during this turn; it resets at 00:00 UTC" },
      };
    } else if (reason !== null && result.status !== "completed") status = "interrupted";
    const stoppedBy = status === "interrupted" && (reason === "muted" || reason === "removed" || reason === "actor_interrupt") ? { reason } : {};
    return { status, text: result.text, usage: result.usage ?? ZERO, ...(result.error && status === "failed" ? { error: result.error } : {}), ...stoppedBy };
  }

  /**
   * Writes the turn's end in the tenant's next group commit (one fsync shared
   * with the other rooms' flushes of that tick); retried while storage is
   * busy so a turn can never be left running by a transient error.
   */
  async #finish(tdb: TenantDb, plan: TurnPlan, outcome: TurnOutcome, writer: TurnEventWriter, w: Worker): Promise<{ recorded: boolean; next: TurnPlan | null }> {
    writer.close();
    const { attempts, baseMs, maxMs } = this.#endRetry;
    for (let attempt = 0; ; attempt++) {
      try {
        const next = await this.#group.join(tdb, (tx) => {
          const mayStartNext = w.abortReason !== "shutdown" && w.abortReason !== "release" && this.d.admission().mayStartQueued(plan.tenant);
          writer.drainInto(tx);
          return finishTurn(tdb, tx, plan, outcome, { mayStartNext });
        }, { roomId: plan.roomId, turnId: plan.turnId });
        writer.committed();
        return { recorded: true, next };
      } catch (err) {
        if (attempt + 1 >= attempts) {
          this.d.log.error({ err, tenant: plan.tenant, room_id: plan.roomId, turn_id: plan.turnId }, "could not record the end of a turn; it will be ended failed once storage answers");
          return { recorded: false, next: null };
        }
        await new Promise((r) => setTimeout(r, Math.min(maxMs, baseMs * 2 ** attempt)));
      }
    }
  }
}
