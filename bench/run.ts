/**
 * `npm run bench`: starts the real server (compiled src/ on node; `--runner tsx` for tsx src/main.ts) on temp
 * DATA_DIRs, measures every figure of bench/README.md next to a baseline
 * measured in this same run on this same machine, prints a table and writes
 * bench/results.json. Loopback only; every loop is bounded in count and time;
 * a global timeout ends the run (children killed, temp dirs removed, partial
 * results written) so it never hangs.
 *
 *   npm run bench -- [--runs 3] [--only main,stream,memory,startup,factory,history,capacity,rounds,metrics] [--runner node|tsx] [--profile] [--keep] [--timeout-s 720]
 *                    [--metrics on|off] [--metrics-workloads read,turns,events,fanout] [--metrics-generations 3]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { figure, renderTable, type Figure } from "./lib/figure.js";
import { closeAgent } from "./lib/http.js";
import { log } from "./lib/log.js";
import { buildCompiled } from "./lib/compiled.js";
import { cleanupAll, killChildren, ROOT, setKeepTemp, setRunner, spawnScript, tempDir, type Spawned } from "./lib/proc.js";
import { rawSingleRowCommits } from "./lib/raw-sqlite.js";
import { rentEcho, startRoomservice, startTurn, token, tokens, type ServerHandle } from "./lib/roomservice.js";
import { median, min } from "./lib/stats.js";
import { memory } from "./figures/memory.js";
import { captureRoomBody, readPath } from "./figures/read-path.js";
import { storageFigure, storageWork, type StorageWork } from "./figures/storage.js";
import { startup } from "./figures/startup.js";
import { eventRate, fanout } from "./figures/stream.js";
import { rounds } from "./figures/rounds.js";
import { historyUnderLoad } from "./figures/history.js";
import { capacity } from "./figures/capacity.js";
import { turns } from "./figures/turns.js";
import { factoryRun } from "./figures/factory.js";
import { metricsCost } from "./figures/metrics-cost.js";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    only: { type: "string" },
    profile: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    "timeout-s": { type: "string", default: "720" },
    out: { type: "string", default: path.join("bench", "results.json") },
    runner: { type: "string", default: "node" },
    "capacity-steps": { type: "string", default: "10,25,50,100,250,325,400,500,650,800,1000,1500,2000,2500,3000,4000" },
    // The bare baseline's ramp (bench/bare-rooms.ts), coarser: it only has to show where the machine itself stops. "" skips it.
    "capacity-bare-steps": { type: "string", default: "500,1000,1500,2000,2500,3000,4000" },
    // METRICS_ENABLED for every server the bench starts (the metrics phase sets its own): `off` gives the whole bench's "before" table.
    metrics: { type: "string" },
    "metrics-workloads": { type: "string", default: "read,turns,events,fanout" },
    "metrics-generations": { type: "string", default: "3" },
  },
  strict: true,
});

const RUNS = Math.max(1, Math.min(20, Number(args.runs)));
const TIMEOUT_MS = Math.max(10, Number(args["timeout-s"])) * 1000;
const PHASES = new Set((args.only ?? "main,stream,memory,startup,factory,history,capacity,rounds").split(",").map((s) => s.trim()));
const OUT = path.resolve(ROOT, args.out!);
setKeepTemp(args.keep!);
if (args.metrics !== undefined) {
  if (args.metrics !== "on" && args.metrics !== "off") throw new Error(`--metrics must be on or off, not ${args.metrics}`);
  // Every server is spawned with this process's environment under its own settings (bench/lib/proc.ts), so this reaches them all.
  process.env["METRICS_ENABLED"] = args.metrics === "on" ? "true" : "false";
}
const METRICS = process.env["METRICS_ENABLED"] === "false" ? "off" : "on";

const t0 = performance.now();
const startedAt = new Date().toISOString();
const figures: Figure[] = [];
const root = tempDir("run");
const dir = (name: string) => {
  const d = path.join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
};
const cpuProfDir = args.profile ? path.join(ROOT, "bench", "profiles", startedAt.replace(/[:.]/g, "-")) : undefined;
if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });

function writeResults(status: "complete" | "timeout" | "interrupted" | "failed"): void {
  const result = {
    status,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    duration_s: (performance.now() - t0) / 1000,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, total_mem_bytes: os.totalmem(), node: process.version, platform: `${os.platform()} ${os.release()}`, loadavg_at_end: os.loadavg() },
    options: { runs: RUNS, phases: [...PHASES], runner: args.runner, profile: cpuProfDir ?? null, timeout_s: TIMEOUT_MS / 1000, metrics: METRICS },
    figures,
  };
  try {
    writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`could not write ${OUT}: ${String(err)}\n`);
  }
}

function printResults(): void {
  process.stdout.write(`\n${renderTable(figures)}\n\n`);
  for (const f of figures) {
    process.stdout.write(`${f.name}${f.ratioOf ? ` (ratio: ${f.ratioOf})` : ""}\n`);
    if (f.error) process.stdout.write(`  error: ${f.error}\n`);
    for (const n of f.notes) process.stdout.write(`  - ${n}\n`);
  }
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), OUT)}${cpuProfDir ? `; CPU profiles in ${path.relative(process.cwd(), cpuProfDir)}` : ""}\n`);
}

let finished = false;
function finish(status: "complete" | "timeout" | "interrupted" | "failed", code: number): never {
  if (!finished) {
    finished = true;
    writeResults(status);
    printResults();
  }
  closeAgent();
  cleanupAll();
  process.exit(code);
}

process.on("exit", () => cleanupAll());
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => finish("interrupted", 130));
process.on("uncaughtException", (err) => {
  process.stderr.write(`uncaught: ${err.stack ?? String(err)}\n`);
  finish("failed", 1);
});
process.on("unhandledRejection", (err) => {
  process.stderr.write(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
});
setTimeout(() => {
  log(`global timeout (${TIMEOUT_MS / 1000} s): stopping`);
  finish("timeout", 124);
}, TIMEOUT_MS);

const remainingMs = () => TIMEOUT_MS - (performance.now() - t0);

/**
 * Runs one measurement; an error becomes an ERROR row instead of ending the
 * run. One that takes longer than maxMs is abandoned: its row says so and
 * every child process is killed, so the next phase starts clean.
 */
