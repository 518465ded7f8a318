/**
 * The supervisor: works a run through its durable state machine, one step
 * at a time. A step reads the durable state, does exactly one thing (plan,
 * dispatch an issue, collect an issue's result, release a room, verify,
 * evaluate gates) and writes it in one transaction before any effect that
 * follows (starting a turn, releasing a room). So a step can be repeated
 * after a crash, `advance` drives the same machine by hand, and a restarted
 * server resumes a run exactly where its rows say it stood.
 *
 * The background loop (`kick`) takes steps until the run waits on rooms,
 * then sleeps until one of those rooms ends a turn (a bus event), the run
 * is changed by a caller (`kick` again) or a retry time passes. No polling.
 * Steps of one run never overlap: they take the run's lock.
 */
import type { Logger } from "pino";
import { AppError } from "../errors.js";
import { outsideRequest } from "../idempotency/idempotency.context.js";
import type { Actor, Usage } from "../room/room.schemas.js";
import type { StructuredModel } from "../runtime/llm/llm.types.js";
import type { TenantDatabases, TenantDb } from "../storage/tenant-db.js";
import type { CriterionVerdict, Plan } from "./factory.brains.types.js";
import { settingsOf } from "./factory.dto.js";
import type { RunLog } from "./factory.log.js";
import {
  addRunUsage,
  checkGates,
  concludeRun,
  isFinal,
  ISSUE_OUTPUT,
  mustRun,
  setIssueStatus,
  setRunStatus,
  settle,
  storeArtifact,
  storePlan,
  touchRun,
  verificationIsCurrent,
  writeVerification,
} from "./factory.machine.js";
import { judgeWithModel, planWithModel } from "./factory.model.js";
import { compilePlan, validatePlan } from "./factory.plan.js";
import type { RoomPort } from "./factory.rooms.js";
import type { AdvanceRecord } from "./factory.schemas.js";
import { findIssue, findRun, issuesOf, runsToResume, type IssueRow, type RunRow } from "./factory.store.js";
import { verifyWithRules } from "./factory.verify.js";

/** What one step did; `retryAfterMs` tells the loop when to try again on its own. */
export type AdvanceResult = AdvanceRecord & { retryAfterMs?: number };

export interface SupervisorLimits {
  maxAttempts: number;
  modelAttempts: number;
  maxIssuesPerRun: number;
}

export interface SupervisorDeps {
  tenants: TenantDatabases;
  log: RunLog;
  rooms: RoomPort;
  model: StructuredModel;
  logger: Logger;
  limits: SupervisorLimits;
}

/** Codes of a refused dispatch that pass with time (quota, stop, shutdown): the step waits and retries. */
const TRANSIENT = new Set(["QUOTA_EXCEEDED", "GLOBAL_STOP_ACTIVE", "SHUTTING_DOWN", "STORAGE_BUSY", "RATE_LIMITED"]);

interface Loop {
  controller: AbortController;
  wake: () => void;
  done: Promise<void>;
}

export function isEcho(actor: Actor | undefined): boolean {
  return !actor || (actor.provider === "local" && actor.model === "echo");
}

/** The task message a room gets for an issue. */
export function taskPrompt(issue: Pick<IssueRow, "title" | "body" | "acceptanceCriteria" | "verificationRequirements">): string {
  const parts = [`Task: ${issue.title}`];
  if (issue.body && issue.body !== issue.title) parts.push("", issue.body);
  if (issue.acceptanceCriteria.length > 0) parts.push("", "Acceptance criteria:", ...issue.acceptanceCriteria.map((c) => `- ${c}`));
  if (issue.verificationRequirements.length > 0) parts.push("", "Verification:", ...issue.verificationRequirements.map((c) => `- ${c}`));
  return parts.join("\n");
}

export class Supervisor {
  readonly #d: SupervisorDeps;
  readonly #loops = new Map<string, Loop>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Aborts an in-flight model call of a step when the run is cancelled. */
  readonly #stepAborts = new Map<string, AbortController>();
  #draining = false;

  constructor(deps: SupervisorDeps) {
    this.#d = deps;
  }

