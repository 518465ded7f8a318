/**
 * One worker per active room. A worker runs the room's turns one after the
 * other (the triggering one, then the queued one, ...) and exits when the
 * room comes to rest. Abort goes through the turn's AbortController into the
 * model's HTTP request; the turn's end (turn row, events, next state) is one
 * transaction, written exactly once, whatever stopped it.
 */
import type { Logger } from "pino";
import type { EventLog } from "../events/event.log.js";
import { finishTurn, type TurnEndStatus, type TurnOutcome, type TurnPlan } from "../room/room.lifecycle.js";
import type { AbortReason, TurnRunner } from "../room/room.service.js";
import { conversationBefore } from "../room/room.store.js";
import type { TenantDatabases, TenantDb } from "../storage/tenant-db.js";
import type { Admission } from "./admission.js";
import type { ChatTurn, LlmRuntime, TurnEvent, TurnResult } from "./llm/llm.types.js";
import { GroupCommit, TurnEventWriter } from "./turn-writer.js";
import { outsideRequest } from "../idempotency/idempotency.context.js";

export interface RoomWorkersDeps {
  tenants: TenantDatabases;
  events: EventLog;
  runtime: LlmRuntime;
  log: Logger;
  coalesceMs: number;
  historyMessages: number;
  admission: () => Admission;
}

interface Worker {
  key: string;
  tenant: string;
  plan: TurnPlan;
  controller: AbortController;
  abortReason: AbortReason | null;
  /** Resolves when the current turn has ended durably; made only when an abort waits for it, as most turns are never aborted. */
  turnEnded: { promise: Promise<void>; resolve: () => void } | null;
  /** Resolves when the worker has exited. */
  done: Promise<void>;
}

const ZERO = { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class RoomWorkers implements TurnRunner {
  readonly #workers = new Map<string, Worker>();
  readonly #group: GroupCommit;

  constructor(private readonly d: RoomWorkersDeps) {
    this.#group = new GroupCommit(d.events, d.log);
  }

  start(plan: TurnPlan): void {
    const key = `${plan.tenant}/${plan.roomId}`;
    if (this.#workers.has(key)) {
      // The lifecycle never begins a turn in an active room; reaching here is a bug worth shouting about.
      this.d.log.error({ tenant: plan.tenant, room_id: plan.roomId }, "a second worker was requested for an active room");
      return;
    }
    const worker: Worker = { key, tenant: plan.tenant, plan, controller: new AbortController(), abortReason: null, turnEnded: null, done: Promise.resolve() };
    this.#workers.set(key, worker);
    const release = this.d.tenants.hold(plan.tenant);
    // The worker outlives the request that started it: it must not inherit that request's idempotency context.
    worker.done = outsideRequest(() => this.#loop(worker))
      .catch((err) => this.d.log.error({ err, tenant: plan.tenant, room_id: plan.roomId }, "room worker crashed"))
      .finally(() => {
        this.#workers.delete(key);
        release();
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

  async abort(tenant: string, roomId: string, reason: AbortReason): Promise<void> {
    const w = this.#workers.get(`${tenant}/${roomId}`);
    if (!w) return;
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

  async #loop(w: Worker): Promise<void> {
    let plan: TurnPlan | null = w.plan;
    while (plan) {
      w.plan = plan;
      const tdb = this.d.tenants.get(plan.tenant);
      const budgetLeft = this.d.admission().tokensLeftToday(tdb);
      const writer = new TurnEventWriter(this.d.events, tdb, plan, this.d.coalesceMs, (err) =>
        this.d.log.warn({ err, room_id: plan!.roomId, turn_id: plan!.turnId }, "turn events not yet written; will retry"),
        this.#group,
      );
      const { result, streamedChars } = await this.#run(tdb, plan, w, writer, budgetLeft);
      const outcome = this.#outcome(result, w.abortReason, streamedChars);
      const next = await this.#finish(tdb, plan, outcome, writer, w);
      w.turnEnded?.resolve();
      w.turnEnded = null;
      if (next) {
        w.controller = new AbortController();
        w.abortReason = null;
      }
      plan = next;
    }
  }

  /** Not async: while the model runs, the turn's only suspended frame here is #loop's. */
  #run(tdb: TenantDb, plan: TurnPlan, w: Worker, writer: TurnEventWriter, budgetLeft: number): Promise<{ result: TurnResult; streamedChars: number }> {
    // Streamed text counts against the daily budget as it arrives (about 4 characters a token), so a
    // turn that would overrun it is stopped mid-stream rather than after the fact.
    let streamedChars = 0;
    const emit = (ev: TurnEvent) => {
      writer.push(ev);
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
      const history: ChatTurn[] = conversationBefore(tdb, plan.roomId, plan.messageSeq, this.d.historyMessages).map((m) => ({
        role: m.authorKind === "agent" ? "assistant" : "user",
        text: m.content,
      }));
      const request = {
        actor: plan.actor,
        history,
        prompt: plan.prompt,
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
    return { status, text: result.text, usage: result.usage ?? ZERO, ...(result.error && status === "failed" ? { error: result.error } : {}) };
  }

  /**
   * Writes the turn's end in the tenant's next group commit (one fsync shared
   * with the other rooms' flushes of that tick); retried while storage is
   * busy so a turn can never be left running by a transient error.
   */
  async #finish(tdb: TenantDb, plan: TurnPlan, outcome: TurnOutcome, writer: TurnEventWriter, w: Worker): Promise<TurnPlan | null> {
    writer.close();
    for (let attempt = 0; ; attempt++) {
      try {
        const next = await this.#group.join(tdb, (tx) => {
          const mayStartNext = w.abortReason !== "shutdown" && w.abortReason !== "release" && this.d.admission().mayStartQueued(plan.tenant);
          writer.drainInto(tx);
          return finishTurn(tdb, tx, plan, outcome, { mayStartNext });
        }, { roomId: plan.roomId, turnId: plan.turnId });
        writer.committed();
        return next;
      } catch (err) {
        if (attempt >= 20) {
          this.d.log.error({ err, room_id: plan.roomId, turn_id: plan.turnId }, "could not record the end of a turn; recovery will end it at next start");
          return null;
        }
        await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
      }
    }
  }
}
