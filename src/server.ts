/**
 * Wires the service from a Config: storage, keys, runtime, the features and
 * their lifecycle, the app. main.ts calls it with the parsed environment;
 * tests call it with a temp data dir. It opens files but never reads the
 * environment, listens or handles signals. It knows features, not rooms:
 * each feature registers its recovery, sweeps and drain with the Lifecycle.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import pino, { type Logger } from "pino";
import { buildApp, type App } from "./app.js";
import { loadOrCreateSigningKey, type SigningKey } from "./auth/keys.js";
import { createVerifier } from "./auth/tokens.js";
import type { Config } from "./config.js";
import { EventBus } from "./events/event.bus.js";
import { EventLog } from "./events/event.log.js";
import { Readiness } from "./metrics/metrics.readiness.js";
import { NO_RECORDING, Recorder, type MetricsRecorder } from "./metrics/metrics.recorder.js";
import { MetricsRegistry } from "./metrics/metrics.registry.js";
import { claimInTransaction } from "./idempotency/idempotency.context.js";
import { idempotencyLifecycle } from "./idempotency/idempotency.service.js";
import { createRoomFeature } from "./room/room.feature.js";
import { createFactoryFeature } from "./factory/factory.feature.js";
import type { FactoryService } from "./factory/factory.service.js";
import type { Supervisor } from "./factory/factory.supervisor.js";
import type { RoomService } from "./room/room.service.js";
import type { SummaryService } from "./room/room.summary.js";
import { roomStream } from "./room/room.stream.js";
import { runStream } from "./factory/factory.stream.js";
import { Admission } from "./runtime/admission.js";
import { Lifecycle } from "./runtime/lifecycle.js";
import type { LifecycleTimers } from "./runtime/lifecycle-timers.js";
import { createLlmRuntime } from "./runtime/llm/llm.runtime.js";
import { loadProviderConfigFile } from "./runtime/llm/provider-config.js";
import { LoopLoad, paceMs } from "./runtime/loop-load.js";
import type { LlmRuntime } from "./runtime/llm/llm.types.js";
import type { EndRetry, RoomWorkers } from "./runtime/room-workers.js";
import { SseFollowers } from "./sse/sse.followers.js";
import { formatSseFrame } from "./sse/sse.stream.js";
import { loadMigrations } from "./storage/migrations.js";
import { packageRoot } from "./storage/paths.js";
import { lockDataDir, openServiceDb } from "./storage/service-db.js";
import { StorageHealth, tenantFilesWithData } from "./storage/storage-health.js";
import { TenantDatabases } from "./storage/tenant-db.js";

/** How long one slice of the boot recovery pass may run before it lets requests in (it always recovers at least one tenant). */
const RECOVERY_SLICE_MS = 10;

/** On shutdown, how long followers get to take the events already stored before their connections are cut. */
const FOLLOWER_CLOSE_MS = 2000;
/** How often each busy tenant file's WAL is looked at for a background checkpoint (TenantDatabasesOptions.walCheckpoints). */
const WAL_CHECK_MS = 250;

export type ServiceLimits = Config["limits"] & { historyMessages: number };

export interface Server {
  app: App;
  config: Config;
  log: Logger;
  signingKey: SigningKey;
  tenants: TenantDatabases;
  workers: RoomWorkers;
  admission: Admission;
  events: EventLog;
  runtime: LlmRuntime;
  /** The rooms feature's deadline sweep. */
  timers: LifecycleTimers;
  rooms: RoomService;
  /** Room summaries (POST /llm/room/:id/summary and the every-N-turns refresh). */
  summaries: SummaryService;
  factory: FactoryService;
  supervisor: Supervisor;
  /** Features' recovery, sweeps and drain. */
  lifecycle: Lifecycle;
  /** The boot-time pass that opens (and so recovers) every tenant on disk; `done` resolves when it has. */
  recovery: RecoveryPass;
  /** What /ready answers; main.ts tells it when the listener is up. */
  readiness: Readiness;
  /** The metrics the hot paths record into (NO_RECORDING when METRICS_ENABLED=false), and the registry /metrics scrapes (null then). */
  recorder: MetricsRecorder;
  metrics: MetricsRegistry | null;
  /** Stops new turns, drains running ones for up to graceMs, then closes storage. */
  shutdown(graceMs: number): Promise<void>;
}

