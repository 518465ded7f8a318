/**
 * The factory feature, assembled: its event log, the supervisor (on rooms,
 * through the RoomPort, as the system actor) and the service, and what the
 * factory registers with the Lifecycle: on tenant open (after rooms have
 * recovered, so a turn cut off by the crash already reads SERVER_RESTARTED)
 * every started `planning`/`running` run gets its supervisor back; on
 * shutdown the supervisors stop (their state is durable; a restart resumes).
 */
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { EventLog } from "../events/event.log.js";
import type { RoomService } from "../room/room.service.js";
import type { LifecycleFeature } from "../runtime/lifecycle.js";
import type { StructuredModel } from "../runtime/llm/llm.types.js";
import type { ModelCatalog } from "../room/room.service.js";
import type { TenantDatabases } from "../storage/tenant-db.js";
import { RunLog } from "./factory.log.js";
import { RoomServicePort } from "./factory.rooms.js";
import { FactoryService } from "./factory.service.js";
import { Supervisor } from "./factory.supervisor.js";

export interface FactoryFeatureDeps {
  tenants: TenantDatabases;
  events: EventLog;
  rooms: RoomService;
  runtime: StructuredModel & ModelCatalog;
  log: Logger;
  limits: Config["factory"] & { maxFollowersPerRun: number };
}

export interface FactoryFeature {
  service: FactoryService;
  supervisor: Supervisor;
  lifecycle: LifecycleFeature;
}

export function createFactoryFeature(d: FactoryFeatureDeps): FactoryFeature {
  const runLog = new RunLog(d.events);
  const supervisor = new Supervisor({
    tenants: d.tenants,
    log: runLog,
    rooms: new RoomServicePort(d.rooms, d.events.bus),
    model: d.runtime,
    logger: d.log,
    limits: { maxAttempts: d.limits.maxAttempts, modelAttempts: d.limits.modelAttempts, maxIssuesPerRun: d.limits.maxIssuesPerRun },
  });
  const service = new FactoryService({ log: runLog, supervisor, catalog: d.runtime, holdTenant: (tenant) => d.tenants.hold(tenant), limits: d.limits });
  const lifecycle: LifecycleFeature = {
    name: "factory",
    recover(t) {
      const runs = supervisor.recover(t);
      if (runs > 0) d.log.warn({ tenant: t.tenant, runs }, "factory runs resumed after restart");
    },
    drain: () => supervisor.drain(),
  };
  return { service, supervisor, lifecycle };
}
