/**
 * The rooms feature, assembled: the worker registry, the room service, and
 * what rooms register with the Lifecycle: recovery when a tenant file first
 * opens, the sweep (lost turn ends, then wake-policy deadlines) and the drain
 * of running turns on shutdown. server.ts registers it like any feature.
 */
import type { Logger } from "pino";
import type { EventLog } from "../events/event.log.js";
import type { Admission } from "../runtime/admission.js";
import type { LifecycleFeature } from "../runtime/lifecycle.js";
import { LifecycleTimers } from "../runtime/lifecycle-timers.js";
import type { LlmRuntime } from "../runtime/llm/llm.types.js";
import type { MetricsRecorder } from "../metrics/metrics.recorder.js";
import { recoverTenant } from "../runtime/recovery.js";
import { RoomWorkers, type EndRetry } from "../runtime/room-workers.js";
import type { TenantDatabases } from "../storage/tenant-db.js";
import { RoomService, type RoomLimits, type TurnAdmission } from "./room.service.js";
import { SummaryService } from "./room.summary.js";
import { UsageService } from "../usage/usage.service.js";

export interface RoomFeatureDeps {
  tenants: TenantDatabases;
  events: EventLog;
  runtime: LlmRuntime;
  log: Logger;
  /** Read lazily: the Admission counts this feature's workers, so it is built after them. */
  admission: () => Admission;
  limits: RoomLimits;
  coalesceMs: number;
  /** How long a group commit of streamed events waits after the previous one (runtime/loop-load.ts). */
  commitPace?: () => number;
  now: () => number;
  metrics: MetricsRecorder;
  endRetry?: EndRetry;
}

export interface RoomFeature {
  service: RoomService;
  summaries: SummaryService;
  usage: UsageService;
  workers: RoomWorkers;
  timers: LifecycleTimers;
  lifecycle: LifecycleFeature;
}

export function createRoomFeature(d: RoomFeatureDeps): RoomFeature {
  const admission: TurnAdmission = { checkNewTurn: (t) => d.admission().checkNewTurn(t), mayStartQueued: (tenant) => d.admission().mayStartQueued(tenant) };
  const summaries = new SummaryService({ events: d.events, runtime: d.runtime, admission, holdTenant: (tenant) => d.tenants.hold(tenant), log: d.log });
  const workers = new RoomWorkers({
    tenants: d.tenants,
    events: d.events,
    runtime: d.runtime,
    log: d.log,
    coalesceMs: d.coalesceMs,
    ...(d.commitPace ? { commitPace: d.commitPace } : {}),
    historyMessages: d.limits.historyMessages,
    admission: d.admission,
    metrics: d.metrics,
    ...(d.endRetry ? { endRetry: d.endRetry } : {}),
    onTurnRecorded: (t, plan) => {
      try {
        summaries.afterTurn(t, plan.roomId);
      } catch (err) {
        d.log.warn({ err, tenant: t.tenant, room_id: plan.roomId }, "could not check whether the room's summary is due");
      }
    },
  });
  const service = new RoomService({
    holdTenant: (tenant) => d.tenants.hold(tenant),
    events: d.events,
    catalog: d.runtime,
    runner: workers,
    admission,
    limits: d.limits,
  });
  const timers = new LifecycleTimers(d.events, (tenant, roomId) => workers.isRunning(tenant, roomId), d.now);
  const lifecycle: LifecycleFeature = {
    name: "rooms",
    recover(t) {
      const report = recoverTenant(t, d.events, d.admission(), (plan) => workers.start(plan));
      if (report.failedTurns + report.released + report.resumed > 0) d.log.warn({ tenant: t.tenant, ...report }, "recovered after restart");
    },
    sweep(t) {
      // Lost turn ends first (they may leave rooms due), then deadlines; a failure of one does not skip the other.
      let failure: unknown = null;
      try {
        workers.endLostTurns(t);
      } catch (err) {
        failure = err;
      }
      timers.sweep(t);
      if (failure !== null) throw failure;
    },
    // Summaries are not turns: their model calls are aborted at once, while running turns get the grace.
    drain: async (graceMs) => {
      await Promise.all([workers.drain(graceMs), summaries.drain()]);
    },
  };
  return { service, summaries, usage: new UsageService(d.now), workers, timers, lifecycle };
}