export interface ServerOptions {
  log?: Logger;
  limits?: Partial<ServiceLimits>;
  now?: () => number;
  /** Where provider key variables (`api_key_env`) are read. main.ts passes the process environment; default: none. */
  secretsEnv?: Readonly<Record<string, string | undefined>>;
  /** How a turn's end is retried while storage fails (tests shorten it). */
  turnEndRetry?: EndRetry;
  /** The built browser console; default dist/console of the package (what `npm run build` writes). */
  consoleDir?: string;
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string };
  return pkg.version;
}

export async function createServer(config: Config, opts: ServerOptions = {}): Promise<Server> {
  const log = opts.log ?? pino({ level: config.logLevel, base: { service: "roomservice" } });
  const now = opts.now ?? Date.now;
  const limits: ServiceLimits = { ...config.limits, historyMessages: 50, ...opts.limits };
  const unlock = lockDataDir(config.dataDir);
  try {
    const signingKey = await loadOrCreateSigningKey(config.dataDir);
    const serviceDb = openServiceDb(config.dataDir, config.storage.busyTimeoutMs);
    const tenantDir = path.join(config.dataDir, "tenants");
    const storage = new StorageHealth({
      db: serviceDb.sqlite,
      log,
      now,
      onDisk: tenantFilesWithData(tenantDir),
      fileOf: (tenant) => path.join(tenantDir, `${tenant}.db`),
    });
    const tenants = new TenantDatabases({
      guard: storage,
      dataDir: config.dataDir,
      migrations: loadMigrations(path.join(packageRoot(), "migrations")),
      busyTimeoutMs: config.storage.busyTimeoutMs,
      cacheKib: config.storage.cacheKib,
      cachePerTurnKib: config.storage.cachePerTurnKib,
      cacheMaxKib: config.storage.cacheMaxKib,
      walCheckpoints: { intervalMs: WAL_CHECK_MS, maxKib: config.storage.walMaxKib },
      idleCloseMs: config.storage.idleCloseMs,
      now,
    });
    tenants.setOnCheckpointError((tenant, err) => log.warn({ err, tenant }, "a WAL checkpoint failed; the next one tries again"));
    tenants.setOnSyncError((tenant, err) => {
      // A full disk is remembered for /health as any write that found it full; either way the streamed events wait.
      storage.observe(err, tenant);
      log.error({ err, tenant }, "fsync of a tenant's write-ahead log failed: the events it holds are not shown to followers until a retry succeeds");
    });
    const runtime = await createLlmRuntime({
      providers: config.providers.file ? loadProviderConfigFile(config.providers.file) : [],
      retry: { maxRetries: config.providers.maxRetries, baseDelayMs: 250, maxDelayMs: config.providers.retryMaxDelayMs },
      echoDefaultTokenDelayMs: config.providers.echoTokenDelayMs,
      logger: log,
      env: opts.secretsEnv ?? {},
    });
    const recording = config.metrics.enabled ? new Recorder() : null;
    const recorder: MetricsRecorder = recording ?? NO_RECORDING;
    if (recording) tenants.setOnSynced((seconds) => recording.walFsynced(seconds));
    const bus = new EventBus(formatSseFrame, (err, at) =>
      log.error({ err, tenant: at.tenant, kind: at.kind, stream_id: at.streamId, seq: at.seq, event_type: at.eventType }, "an event follower's listener threw; it was dropped"),
    );
    const events = new EventLog(bus, {
      now,
      kinds: [roomStream, runStream],
      ...(recording ? { onCommit: (n: number, seconds: number) => recording.eventsCommitted(n, seconds) } : {}),
      beforeCommit: claimInTransaction,
      onCompactionFailed: (t, kind, streamId, err) =>
        log.warn({ err, tenant: t.tenant, kind, stream_id: streamId }, "event compaction failed; the stream's events stay uncompacted until its next compaction event"),
    });
    // A file at rest keeps its live events in one table: the journal is moved in before it closes.
    tenants.setBeforeClose((t) => events.settle(t));
    // Features register in dependency order: recovery runs in this order when a
    // tenant file first opens (before any request reads it), sweeps on every
    // open and every tick, drains together on shutdown.
    const lifecycle = new Lifecycle(tenants, { log, now });
    const loopLoad = new LoopLoad();
    if (config.events.commitPaceMs > 0) loopLoad.start();
    let admission: Admission | null = null;
    const roomFeature = createRoomFeature({
      tenants,
      events,
      runtime,
      log,
      admission: () => admission!,
      limits,
      coalesceMs: config.events.coalesceMs,
      commitPace: () => paceMs(loopLoad.busy(), config.events.commitPaceMs),
      now,
      metrics: recorder,
      ...(opts.turnEndRetry ? { endRetry: opts.turnEndRetry } : {}),
    });
    admission = new Admission(serviceDb, limits, (tenant) => roomFeature.workers.activeCount(tenant), now);
    lifecycle.register(roomFeature.lifecycle);
    const rooms = roomFeature.service;
    // The factory stands on rooms: registered after them, it recovers after them.
    const factoryFeature = createFactoryFeature({ tenants, events, rooms, runtime, log, limits: { ...config.factory, maxFollowersPerRun: limits.maxFollowersPerRoom } });
    lifecycle.register(factoryFeature.lifecycle);
    lifecycle.register(idempotencyLifecycle(now));

    const recovery = recoverAllTenants(tenants, log);
    const readiness = new Readiness(() => admission!.shuttingDown);
    // The turn engine (pi-ai and the agent loop, most of the server's module loading) is not needed to answer
    // anything but a turn: it loads once the tenants on disk are recovered, off the start-up path, so neither
    // /health nor the first turn waits for it (a turn that comes sooner loads it itself).
    void recovery.done.then(() => {
      readiness.recovered();
      void runtime.warm();
    });
    const metrics = recording
      ? new MetricsRegistry(recording, {
          openTenantFiles: () => tenants.openHandles(),
          followers: () => events.bus.subscriberCount(),
          turnsRunning: () => roomFeature.workers.activeCount(),
          globalStop: () => admission!.stop.active,
        })
      : null;
    lifecycle.start(config.lifecycle.sweepMs);

    const startedAt = now();
    const followers = new SseFollowers();
    const app = buildApp({
      log,
      version: packageVersion(),
      bodyLimitBytes: config.bodyLimitBytes,
      bodyTimeoutMs: config.bodyTimeoutMs,
      verifier: createVerifier({ key: signingKey, ...config.auth, now }),
      publicJwk: signingKey.publicJwk,
      tenants,
      rooms,
      summaries: roomFeature.summaries,
      usage: roomFeature.usage,
      factory: factoryFeature.service,
      runtime,
      startedAt,
      now,
      isShuttingDown: () => admission!.shuttingDown,
      admission,
      rateLimit: { rps: limits.rateLimitRps, burst: limits.rateLimitBurst },
      sse: { heartbeatMs: config.events.heartbeatMs, followers },
      storage,
      recorder,
      operations: { metrics, readiness, metricsToken: config.metrics.token },
      consoleDir: opts.consoleDir ?? path.join(packageRoot(), "dist", "console"),
    });

    let closed = false;
    return {
      app,
      config,
      log,
      signingKey,
      tenants,
      workers: roomFeature.workers,
      admission,
      events,
      runtime,
      timers: roomFeature.timers,
      rooms,
      summaries: roomFeature.summaries,
      factory: factoryFeature.service,
      supervisor: factoryFeature.supervisor,
      lifecycle,
      recovery,
      readiness,
      recorder,
      metrics,
      async shutdown(graceMs: number) {
        if (closed) return;
        closed = true;
        recovery.stop();
        loopLoad.stop();
        admission!.beginShutdown();
        await lifecycle.drain(graceMs);
        // The drained turns' last events are published; let every follower send what is durable, then end.
        await followers.closeAll(FOLLOWER_CLOSE_MS);
        await tenants.closeAll();
        serviceDb.close();
        unlock();
      },
    };
  } catch (err) {
    unlock();
    throw err;
  }
}