  /** Runs `fn` under the run's lock: steps of one run never overlap. */
  #locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#locks.set(key, settled);
    void settled.then(() => {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    });
    return next;
  }

  /** Takes exactly one step of the run and says what it did. */
  step(tdb: TenantDb, runId: string): Promise<AdvanceResult> {
    const key = `${tdb.tenant}/${runId}`;
    return this.#locked(key, () => this.#step(tdb, runId, key));
  }

  /** Starts (or wakes) the background loop of a run. */
  kick(tenant: string, runId: string): void {
    if (this.#draining) return;
    const key = `${tenant}/${runId}`;
    const existing = this.#loops.get(key);
    if (existing) {
      existing.wake();
      return;
    }
    const release = this.#d.tenants.hold(tenant);
    const controller = new AbortController();
    const loop: Loop = { controller, wake: () => undefined, done: Promise.resolve() };
    this.#loops.set(key, loop);
    loop.done = outsideRequest(() => this.#loop(tenant, runId, loop))
      .catch((err) => this.#d.logger.error({ err, tenant, run_id: runId }, "factory supervisor crashed; POST /start resumes the run"))
      .finally(() => {
        if (this.#loops.get(key) === loop) this.#loops.delete(key);
        release();
      });
  }

  /** Stops the run's loop and any model call of its current step; resolves when the loop has exited. */
  async stop(tenant: string, runId: string): Promise<void> {
    const key = `${tenant}/${runId}`;
    this.#stepAborts.get(key)?.abort();
    const loop = this.#loops.get(key);
    if (!loop) return;
    loop.controller.abort();
    loop.wake();
    await loop.done;
  }

  isRunning(tenant: string, runId: string): boolean {
    return this.#loops.has(`${tenant}/${runId}`);
  }

  /** After a restart: every started run that is planning or running gets its loop back. */
  recover(t: TenantDb): number {
    const runs = runsToResume(t);
    for (const run of runs) this.kick(t.tenant, run.id);
    return runs.length;
  }

  /** Shutdown: stops every loop (the durable state is already written; a restart resumes them). */
  async drain(): Promise<void> {
    this.#draining = true;
    for (const loop of this.#loops.values()) {
      loop.controller.abort();
      loop.wake();
    }
    for (const c of this.#stepAborts.values()) c.abort();
    await Promise.all([...this.#loops.values()].map((l) => l.done));
  }

  async #loop(tenant: string, runId: string, loop: Loop): Promise<void> {
    // Start on a later tick: kick may be called inside a tenant's open hook or a request.
    await new Promise<void>((r) => setImmediate(r));
    const signal = loop.controller.signal;
    while (!signal.aborted) {
      const tdb = this.#d.tenants.get(tenant);
      const run = findRun(tdb, runId);
      if (!run || !run.started || isFinal(run.status) || run.status === "gated" || run.status === "pending") return;
      // Armed before the step, so a turn that ends while the step runs still wakes the loop.
      const waiter = this.#arm(tdb, run, loop);
      let result: AdvanceResult;
      try {
        result = await this.step(tdb, runId);
      } catch (err) {
        waiter.dispose();
        throw err;
      }
      if (result.kind === "waiting") await waiter.wait(result.retryAfterMs);
      waiter.dispose();
      if (result.done || result.kind === "idle") return;
    }
  }

  #arm(tdb: TenantDb, run: RunRow, loop: Loop): { wait: (retryAfterMs?: number) => Promise<void>; dispose: () => void } {
    let resolve!: () => void;
    let woken = false;
    const promise = new Promise<void>((r) => (resolve = r));
    const wake = () => {
      woken = true;
      resolve();
    };
    loop.wake = wake;
    const unsubs = run.activeRoomIds.map((roomId) => this.#d.rooms.onTurnEnd(tdb.tenant, roomId, wake));
    let timer: NodeJS.Timeout | null = null;
    return {
      wait: (retryAfterMs) => {
        if (woken) return Promise.resolve();
        if (retryAfterMs !== undefined) timer = setTimeout(wake, retryAfterMs);
        return promise;
      },
      dispose: () => {
        for (const u of unsubs) u();
        if (timer) clearTimeout(timer);
        if (loop.wake === wake) loop.wake = () => undefined;
      },
    };
  }

  async #step(tdb: TenantDb, runId: string, key: string): Promise<AdvanceResult> {
    const run = findRun(tdb, runId);
    if (!run) throw new AppError("RUN_NOT_FOUND", "no such run for this tenant; list yours with GET /llm/factory/runs");
    const res = (kind: AdvanceResult["kind"], action: string, extra: Partial<AdvanceResult> = {}): AdvanceResult => {
      const now = findRun(tdb, runId)!;
      return { run_id: runId, status: now.status as AdvanceResult["status"], action, kind, done: isFinal(now.status) || now.status === "gated", ...extra };
    };
    switch (run.status) {
      case "completed":
      case "failed":
      case "cancelled":
        return res("idle", `the run is ${run.status}; nothing to do`);
      case "gated":
        return res("idle", "the run waits for a gate verdict: POST /gates records one");
      case "pending":
        this.#d.log.transaction(tdb, (tx) => {
          const current = mustRun(tdb, runId);
          if (current.status === "pending") setRunStatus(tdb, tx, current, "planning");
        });
        return res("planned", "the run is planning");
      case "planning":
        return this.#plan(tdb, run, key, res);
      default:
        return this.#work(tdb, run, res);
    }
  }

  async #plan(tdb: TenantDb, run: RunRow, key: string, res: (k: AdvanceResult["kind"], a: string, e?: Partial<AdvanceResult>) => AdvanceResult): Promise<AdvanceResult> {
    const actor = settingsOf(run).actors[0];
    const source = { format: run.source.format as "text" | "markdown", content: run.source.content };
    let plan: Plan | null = null;
    let diagnostic: string | null = null;
    let usage: Usage | null = null;
    let attempts = 1;
    let planner: "rules" | "model" = "rules";
    if (isEcho(actor)) {
      plan = compilePlan(source, { title: run.title });
      const errors = validatePlan(plan);
      if (errors.length > 0) {
        diagnostic = `the planner could not use the source: ${errors.join("; ")}`;
        plan = null;
      }
    } else {
      planner = "model";
      const abort = new AbortController();
      this.#stepAborts.set(key, abort);
      try {
        const out = await planWithModel(this.#d.model, actor!, source, { maxAttempts: this.#d.limits.modelAttempts, signal: abort.signal });
        usage = out.usage;
        attempts = out.attempts;
        if (out.ok) plan = out.plan;
        else diagnostic = out.diagnostic;
      } finally {
        this.#stepAborts.delete(key);
      }
    }
    if (plan) {
      const issues = plan.stages.reduce((n, s) => n + s.issues.length, 0);
      if (issues > this.#d.limits.maxIssuesPerRun) {
        diagnostic = `the plan has ${issues} issues; a run may hold at most ${this.#d.limits.maxIssuesPerRun} (FACTORY_MAX_ISSUES_PER_RUN): split the brief into several runs`;
        plan = null;
      }
    }
    const outcome = this.#d.log.transaction(tdb, (tx) => {
      const current = mustRun(tdb, run.id);
      if (current.status !== "planning") return "stale";
      if (usage) addRunUsage(tdb, tx, run.id, usage);
      if (plan) {
        storePlan(tdb, tx, mustRun(tdb, run.id), plan, { planner, attempts });
        return "planned";
      }
      const now = mustRun(tdb, run.id);
      setRunStatus(tdb, tx, now, "failed", "planning failed", { diagnostics: [...now.diagnostics, diagnostic ?? "planning failed"] });
      return "failed";
    });
    if (outcome === "stale") return res("idle", "the run changed while it was being planned; nothing was written");
    if (outcome === "failed") return res("failed", `planning failed: ${diagnostic}`);
    return res("planned", `planned: ${plan!.summary}`);
  }

  async #work(tdb: TenantDb, run: RunRow, res: (k: AdvanceResult["kind"], a: string, e?: Partial<AdvanceResult>) => AdvanceResult): Promise<AdvanceResult> {
    const issues = issuesOf(tdb, run.id);
    const running = issues.filter((i) => i.status === "running");

    // 1. A room the run still holds for an issue that is no longer running: release it (a crash may have cut off the release).
    const stale = run.activeRoomIds.filter((roomId) => !running.some((i) => i.assignedRoomId === roomId));
    if (stale.length > 0) {
      await this.#releaseRooms(tdb, run.id, stale, "the factory issue ended");
      return res("collected", `released ${stale.length} room(s) whose issue had ended`);
    }

    // 2. An issue whose room turn ended: check its output and record the result.
    for (const issue of running) {
      if (!issue.assignedRoomId || !issue.dispatchMessageId) continue;
      const turn = this.#d.rooms.turnOf(tdb, issue.assignedRoomId, issue.dispatchMessageId);
      if (turn.state === "running") continue;
      return this.#collect(tdb, run, issue, turn, res);
    }

    // 3. Dispatch a ready issue if the run has room for one more in flight.
    const settings = settingsOf(run);
    const ready = issues.filter((i) => i.status === "ready");
    if (ready.length > 0 && running.length < settings.max_in_flight) {
      const issue = ready[0]!;
      try {
        const roomId = this.dispatch(tdb, run.id, issue.id, { by: "supervisor" });
        return res("dispatched", `dispatched issue "${issue.title}" to room ${roomId}`);
      } catch (err) {
        if (err instanceof AppError && TRANSIENT.has(err.code)) {
          const retryAfterMs = Math.max(1, err.options.retryAfterS ?? 1) * 1000;
          return res("waiting", `could not dispatch "${issue.title}" yet (${err.code}: ${err.message}); retrying in ${retryAfterMs / 1000} s`, { retryAfterMs });
        }
        if (!(err instanceof AppError)) throw err;
        this.#d.log.transaction(tdb, (tx) => {
          const current = findIssue(tdb, run.id, issue.id);
          if (!current || current.status !== "ready") return;
          setIssueStatus(tdb, tx, current, "failed", `could not be dispatched: ${err.code}: ${err.message}`, { notes: [...current.notes, `dispatch refused: ${err.code}: ${err.message}`] });
          settle(tdb, tx, run.id);
        });
        return res("collected", `issue "${issue.title}" failed: it could not be dispatched (${err.code})`);
      }
    }
    if (running.length > 0) return res("waiting", `waiting for ${running.length} issue(s) running in rooms`);
    if (ready.length > 0) return res("waiting", `${ready.length} issue(s) ready; none dispatched`);

    // 4. Every issue has ended (or can never start): verify, then evaluate the gates.
    if (!verificationIsCurrent(tdb, run.id)) {
      const summary = this.#d.log.transaction(tdb, (tx) => {
        const current = mustRun(tdb, run.id);
        if (current.status !== "running") return null;
        const pending = issuesOf(tdb, run.id).filter((i) => i.status === "pending" || i.status === "ready");
        for (const p of pending) setIssueStatus(tdb, tx, p, "blocked", "it can never start: its dependencies will not pass");
        if (pending.length > 0) settle(tdb, tx, run.id);
        return writeVerification(tdb, tx, run.id).summary;
      });
      if (!summary) return res("idle", "the run changed meanwhile; nothing was written");
      return res("verified", `verified the run: ${summary.status}${summary.needs_review.length > 0 ? ` (${summary.needs_review.length} criteria need review)` : ""}`);
    }
    const overall = this.#d.log.transaction(tdb, (tx) => {
      const current = mustRun(tdb, run.id);
      if (current.status !== "running") return null;
      const { overall } = checkGates(tdb, tx, run.id, "factory:supervisor");
      concludeRun(tdb, tx, run.id, overall);
      return overall;
    });
    if (!overall) return res("idle", "the run changed meanwhile; nothing was written");
    const after = mustRun(tdb, run.id);
    return res(after.status === "gated" ? "gated" : "finished", `gates: ${overall}; the run is ${after.status}`);
  }

  /**
   * Dispatches one issue: rents its room, stores the task message (its turn
   * begun) and marks the issue `running` in ONE transaction of the tenant
   * file, then starts the turn. A crash before the commit dispatched
   * nothing; after it, room recovery ends the turn SERVER_RESTARTED and the
   * supervisor retries with a new room. Returns the room id.
   */
  dispatch(tdb: TenantDb, runId: string, issueId: string, opts: { by: "supervisor" | "caller"; content?: string | undefined; agent?: string | undefined }): string {
    const { roomId, plan } = this.#d.log.transaction(tdb, (tx) => {
      const run = mustRun(tdb, runId);
      if (run.status !== "running" && run.status !== "gated") {
        throw new AppError("RUN_STATE_CONFLICT", `the run is ${run.status}; issues are dispatched only while it is running`);
      }
      const issue = findIssue(tdb, runId, issueId);
      if (!issue) throw new AppError("ISSUE_NOT_FOUND", `no issue ${issueId} in this run; list them with GET /llm/factory/runs/${runId}/issues`);
      if (issue.status === "running") throw new AppError("ISSUE_BUSY", `issue "${issue.title}" is already running in room ${issue.assignedRoomId}`);
      const settings = settingsOf(run);
      const { roomId, messageId, plan } = this.#d.rooms.dispatchInTx(tdb, tx.room, {
        runId,
        issueId,
        purpose: issue.title,
        actors: settings.actors,
        content: opts.content ?? taskPrompt(issue),
        agent: opts.agent,
      });
      const attempt = issue.attempts + 1;
      setIssueStatus(tdb, tx, issue, "running", opts.by === "caller" ? "dispatched by a caller" : undefined, {
        assignedRoomId: roomId,
        dispatchMessageId: messageId,
        attempts: attempt,
      });
      tx.emit(runId, { event_type: "issue:dispatched", payload: { issue_id: issueId, room_id: roomId, message_id: messageId, attempt, by: opts.by } });
      const now = mustRun(tdb, runId);
      const base = now.status === "gated" ? setRunStatus(tdb, tx, now, "running", "an issue was dispatched again") : now;
      touchRun(tdb, tx, base, { activeRoomIds: [...base.activeRoomIds.filter((r) => r !== roomId), roomId] });
      settle(tdb, tx, runId);
      return { roomId, plan };
    });
    this.#d.rooms.startTurn(plan);
    return roomId;
  }

  async #collect(
    tdb: TenantDb,
    run: RunRow,
    issue: IssueRow,
    turn: Exclude<ReturnType<RoomPort["turnOf"]>, { state: "running" }>,
    res: (k: AdvanceResult["kind"], a: string, e?: Partial<AdvanceResult>) => AdvanceResult,
  ): Promise<AdvanceResult> {
    const roomId = issue.assignedRoomId!;
    const ended = turn.state === "ended" ? turn : { state: "ended" as const, status: "failed" as const, error: { code: "ROOM_MISSING", message: "the issue's room or task message is gone" }, output: "", usage: { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } } };
    let verdicts: CriterionVerdict[] = [];
    let judgeUsage: Usage | null = null;
    const criteria = [...issue.acceptanceCriteria, ...issue.verificationRequirements];
    if (ended.status === "completed") {
      const actor = settingsOf(run).actors[0];
      if (criteria.length === 0) verdicts = [];
      else if (isEcho(actor)) verdicts = verifyWithRules(criteria, ended.output);
      else {
        const key = `${tdb.tenant}/${run.id}`;
        const abort = new AbortController();
        this.#stepAborts.set(key, abort);
        try {
          const judged = await judgeWithModel(this.#d.model, actor!, { title: issue.title, criteria, output: ended.output }, { maxAttempts: this.#d.limits.modelAttempts, signal: abort.signal });
          judgeUsage = judged.usage;
          verdicts = judged.ok ? judged.verdicts : criteria.map((c) => ({ criterion: c, verdict: "needs_review" as const, reason: `the judge could not decide: ${judged.diagnostic}` }));
        } finally {
          this.#stepAborts.delete(key);
        }
      }
    }
    const maxAttempts = this.#d.limits.maxAttempts;
    const outcome = this.#d.log.transaction(tdb, (tx) => {
      const current = findIssue(tdb, run.id, issue.id);
      const runNow = mustRun(tdb, run.id);
      // Cancelled, or changed by a caller while the judge ran: this result no longer applies.
      if (!current || current.status !== "running" || current.dispatchMessageId !== issue.dispatchMessageId || runNow.status !== run.status) return null;
      addRunUsage(tdb, tx, run.id, ended.usage);
      if (judgeUsage) addRunUsage(tdb, tx, run.id, judgeUsage);
      if (ended.output.length > 0 || ended.status === "completed") {
        storeArtifact(tdb, tx, run.id, {
          artifactType: ISSUE_OUTPUT,
          producerIssueId: issue.id,
          producerStageId: issue.stageId,
          payload: { room_id: roomId, message_id: issue.dispatchMessageId, attempt: issue.attempts, turn_status: ended.status, text: ended.output },
        });
      }
      tx.emit(run.id, { event_type: "issue:checked", payload: { issue_id: issue.id, turn_status: ended.status, verdicts, usage: ended.usage } });
      let result: { status: "passed" | "failed" | "retry"; reason: string };
      if (ended.status === "completed") {
        const failed = verdicts.filter((v) => v.verdict === "fail");
        result = failed.length > 0 ? { status: "failed", reason: `acceptance failed: ${failed.map((v) => `${v.criterion} (${v.reason})`).join("; ")}` } : { status: "passed", reason: "the output meets its acceptance criteria" };
      } else {
        const why = ended.error ? `${ended.error.code}: ${ended.error.message}` : `the room turn ended ${ended.status}`;
        result = current.attempts < maxAttempts ? { status: "retry", reason: `attempt ${current.attempts} of ${maxAttempts} failed (${why}); retrying in a new room` } : { status: "failed", reason: `failed after ${current.attempts} attempt(s): ${why}` };
      }
      const summary = ended.output ? ended.output.replace(/\s+/g, " ").trim().slice(0, 200) : current.summary;
      setIssueStatus(tdb, tx, current, result.status === "retry" ? "ready" : result.status, result.reason, {
        verdicts: verdicts as unknown as Array<Record<string, unknown>>,
        summary,
        notes: [...current.notes, result.reason],
        ...(result.status === "retry" ? { dispatchMessageId: null } : {}),
      });
      settle(tdb, tx, run.id);
      // The room's turn has ended: release it in this same transaction when no worker is left in it (one commit, not three).
      const why = result.status === "retry" ? "the factory retries the issue in a new room" : `the factory issue ${result.status}`;
      const released = this.#d.rooms.releaseIdleInTx(tdb, tx.room, roomId, why);
      if (released) {
        const now = mustRun(tdb, run.id);
        touchRun(tdb, tx, now, { activeRoomIds: now.activeRoomIds.filter((r) => r !== roomId) });
      }
      return { ...result, released, why };
    });
    if (!outcome) return res("idle", `the result of issue "${issue.title}" no longer applies (the run or issue changed meanwhile)`);
    if (!outcome.released) await this.#releaseRooms(tdb, run.id, [roomId], outcome.why);
    return res("collected", `issue "${issue.title}": ${outcome.status === "retry" ? "retry" : outcome.status} (${outcome.reason})`);
  }

  /** Releases rooms (an effect after the durable write), then drops them from the run's active rooms. */
  async #releaseRooms(tdb: TenantDb, runId: string, roomIds: string[], reason: string): Promise<void> {
    for (const roomId of roomIds) {
      try {
        await this.#d.rooms.release(tdb, roomId, reason);
      } catch (err) {
        this.#d.logger.warn({ err, run_id: runId, room_id: roomId }, "could not release a factory room; the next step retries");
        return;
      }
    }
    this.#d.log.transaction(tdb, (tx) => {
      const run = mustRun(tdb, runId);
      const next = run.activeRoomIds.filter((r) => !roomIds.includes(r));
      if (next.length !== run.activeRoomIds.length) touchRun(tdb, tx, run, { activeRoomIds: next });
    });
  }

  /** Cancel's effect after its durable write: stop the loop, then interrupt and release every room the run holds. */
  async releaseAll(tdb: TenantDb, runId: string, reason: string): Promise<void> {
    await this.stop(tdb.tenant, runId);
    const key = `${tdb.tenant}/${runId}`;
    await this.#locked(key, async () => {
      const run = mustRun(tdb, runId);
      await this.#releaseRooms(tdb, runId, run.activeRoomIds, reason);
    });
  }
}