async function attempt(ids: { id: string; name: string; unit: string; target: string }[], needMs: number, maxMs: number, fn: () => Promise<Figure[]>): Promise<void> {
  if (remainingMs() < needMs) {
    for (const i of ids) figures.push(figure({ ...i, error: `skipped: ${Math.round(remainingMs() / 1000)} s left of the global timeout, this needs about ${needMs / 1000} s` }));
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), Math.min(maxMs, remainingMs() - 3000))));
  try {
    const out = await Promise.race([fn(), timeout]);
    if (out === "timeout") {
      log(`${ids.map((i) => i.id).join(", ")}: timed out; killing child processes`);
      killChildren();
      for (const i of ids) figures.push(figure({ ...i, error: `timed out after ${Math.round(maxMs / 1000)} s; child processes killed` }));
    } else figures.push(...out);
  } catch (err) {
    log(`${ids.map((i) => i.id).join(", ")} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    for (const i of ids) figures.push(figure({ ...i, error: err instanceof Error ? err.message : String(err) }));
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  log(`runs=${RUNS}, phases=${[...PHASES].join(",")}, runner=${args.runner}, metrics=${METRICS}, temp=${root}`);
  if (args.runner === "node") {
    const t = performance.now();
    setRunner({ kind: "node", root: buildCompiled(dir("compiled")) });
    log(`compiled src/ to JS for node in ${(performance.now() - t).toFixed(0)} ms`);
  } else if (args.runner !== "tsx") throw new Error(`--runner must be tsx or node, not ${args.runner}`);
  const rawDir = dir("raw");
  const commits = Array.from({ length: RUNS }, (_, r) => rawSingleRowCommits(rawDir, `commits-${r}`, 1000, 20_000));
  const rawCommitsPerS = { median: median(commits.map((c) => c.perS)), worst: min(commits.map((c) => c.perS)) };
  log(`raw durable single-row commits/s: ${rawCommitsPerS.median.toFixed(0)}`);
  let seedTenantFile: string | null = null;

  if (PHASES.has("main")) {
    const dataDir = dir("main");
    const hookDir = dir("main-hook");
    const storageTenants = Array.from({ length: RUNS }, (_, r) => `st_${r + 1}`);
    await token(dataDir, "bench"); // makes the signing key once, before the parallel calls
    const tok = await tokens(dataDir, ["bench", "st_base", "st_long", ...storageTenants]);
    let server: ServerHandle | null = null;
    let bare: Spawned | null = null;
    let work: StorageWork | null = null;
    const storageCtx = { base: "", tokens: tok, baseTenant: "st_base", tenants: storageTenants, rooms: 5, turnsPerRoom: 4, replyWords: 170, longTenant: "st_long", longReplyWords: 1360 };
    try {
      server = await startRoomservice("main", dataDir, { ECHO_TOKEN_DELAY_MS: "0" }, { hookDir, ...(cpuProfDir ? { cpuProfDir } : {}) });
      log(`main server up in ${(server.readyAt - server.spawnedAt).toFixed(0)} ms`);
      const roomId = await rentEcho(server.base, tok["bench"]!, { token_delay_ms: 0 });
      // One turn so the room record has what a used room has (usage, last_active_at).
      await startTurn(server.base, tok["bench"]!, roomId);
      const bodyFile = await captureRoomBody(server.base, tok["bench"]!, roomId, dir("bare"));
      bare = await spawnScript({ name: "bare-hono", script: "bench/bare-hono.ts", env: { BARE_BODY_FILE: bodyFile }, readyPath: "/health" });
      const s = server;
      const b = bare;
      await attempt([{ id: "read_path", name: "read path GET /llm/room/:id", unit: "req/s", target: "≥ 0.5× bare" }], 8 * RUNS * 1000, 20_000 * RUNS, async () => {
        log("read path");
        return [await readPath({ server: s, bare: b, token: tok["bench"]!, roomId, runs: RUNS, durationS: 3, connections: 50 })];
      });
      await attempt(
        [
          { id: "ttft", name: "time to first token", unit: "ms", target: "p50 ≤ 5 ms, p99 ≤ 25 ms" },
          { id: "turn_latency", name: "turn latency (50 tokens)", unit: "ms", target: "p50 ≤ 20 ms" },
          { id: "turns_sequential", name: "turn throughput, sequential", unit: "turns/s", target: "≥ 80 turns/s" },
          { id: "turns_parallel", name: "turn throughput, 20 rooms", unit: "turns/s", target: "report" },
        ],
        6 * RUNS * 1000,
        20_000 * RUNS,
        async () => {
          log("turns");
          return await turns({
            server: s,
            bare: b,
            token: tok["bench"]!,
            runs: RUNS,
            seqDurationMs: 2000,
            parDurationMs: 2000,
            parallelRooms: 20,
            maxTurnsPerRun: 5000,
            replyTokens: 50,
            rawCommitsPerS,
          });
        },
      );
      if (remainingMs() > 20_000) {
        log("storage workload");
        try {
          work = await storageWork({ ...storageCtx, base: s.base });
        } catch (err) {
          figures.push(figure({ id: "storage", name: "storage per char of model output", unit: "bytes/char", target: "≤ 3", error: String(err) }));
        }
      }
    } finally {
      if (bare) await bare.stop();
      if (server) await server.stop();
    }
    if (work) {
      const w = work;
      await attempt([{ id: "storage", name: "storage per char of model output", unit: "bytes/char", target: "≤ 3" }], 0, 10_000, async () => [
        storageFigure(storageCtx, dataDir, w),
      ]);
      seedTenantFile = path.join(dataDir, "tenants", "st_1.db");
    }
  }

  if (PHASES.has("stream")) {
    const dataDir = dir("stream");
    const tok = await token(dataDir, "bench");
    let server: ServerHandle | null = null;
    try {
      server = await startRoomservice("stream", dataDir, { ECHO_TOKEN_DELAY_MS: "0", EVENT_COALESCE_MS: "0" }, cpuProfDir ? { cpuProfDir } : {});
      const s = server;
      await attempt([{ id: "fanout", name: "fan-out delivery, 1000 followers", unit: "ms", target: "p99 ≤ 1.5× bare" }], 15_000 + 8 * RUNS * 1000, 60_000 + 15_000 * RUNS, async () => {
        log("fan-out");
        return await fanout({ server: s, token: tok, followers: 1000, runs: RUNS, windowMs: 3000, intervalMs: 10 });
      });
      await attempt([{ id: "event_rate", name: "durable event rate, 20 rooms streaming", unit: "events/s", target: "≥ 0.3× raw" }], 5_000 + 4 * RUNS * 1000, 40_000 + 5_000 * RUNS, async () => {
        log("durable event rate");
        return [await eventRate({ server: s, token: tok, tenant: "bench", rooms: 20, runs: RUNS, windowMs: 3000, replyTokens: 300, rawDir })];
      });
    } finally {
      if (server) await server.stop();
    }
  }

  if (PHASES.has("rounds")) {
    const dataDir = dir("rounds");
    const tok = await token(dataDir, "bench");
    let server: ServerHandle | null = null;
    try {
      server = await startRoomservice("rounds", dataDir, { ECHO_TOKEN_DELAY_MS: "0" }, cpuProfDir ? { cpuProfDir } : {});
      const s = server;
      await attempt([{ id: "rounds_exchange", name: "3 actors × 3 rounds (9 turns), end to end", unit: "ms", target: "≤ 1.2× 9 single turns" }], 5_000 + 5 * RUNS * 1000, 30_000 + 20_000 * RUNS, async () => {
        log("multi-agent exchange");
        return [await rounds({ server: s, token: tok, runs: RUNS, repeats: 10, replyTokens: 50 })];
      });
    } finally {
      if (server) await server.stop();
    }
  }

  if (PHASES.has("memory")) {
    const keyDir = dir("memory-keys");
    await token(keyDir, "memwarm");
    const tok = await tokens(keyDir, ["memwarm", "memlive", "memsleep", "memfollow"]);
    await attempt(
      [
        { id: "memory_live_rooms", name: "RSS per 1,000 rooms with live workers", unit: "MB", target: "≤ 20 MB" },
        { id: "memory_followers", name: "RSS per 1,000 followers", unit: "MB", target: "≤ 30 MB" },
        { id: "memory_sleeping_rooms_restart", name: "RSS for 10,000 sleeping rooms, restarted", unit: "MB", target: "≈ 0 (≤ 5 MB)" },
        { id: "memory_sleeping_rooms", name: "RSS for 10,000 sleeping rooms, same process", unit: "MB", target: "≈ 0 (≤ 5 MB)" },
      ],
      60_000,
      90_000 + 25_000 * RUNS,
      async () => {
        log("memory");
        return await memory({
          keyDir,
          dir,
          env: { ECHO_TOKEN_DELAY_MS: "0", LIFECYCLE_SWEEP_MS: "100" },
          ...(cpuProfDir ? { cpuProfDir } : {}),
          tokens: { warm: tok["memwarm"]!, live: tok["memlive"]!, sleep: tok["memsleep"]!, follow: tok["memfollow"]! },
          sleepTenant: "memsleep",
          runs: RUNS,
          liveRooms: 1000,
          followers: 1000,
          sleepRooms: 10_000,
          sleepWarmRooms: 10_000,
          concurrency: 16,
        });
      },
    );
  }

  if (PHASES.has("factory")) {
    const dataDir = dir("factory");
    const tok = await token(dataDir, "bench");
    let server: ServerHandle | null = null;
    try {
      server = await startRoomservice("factory", dataDir, { ECHO_TOKEN_DELAY_MS: "0" }, cpuProfDir ? { cpuProfDir } : {});
      const s = server;
      await attempt(
        [
          { id: "factory_run", name: "factory run, 20 issues offline (start → completed)", unit: "ms", target: "report" },
          { id: "factory_overhead", name: "supervisor overhead per issue ÷ one room turn", unit: "×", target: "≤ 3×" },
        ],
        5_000 + 5 * RUNS * 1000,
        30_000 + 20_000 * RUNS,
        async () => {
          log("factory run");
          return await factoryRun({ server: s, token: tok, runs: RUNS, issues: 20 });
        },
      );
    } finally {
      if (server) await server.stop();
    }
  }

  if (PHASES.has("history")) {
    const dataDir = dir("history");
    const tok = await token(dataDir, "bench");
    let server: ServerHandle | null = null;
    try {
      server = await startRoomservice("history", dataDir, { ECHO_TOKEN_DELAY_MS: "0", EVENT_COALESCE_MS: "0" }, cpuProfDir ? { cpuProfDir } : {});
      const s = server;
      await attempt([{ id: "history_health", name: "/health p99 under 20 long-history readers", unit: "ms", target: "p99 ≤ 3× alone" }], 10_000 + 8 * RUNS * 1000, 60_000 + 20_000 * RUNS, async () => {
        log("history under load");
        return [await historyUnderLoad({ server: s, token: tok, readers: 20, runs: RUNS, windowMs: 3000, replyChars: 70_000, replyTokens: 500 })];
      });
    } finally {
      if (server) await server.stop();
    }
  }

  if (PHASES.has("capacity")) {
    const CAPACITY_METRICS_TOKEN = "bench-capacity-metrics-0123456789abcdef";
    const dataDir = dir("capacity");
    const tok = await token(dataDir, "bench");
    let server: ServerHandle | null = null;
    let bare: Spawned | null = null;
    const steps = (arg: string) => arg.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
    const bareSteps = steps(args["capacity-bare-steps"]!);
    try {
      // The shipped coalescing window (EVENT_COALESCE_MS default): what an operator runs.
      server = await startRoomservice("capacity", dataDir, { ECHO_TOKEN_DELAY_MS: "0", METRICS_TOKEN: CAPACITY_METRICS_TOKEN }, cpuProfDir ? { cpuProfDir } : {});
      const s = server;
      if (bareSteps.length > 0) bare = await spawnScript({ name: "bare-rooms", script: "bench/bare-rooms.ts", env: {}, readyPath: "/health" });
      const b = bare;
      await attempt([{ id: "capacity", name: "capacity: rooms streaming at once, 20 tok/s, 1 follower each", unit: "rooms", target: "≥ 2000 rooms" }], 40_000, 420_000, async () => {
        log("capacity");
        return [
          await capacity({
            server: s,
            metricsToken: CAPACITY_METRICS_TOKEN,
            token: tok,
            steps: steps(args["capacity-steps"]!),
            ...(b ? { bare: { server: b, steps: bareSteps, budgetMs: 150_000 } } : {}),
            tokenDelayMs: 50,
            replyTokens: 300,
            staggerMs: 5000,
            settleMs: 1000,
            windowMs: 10_000,
            p99TargetMs: 100,
            budgetMs: 180_000,
            svgPath: path.join(path.dirname(OUT), "capacity.svg"),
          }),
        ];
      });
    } finally {
      if (server) await server.stop();
      if (bare) await bare.stop();
    }
  }

  if (PHASES.has("metrics")) {
    const kinds = args["metrics-workloads"]!.split(",").map((k) => k.trim());
    const unknown = kinds.filter((k) => !["read", "turns", "events", "fanout"].includes(k));
    if (unknown.length) throw new Error(`--metrics-workloads: unknown ${unknown.join(", ")} (read, turns, events, fanout)`);
    const generations = Number(args["metrics-generations"]);
    if (!Number.isInteger(generations) || generations < 2) throw new Error(`--metrics-generations must be an integer ≥ 2, not ${args["metrics-generations"]}`);
    const ids = [
      ...kinds.map((k) => ({ id: `metrics_cost_${k}`, name: `metrics on ÷ off: server CPU per unit, ${k}`, unit: "µs CPU", target: "≤ 1.03× off" })),
      { id: "metrics_cost_bound", name: "metrics recorder calls ÷ server CPU, worst workload", unit: "%", target: "≤ 3%" },
    ];
    await attempt(ids, 60_000, 420_000, async () => {
      log("metrics cost (recording on vs off, each server driven alone, with an A/A control)");
      return await metricsCost({
        dir,
        ...(cpuProfDir ? { cpuProfDir } : {}),
        env: { ECHO_TOKEN_DELAY_MS: "0" },
        only: kinds,
        generations,
        cycles: 8,
        windowOps: { read: 3000, turns: 40, events: 5000, fanout: 9000 },
        windowCapMs: 1000,
        budgetMs: 12_000,
        warmWindows: 5,
        settleMs: 10,
        busyShare: 0.1,
        idleMs: 1000,
        readConnections: 8,
        turnRooms: 4,
        eventRooms: 4,
        eventReplyWords: 300,
        fanoutFollowers: 300,
        fanoutInFlight: 1,
        target: 1.03,
      });
    });
  }

  if (PHASES.has("startup")) {
    await attempt([{ id: "startup", name: "start-up to /health, 1000 tenants", unit: "ms", target: "≤ 1500 ms" }], 10_000 + 8 * RUNS * 1000, 60_000 + 15_000 * RUNS, async () => {
      if (!seedTenantFile) throw new Error("start-up needs the tenant file the main phase writes (run with --only including main)");
      log("start-up");
      return [await startup({ seedTenantFile, tenants: 1000, runs: RUNS, dir, env: { ECHO_TOKEN_DELAY_MS: "0" }, ...(cpuProfDir ? { cpuProfDir } : {}) })];
    });
  }
}

main().then(
  () => finish(figures.some((f) => f.error) ? "failed" : "complete", figures.some((f) => f.error) ? 1 : 0),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    finish("failed", 1);
  },
);