export interface RecoveryPass {
  readonly done: Promise<void>;
  stop(): void;
}

/**
 * Opens every tenant file on disk, a slice at a time, so each is recovered
 * without holding up start-up: the first slice runs only after createServer
 * has returned (the app answers at once), and each slice stops after
 * SLICE_MS of work (at least one tenant) so requests get in between. A
 * request for a tenant the pass has not reached yet recovers that tenant
 * itself on open. Files the pass opened are closed again unless something
 * (a resumed worker) holds them.
 */
function recoverAllTenants(tenants: TenantDatabases, log: Logger): RecoveryPass {
  const pending = tenants.tenantsOnDisk();
  let stopped = false;
  const done = new Promise<void>((resolve) => {
    const step = () => {
      const until = performance.now() + RECOVERY_SLICE_MS;
      while (pending.length > 0 && !stopped) {
        const tenant = pending.pop()!;
        if (tenants.isOpen(tenant)) continue;
        try {
          tenants.get(tenant);
          tenants.closeIfUnheld(tenant);
        } catch (err) {
          log.error({ err, tenant }, "could not open the tenant's database to recover it; it will be retried when the tenant is next used");
        }
        if (performance.now() >= until) break;
      }
      if (pending.length === 0 || stopped) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
  return { done, stop: () => void (stopped = true) };
}
