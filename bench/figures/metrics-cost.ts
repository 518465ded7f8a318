/**
 * What recording metrics costs (issue #17: no figure may move by more than
 * 3%), two ways.
 *
 * A/B, sequential and alone: the same build runs as three servers, `on`
 * (METRICS_ENABLED=true, the default) and two `off` (METRICS_ENABLED=false,
 * the no-op recorder), `offA` and `offB`. They are driven one at a time, the
 * other two idle, so the driven server and the client each have a core of
 * their own, in windows of a fixed number of operations taken in a
 * palindromic order (on, offA, offB, offB, offA, on, rotated per generation)
 * so that a drift over a cycle (page cache, heap growth, the rest of the
 * machine) weighs the same on every arm. The statistic is server CPU time
 * per operation: Σ over the server's threads (JS, GC helpers, libuv's pool)
 * of /proc/<pid>/task/<tid>/schedstat (ns on a CPU) at the window's edges ÷
 * the operations completed in it; it does not count time spent waiting for
 * a core, as req/s does. Each cycle gives on ÷ offA and, as an A/A control
 * measured by the same protocol in the same run, offB ÷ offA: the control
 * sizes the comparison's own noise (a fresh process's own speed, heap layout
 * and JIT decisions, differs from another's running the same code). Several
 * generations of fresh servers; the figure is the median cycle ratio with a
 * two-level bootstrap interval (generations, then cycles within each).
 *
 * Bound: the recorder calls one operation made (from the recording server's
 * own scrape) × each call's cost timed here, ÷ the CPU an operation costs
 * with recording off; plus the fixed cost of prom-client's process metrics
 * (all servers idle, CPU per second on − off) ÷ the recording server's CPU
 * per second under the workload.
 *
 * Workloads: read (GET /llm/room/:id in keep-alive loops), turns (rooms
 * posting their next message when agent:turn_end arrives, 50-word echo
 * replies, default coalescing), events (rooms streaming 300-word replies with
 * EVENT_COALESCE_MS=0; per durable event), fan-out (notes posted one at a
 * time to a room with many followers; per frame delivered).
 */
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { figure, type Figure } from "../lib/figure.js";
import { expectStatus, Follower, request } from "../lib/http.js";
import { log } from "../lib/log.js";
import { Recorder } from "../../src/metrics/metrics.recorder.js";
import { cpuSeconds, sleep } from "../lib/proc.js";
import { metricSum } from "../lib/prom.js";
import { rentEcho, startRoomservice, startTurn, token, wordsReply, type ServerHandle } from "../lib/roomservice.js";
import { max, median } from "../lib/stats.js";

/**
 * Nanoseconds every thread of the process has spent on a CPU so far (`run`)
 * and waiting on a run queue for one (`wait`): the first two fields of
 * /proc/<pid>/task/<tid>/schedstat, summed. A thread that ended in between
 * is no longer counted, which is why the servers' threads (all long-lived in
 * node) are what this is used on. Falls back to /proc/<pid>/stat (10 ms
 * ticks, no wait) where schedstat is missing.
 */
export function schedNs(pid: number): { run: number; wait: number } {
  try {
    let run = 0;
    let wait = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const [r, w] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ");
      run += Number(r);
      wait += Number(w);
    }
    return { run, wait };
  } catch {
    return { run: cpuSeconds(pid) * 1e9, wait: 0 };
  }
}

export const cpuNs = (pid: number): number => schedNs(pid).run;

/**
 * CPU ms each user-space process other than `exclude` has used so far
 * (/proc/<pid>/stat utime + stime, 10 ms ticks): other people's work on a
 * shared machine. Kernel threads are left out: the writeback and journal
 * threads work for the servers' own commits, so they are no sign of
 * anyone else. A process that starts and ends between two readings is
 * missed.
 */
export function otherProcessesMs(exclude: ReadonlySet<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || exclude.has(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[6]) & 0x00200000) continue; // PF_KTHREAD
      out.set(pid, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU ms the processes in `b` used since `a` (a process new in `b` counts from 0). */
export function otherProcessesUsed(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): number {
  let ms = 0;
  for (const [pid, v] of b) ms += v - (a.get(pid) ?? 0);
  return ms;
}

const isHangUp = (err: unknown) => err instanceof Error && /socket hang up|ECONNRESET/.test(err.message);

/**
 * One retry for set-up and scrape calls: a keep-alive socket that sat idle
 * past the server's keep-alive timeout can be closed by the server just as
 * it is reused ("socket hang up"), more often on a loaded machine.
 */
async function once<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isHangUp(err)) throw err;
    return await fn();
  }
}

/**
 * A 95% interval for the median of per-cycle ratios, by a two-level
 * bootstrap: resample generations, then cycles within each, since a
 * generation's own processes shift all its cycles alike. Seeded, so a run is
 * reproducible.
 */
export function medianInterval(byGeneration: number[][], resamples = 2000): [number, number] {
  // mulberry32: a plain LCG's low bits cycle (seed % 2 alternates), which made every resample alike.
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  const meds: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const pick: number[] = [];
    for (let g = 0; g < byGeneration.length; g++) {
      const cycles = byGeneration[rand(byGeneration.length)]!;
      for (let i = 0; i < cycles.length; i++) pick.push(cycles[rand(cycles.length)]!);
    }
    meds.push(median(pick));
  }
  meds.sort((a, b) => a - b);
  return [meds[Math.floor(resamples * 0.025)]!, meds[Math.ceil(resamples * 0.975) - 1]!];
}

/** Coefficient of variation (sample standard deviation ÷ mean). */
export function cv(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return Math.sqrt(v) / mean;
}

/**
 * A young generation of fixed size. V8 otherwise grows each process's
 * semi-spaces (1 to 16 MB) from its own early history, and that choice
 * stays: four servers of the same build driven alike differed by up to 25%
 * in CPU per durable event, two against two; with it fixed they moved
 * together window by window, mostly within 4% (one experiment each way).
 * 16 MB is where a busy server's young generation ends up anyway.
 */
const SERVER_NODE_ARGS = ["--min-semi-space-size=16", "--max-semi-space-size=16"];

/** `on` records; `offA` is the reference; `offB` is the A/A control (same build, same env as offA). */
export type Arm = "on" | "offA" | "offB";
const ARMS: readonly Arm[] = ["on", "offA", "offB"];
const METRICS_TOKEN = "bench-metrics-cost-0123456789abcdef0123";
const ARM_ENV: Record<Arm, Record<string, string>> = {
  on: { METRICS_ENABLED: "true", METRICS_TOKEN },
  offA: { METRICS_ENABLED: "false", METRICS_TOKEN },
  offB: { METRICS_ENABLED: "false", METRICS_TOKEN },
};

interface Target {
  arm: Arm;
  server: ServerHandle;
  token: string;
}

/** One workload: `prepare` sets it up on one server (rooms, followers) and returns its driver. */
interface Workload {
  id: string;
  name: string;
  unit: string;
  prepare(t: Target): Promise<Driver>;
}

interface Driver {
  /** Operations completed so far. */
  ops(): number;
  /**
   * Drives until `ops()` reaches `goal` or `untilMs` (a performance.now()
   * time) has passed, whichever comes first, then waits for the work in
   * flight; rejects on a failed operation.
   */
  runTo(goal: number, untilMs?: number): Promise<void>;
  close(): void;
}

/**
 * `workers` loops each running `one` back to back while `ops()` is short of
 * the goal; `one` resolves with how many operations it completed (what
 * `ops()` counts unless the workload counts elsewhere, e.g. frames at the
 * followers).
 */
function loops(workers: number, one: (worker: number) => Promise<number>, counted?: () => number): Driver {
  let done = 0;
  const ops = counted ?? (() => done);
  return {
    ops,
    async runTo(goal, untilMs = Number.POSITIVE_INFINITY) {
      await Promise.all(
        Array.from({ length: workers }, async (_, k) => {
          while (ops() < goal && performance.now() < untilMs) {
            try {
              // Not `done += await ...`: that reads `done` before the await and loses the other loops' counts.
              const m = await one(k);
              done += m;
            } catch (err) {
              // A keep-alive socket the server closed just as it was reused: the operation did not happen; go on.
              if (!isHangUp(err)) throw err;
            }
          }
        }),
      );
    },
    close() {},
  };
}

function readWorkload(connections: number): Workload {
  return {
    id: "read",
    name: "GET /llm/room/:id",
    unit: "request",
    async prepare(t) {
      const roomId = await once(() => rentEcho(t.server.base, t.token, { token_delay_ms: 0 }));
      // A room that has had a turn (usage, last_active_at), as the read-path figure reads.
      await once(() => startTurn(t.server.base, t.token, roomId));
      return loops(connections, async () => {
        const res = await request(t.server.base, "GET", `/llm/room/${roomId}`, { token: t.token });
        if (res.status !== 200) throw new Error(`read: HTTP ${res.status}`);
        return 1;
      });
    },
  };
}

/** Rooms that each post their next message when agent:turn_end arrives at their follower; counts turns, or durable events (countEvents). */
function turnsWorkload(o: { id: string; name: string; unit: string; rooms: number; replyWords: number; countEvents: boolean }): Workload {
  return {
    id: o.id,
    name: o.name,
    unit: o.unit,
    async prepare(t) {
      const reply = wordsReply(o.replyWords);
      const roomIds = await Promise.all(Array.from({ length: o.rooms }, () => once(() => rentEcho(t.server.base, t.token, { token_delay_ms: 0, reply }))));
      const followers = await Promise.all(roomIds.map((id) => Follower.open(t.server.base, id, t.token)));
      let n = 0;
      const drive = loops(
        o.rooms,
        async (k) => {
          const turnId = await startTurn(t.server.base, t.token, roomIds[k]!, `q${n++}`);
          const end = await followers[k]!.turnEnded(turnId, 30_000);
          if (end.status !== "completed") throw new Error(`${o.id}: turn ${turnId} ended ${end.status}`);
          return 1;
        },
        o.countEvents ? () => followers.reduce((a, f) => a + f.lastSeq, 0) : undefined,
      );
      return { ...drive, close: () => followers.forEach((f) => f.close()) };
    },
  };
}

function fanoutWorkload(nFollowers: number, inFlight: number): Workload {
  return {
    id: "fanout",
    name: `SSE fan-out, ${nFollowers} followers`,
    unit: "frame delivered",
    async prepare(t) {
      const base = t.server.base;
      const roomId = await once(() => rentEcho(base, t.token, { token_delay_ms: 0 }));
      const followers: Follower[] = [];
      for (let i = 0; i < nFollowers; i += 50) {
        followers.push(...(await Promise.all(Array.from({ length: Math.min(50, nFollowers - i) }, () => Follower.open(base, roomId, t.token)))));
      }
      let n = 0;
      const drive = loops(
        inFlight,
        async () => {
          await expectStatus(201, request(base, "POST", `/llm/room/${roomId}/messages`, { token: t.token, body: { kind: "note", content: `note ${n++}` } }), "post note");
          return 1;
        },
        () => followers.reduce((a, f) => a + f.frames, 0),
      );
      return { ...drive, close: () => followers.forEach((f) => f.close()) };
    },
  };
}

/** What the recording server counted, from its own scrape: how many recorder calls of each kind the work made. */
interface Calls {
  http: number;
  errors: number;
  commits: number;
  groups: number;
  fsyncs: number;
  turns: number;
  streamsClosed: number;
  replays: number;
}

async function recordedCalls(t: Target): Promise<Calls> {
  const res = await once(() => request(t.server.base, "GET", "/metrics", { token: METRICS_TOKEN }));
  if (res.status !== 200) throw new Error(`recording on: /metrics answered ${res.status}`);
  const text = String(res.body);
  const sum = (name: string) => metricSum(text, name);
  return {
    http: sum("roomservice_http_request_duration_seconds_count"),
    errors: sum("roomservice_http_errors_total"),
    commits: sum("roomservice_event_commit_seconds_count"),
    groups: sum("roomservice_group_commit_size_count"),
    fsyncs: sum("roomservice_wal_fsync_seconds_count"),
    turns: sum("roomservice_turns_started_total"),
    streamsClosed: sum("roomservice_sse_streams_closed_total"),
    replays: sum("roomservice_idempotent_replays_total"),
  };
}

/**
 * Nanoseconds one call of each recorder method costs, timed in this process
 * on a fresh Recorder over many calls (the fastest of several rounds): the
 * bound that needs no server. `turn` is one whole turn's record: started,
 * first token, ended.
 */
export function recorderCallNs(calls = 1_000_000, rounds = 5): Record<keyof Calls, number> {
  const r = new Recorder();
  const time = (fn: (i: number) => void): number => {
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k < rounds; k++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) fn(i);
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / calls);
    }
    return best;
  };
  const routes = ["/llm/room/:id", "/llm/room/:id/messages", "/llm/room/:id/events", "/llm/room"];
  const usage = { input: 12, output: 50, cost: { total: 0 } };
  return {
    http: time((i) => r.httpRequest(routes[i & 3]!, i & 4 ? "GET" : "POST", 200, i * 1e-9)),
    errors: time(() => r.httpError("NOT_FOUND")),
    // With the clock read the event log takes only for this call.
    commits: time((i) => r.eventsCommitted(1 + (i & 7), performance.now() * 1e-9)),
    groups: time((i) => r.groupCommit(1 + (i & 15))),
    // With the clock read that ends the fsync's timing.
    fsyncs: time(() => r.walFsynced(performance.now() * 1e-9)),
    turns: time(() => {
      const turn = r.turnStarted("local", "echo");
      turn.firstToken();
      turn.ended("completed", usage);
    }),
    streamsClosed: time(() => r.streamClosed("cancelled")),
    replays: time(() => r.idempotentReplay()),
  };
}

export interface MetricsCostCtx {
  /** A fresh directory per server. */
  dir: (name: string) => string;
  /** `--profile`: every server writes a V8 CPU profile here (then compare where the recording side's time goes). */
  cpuProfDir?: string;
  env: Record<string, string>;
  /** Generations of fresh servers (on, offA, offB), their start order rotated from one to the next. */
  generations: number;
  /** Palindromic cycles (each arm driven twice) per workload in each generation, at most. */
  cycles: number;
  /** No cycle past the second starts once a workload's windows in a generation have taken this long (a busy machine; the phase stays bounded). */
  budgetMs: number;
  /** Operations per window, per workload id: a fixed amount of work (about 200 ms of a server driven alone on a quiet 2-core machine). */
  windowOps: Record<string, number>;
  /** A window that has not done its work by then ends there (a machine far slower than expected). */
  windowCapMs: number;
  /** Uncounted drive of each server, alone, before its first window (JIT, page cache, first-use paths), in windows' worth of operations. */
  warmWindows: number;
  /** After a window's work has drained, before its CPU is read (late frames, deferred work). */
  settleMs: number;
  /**
   * A window during which other user-space processes (not the bench, not
   * the three servers) used more than this share of one CPU is "busy"; the
   * notes also give the ratios over the cycles that had no busy window.
   */
  busyShare: number;
  /** All three servers idle, after the recording one's first scrape: the fixed cost of recording. */
  idleMs: number;
  /** Workload ids to measure (default all: read, turns, events, fanout). */
  only?: readonly string[];
  readConnections: number;
  turnRooms: number;
  eventRooms: number;
  eventReplyWords: number;
  fanoutFollowers: number;
  fanoutInFlight: number;
  target: number;
}

interface Group {
  name: string;
  env: Record<string, string>;
  workloads: Workload[];
}

interface Window {
  generation: number;
  cycle: number;
  arm: Arm;
  ops: number;
  cpuMs: number;
  /** Time the server's threads were runnable but waited for a core: how much the rest of the machine got in the way. */
  waitMs: number;
  /** CPU time other user-space processes (not the bench, not the three servers) used during the window, to 10 ms a process. */
  foreignMs: number;
  wallMs: number;
  /** foreignMs was over busyShare of the window. */
  busy: boolean;
  /** Ended at windowCapMs short of its goal (the next window of the server catches up). */
  short: boolean;
  nsPerOp: number;
}

interface Result {
  w: Workload;
  /** Operations per window (MetricsCostCtx.windowOps). */
  windowOps: number;
  windows: Window[];
  /** Recorder calls the recording server made between two scrapes, and the operations it completed in between. */
  calls: Calls;
  ops: number;
}

/** Starts a generation's three servers and checks each is what it claims. */
async function startGeneration(c: MetricsCostCtx, group: Group, generation: number, order: readonly Arm[]): Promise<Record<Arm, Target>> {
  const targets = {} as Record<Arm, Target>;
  try {
    // All three at once (their start-up is not measured); a server that fails to start still leaves the others to be stopped.
    const started = await Promise.allSettled(
      order.map(async (arm) => {
        const name = `metrics-${group.name}-${arm}-${generation + 1}`;
        const dataDir = c.dir(name);
        const tok = await token(dataDir, "bench");
        const server = await startRoomservice(name, dataDir, { ...c.env, ...group.env, ...ARM_ENV[arm] }, { nodeArgs: SERVER_NODE_ARGS, ...(c.cpuProfDir ? { cpuProfDir: c.cpuProfDir } : {}) });
        targets[arm] = { arm, server, token: tok };
      }),
    );
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;

    // off refuses the scrape with METRICS_DISABLED; on scrapes (recordedCalls), which also starts prom-client's process metrics as Prometheus would.
    for (const arm of ["offA", "offB"] as const) {
      const off = await once(() => request(targets[arm].server.base, "GET", "/metrics", { token: METRICS_TOKEN }));
      if (off.status !== 404 || (off.body as { code?: string }).code !== "METRICS_DISABLED") throw new Error(`${arm}: /metrics answered ${off.status}, not 404 METRICS_DISABLED`);
    }
    await recordedCalls(targets.on);
    return targets;
  } catch (err) {
    await Promise.all(Object.values(targets).map((t) => t.server.stop()));
    throw err;
  }
}

const ZERO_CALLS: Calls = { http: 0, errors: 0, commits: 0, groups: 0, fsyncs: 0, turns: 0, streamsClosed: 0, replays: 0 };
const CALL_KINDS = Object.keys(ZERO_CALLS) as (keyof Calls)[];
/** a + sign × b, kind by kind. */
const combine = (a: Calls, b: Calls, sign: 1 | -1): Calls => Object.fromEntries(CALL_KINDS.map((k) => [k, a[k] + sign * b[k]])) as unknown as Calls;

/**
 * One workload on one generation: set up on all three servers, warm each
 * alone, then `cycles` palindromic cycles of windows, one server driven at a
 * time. A window is a fixed number of operations; its CPU is the driven
 * server's, read before the drive starts and after its work has drained.
 */
async function measureWorkload(c: MetricsCostCtx, res: Result, tg: Record<Arm, Target>, generation: number, order: readonly Arm[]): Promise<void> {
  const d = {} as Record<Arm, Driver>;
  /** The processes that are not the bench: this one, its parents (npm, tsx) and the three servers. */
  const ours = new Set([process.pid, process.ppid, ...ARMS.map((arm) => tg[arm].server.pid())]);
  const othersMs = () => otherProcessesMs(ours);
  try {
    for (const arm of order) d[arm] = await res.w.prepare(tg[arm]);
    // Every goal is counted from the same start on every server, so each server has done the same work when a
    // window ends: what comes every so many operations (a WAL checkpoint, a GC) falls in the same window on each,
    // and an overshoot (work in flight at a goal) does not add up from window to window.
    const goal = {} as Record<Arm, number>;
    for (const arm of order) {
      goal[arm] = d[arm].ops() + c.warmWindows * res.windowOps;
      await d[arm].runTo(goal[arm], performance.now() + c.warmWindows * c.windowCapMs);
    }
    const before = await recordedCalls(tg.on);
    const onOps0 = d.on.ops();
    const sequence = [...order, ...[...order].reverse()];
    const deadline = performance.now() + c.budgetMs;
    for (let k = 0; k < c.cycles && (k < 2 || performance.now() < deadline); k++) {
      for (const arm of sequence) {
        {
          const pid = tg[arm].server.pid();
          const ops0 = d[arm].ops();
          const others0 = othersMs();
          const s0 = schedNs(pid);
          const t0 = performance.now();
          goal[arm] += res.windowOps;
          // Capped in time, so a machine far slower than this one was when the counts were chosen still ends the phase.
          await d[arm].runTo(goal[arm], t0 + c.windowCapMs);
          await sleep(c.settleMs);
          const s1 = schedNs(pid);
          const others1 = othersMs();
          const wallMs = performance.now() - t0;
          const ops = d[arm].ops() - ops0;
          const cpu = s1.run - s0.run;
          if (!(ops > 0)) throw new Error(`${res.w.id} ${arm}: no operation completed in a window`);
          const foreignMs = otherProcessesUsed(others0, others1);
          const busy = foreignMs > c.busyShare * wallMs;
          res.windows.push({ generation: generation + 1, cycle: k + 1, arm, ops, cpuMs: cpu / 1e6, waitMs: (s1.wait - s0.wait) / 1e6, foreignMs, wallMs, nsPerOp: cpu / ops, busy, short: d[arm].ops() < goal[arm] });
        }
      }
    }
    const after = await recordedCalls(tg.on);
    res.ops += d.on.ops() - onOps0;
    res.calls = combine(res.calls, combine(after, before, -1), 1);
  } finally {
    for (const arm of ARMS) d[arm]?.close();
  }
}

/**
 * What recording costs a server doing nothing: the recording server has
 * been scraped (prom-client's process metrics run: an event-loop delay
 * monitor whose timer wakes the loop, a GC observer), then all three sit
 * idle over the same window, after the workloads (start-up work over). ms of CPU per second, on − the mean of the offs.
 */
async function idleCost(c: MetricsCostCtx, tg: Record<Arm, Target>): Promise<number> {
  await sleep(300);
  const read = () => Object.fromEntries(ARMS.map((a) => [a, cpuNs(tg[a].server.pid())])) as Record<Arm, number>;
  const a = read();
  await sleep(c.idleMs);
  const b = read();
  return (b.on - a.on - (b.offA - a.offA + (b.offB - a.offB)) / 2) / 1e6 / (c.idleMs / 1000);
}

/**
 * Each cycle's num ÷ den, CPU per operation over the arm's two windows (Σ
 * CPU ÷ Σ ops), by generation; `cleanOnly` keeps only the cycles none of
 * whose windows was busy.
 */
function cycleRatios(windows: readonly Window[], generations: number, num: Arm, den: Arm, cleanOnly = false): number[][] {
  return Array.from({ length: generations }, (_, g) => {
    const inGen = windows.filter((w) => w.generation === g + 1);
    const cycles = [...new Set(inGen.map((w) => w.cycle))].filter((k) => !cleanOnly || !inGen.some((w) => w.cycle === k && w.busy));
    return cycles.map((k) => {
      const per = (arm: Arm) => {
        const ws = inGen.filter((w) => w.cycle === k && w.arm === arm);
        return ws.reduce((a, w) => a + w.cpuMs, 0) / ws.reduce((a, w) => a + w.ops, 0);
      };
      return per(num) / per(den);
    });
  }).filter((r) => r.length > 0);
}

const f3 = (x: number) => x.toFixed(3);
const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;

export async function metricsCost(c: MetricsCostCtx): Promise<Figure[]> {
  const idle: number[] = [];
  const load0 = os.loadavg();
  const t0 = performance.now();
  const wanted = (id: string) => !c.only || c.only.includes(id);
  const all: Group[] = [
    {
      name: "default",
      env: {},
      workloads: [
        readWorkload(c.readConnections),
        turnsWorkload({ id: "turns", name: `turns, ${c.turnRooms} rooms back to back (50 words)`, unit: "turn", rooms: c.turnRooms, replyWords: 50, countEvents: false }),
      ],
    },
    {
      name: "stream",
      env: { EVENT_COALESCE_MS: "0" },
      workloads: [
        turnsWorkload({ id: "events", name: `streamed events, ${c.eventRooms} rooms (EVENT_COALESCE_MS=0)`, unit: "durable event", rooms: c.eventRooms, replyWords: c.eventReplyWords, countEvents: true }),
        fanoutWorkload(c.fanoutFollowers, c.fanoutInFlight),
      ],
    },
  ];
  const groups = all.map((g) => ({ ...g, workloads: g.workloads.filter((w) => wanted(w.id)) })).filter((g) => g.workloads.length > 0);
  const results: Result[] = groups.flatMap((g) => g.workloads.map((w) => ({ w, windowOps: c.windowOps[w.id] ?? 1000, windows: [], calls: { ...ZERO_CALLS }, ops: 0 })));
  for (let g = 0; g < c.generations; g++) {
    const order = ARMS.map((_, i) => ARMS[(i + g) % ARMS.length]!);
    for (const group of groups) {
      const targets = await startGeneration(c, group, g, order);
      try {
        for (const w of group.workloads) {
          const res = results.find((r) => r.w === w)!;
          await measureWorkload(c, res, targets, g, order);
          const mine = res.windows.filter((x) => x.generation === g + 1);
          const gen = (num: Arm) => cycleRatios(mine, g + 1, num, "offA").flat();
          log(`metrics cost ${w.id}, generation ${g + 1} (${order.join(",")}; ${res.windowOps} ops per window): on/offA per cycle [${gen("on").map(f3).join(", ")}], offB/offA [${gen("offB").map(f3).join(", ")}]`);
        }
        // After the workloads, when start-up and first-use work is long over.
        idle.push(await idleCost(c, targets));
      } finally {
        await Promise.all(ARMS.map((a) => targets[a].server.stop()));
      }
    }
  }
  const load1 = os.loadavg();
  const elapsedS = (performance.now() - t0) / 1000;
  const callNs = recorderCallNs();
  const bounds: { id: string; unit: string; share: number; text: string }[] = [];
  const callNote = `recorder call cost in this process (ns, fastest of 5 rounds of 10^6): ${Object.entries(callNs).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}.`;
  const figures = results.map(({ w, windowOps, windows, calls, ops }) => {
    const us = (arm: Arm) => windows.filter((b) => b.arm === arm).map((b) => b.nsPerOp / 1000);
    const on = us("on");
    const off = us("offA");
    const byGen = cycleRatios(windows, c.generations, "on", "offA");
    const aaByGen = cycleRatios(windows, c.generations, "offB", "offA");
    const ratio = median(byGen.flat());
    const [lo, hi] = medianInterval(byGen);
    const aa = median(aaByGen.flat());
    const [aaLo, aaHi] = medianInterval(aaByGen);
    // Per-window spread of CPU per operation, per server (generation × arm), trend included.
    const cvs = Array.from({ length: c.generations }, (_, g) => ARMS.map((arm) => cv(windows.filter((b) => b.generation === g + 1 && b.arm === arm).map((b) => b.nsPerOp)))).flat();
    // The bound: every recorder call the recording side made while measured, at its timed cost, per operation, as a share of what an operation costs with recording off.
    const perOp = (k: keyof Calls) => calls[k] / ops;
    const boundNs = CALL_KINDS.reduce((a, k) => a + perOp(k) * callNs[k], 0);
    const callShare = boundNs / (median(off) * 1000);
    // The fixed cost (process metrics) against the CPU the recording server spent per second under this workload.
    const onWindows = windows.filter((b) => b.arm === "on");
    const busyMsPerS = median(onWindows.map((b) => (b.cpuMs / b.wallMs) * 1000));
    const fixedShare = Math.max(0, median(idle)) / busyMsPerS;
    const share = callShare + fixedShare;
    bounds.push({
      id: w.id,
      unit: w.unit,
      share,
      text: `${w.id}: per ${w.unit} ${CALL_KINDS.filter((k) => calls[k] > 0).map((k) => `${perOp(k).toPrecision(3)} ${k}`).join(", ")} → ${boundNs.toFixed(1)} ns of ${(median(off) * 1000).toFixed(0)} ns = ${(callShare * 100).toFixed(4)}%; plus the idle cost ${median(idle).toFixed(2)} ms/s of the ${busyMsPerS.toFixed(0)} ms/s the recording server used = ${(fixedShare * 100).toFixed(3)}%; ${(share * 100).toFixed(3)}% in all.`,
    });
    const nCycles = byGen.flat().length;
    const busy = windows.filter((b) => b.busy).length;
    const cleanByGen = cycleRatios(windows, c.generations, "on", "offA", true);
    const cleanAa = cycleRatios(windows, c.generations, "offB", "offA", true);
    const [cleanLo, cleanHi] = cleanByGen.length ? medianInterval(cleanByGen) : [Number.NaN, Number.NaN];
    const [cleanAaLo, cleanAaHi] = cleanAa.length ? medianInterval(cleanAa) : [Number.NaN, Number.NaN];
    const planned = c.generations * c.cycles;
    return figure({
      id: `metrics_cost_${w.id}`,
      name: `metrics on ÷ off: server CPU per ${w.unit}, ${w.name}`,
      unit: "µs CPU",
      stat: `server CPU µs per ${w.unit} with METRICS_ENABLED=true, median over ${on.length} windows of ${windowOps} ${w.unit}s, each server driven alone`,
      median: median(on),
      p99: max(on),
      p99Label: "worst window",
      baseline: { name: "METRICS_ENABLED=false", unit: "µs CPU", median: median(off), p99: max(off) },
      ratio,
      ratioOf: `median over ${nCycles} palindromic cycles (${c.generations} generations of fresh servers × up to ${c.cycles}${nCycles < planned ? `; ${planned - nCycles} not run, past the time budget` : ""}; each server driven alone) of on µs/${w.unit} ÷ offA µs/${w.unit}`,
      target: `≤ ${c.target}× off`,
      pass: ratio <= c.target,
      runs: windows,
      notes: [
        `on ÷ off: median ${f3(ratio)}, 95% interval ${f3(lo)} to ${f3(hi)} (upper end ${hi <= c.target ? "≤" : ">"} ${c.target}); A/A control offB ÷ offA (two off servers, same protocol, same run): median ${f3(aa)}, 95% interval ${f3(aaLo)} to ${f3(aaHi)}. Intervals: two-level bootstrap over generations and their cycles.`,
        `per generation, median cycle ratio: on ÷ off [${byGen.map((r) => f3(median(r))).join(", ")}], A/A [${aaByGen.map((r) => f3(median(r))).join(", ")}]; per cycle on ÷ off [${byGen.flat().map(f3).join(", ")}], A/A [${aaByGen.flat().map(f3).join(", ")}].`,
        `per-window CPU per ${w.unit}: coefficient of variation within each server's windows, median ${pct(median(cvs))}, worst ${pct(max(cvs))} (${cvs.length} servers; a server's drift over its windows included); of the A/A cycle ratios ${pct(cv(aaByGen.flat()))}. A window is ${windowOps} ${w.unit}s, median ${median(windows.map((b) => b.wallMs)).toFixed(0)} ms (${windows.filter((b) => b.short).length} cut short at ${c.windowCapMs} ms), after ${c.warmWindows} windows' worth of uncounted drive per server.`,
        `other processes: ${busy} of ${windows.length} windows were busy (other user-space processes used more than ${pct(c.busyShare, 0)} of a CPU during them; median over all windows ${pct(median(windows.map((b) => b.foreignMs / b.wallMs)), 0)} of a CPU). ${
          cleanByGen.length ? `Over the ${cleanByGen.flat().length} cycles with no busy window: on ÷ off median ${f3(median(cleanByGen.flat()))}, 95% interval ${f3(cleanLo)} to ${f3(cleanHi)}; A/A ${f3(median(cleanAa.flat()))}, ${f3(cleanAaLo)} to ${f3(cleanAaHi)}.` : "No cycle was free of busy windows."
        }${busy > windows.length / 4 ? " A busy machine inflates CPU per operation unevenly (caches, run-queue waits): read the A/A interval before the verdict, and re-run on a quiet machine." : ""}`,
        `CPU = Σ over the server's threads of /proc/<pid>/task/<tid>/schedstat (ns on a CPU), read before a window's drive and ${c.settleMs} ms after its work drained; window order per cycle on, offA, offB, offB, offA, on, rotated per generation; every window ends at the same operation count (from the server's start) on every server. The recording server is scraped before its windows, so prom-client's process metrics (GC observer, event-loop delay monitor) run during them, as they do under Prometheus.`,
        `servers run with ${SERVER_NODE_ARGS.join(" ")} (a process's own young-generation sizing otherwise made one up to 25% dearer per event than another); not pinned to CPUs (a read cost 88 to 103 µs of server CPU with the client on CPU 0 and the server on CPU 1, 51 to 57 µs unpinned); load average (1 min) at the phase's start ${load0[0]!.toFixed(2)}, at its end ${load1[0]!.toFixed(2)}; ${os.cpus().length} CPUs; the phase took ${elapsedS.toFixed(0)} s.`,
      ],
    });
  });
  const worst = bounds.reduce((a, b) => (b.share > a.share ? b : a), bounds[0]!);
  figures.push(
    figure({
      id: "metrics_cost_bound",
      name: "metrics recorder calls ÷ server CPU, worst workload",
      unit: "%",
      stat: "per workload: recorder calls per operation (the recording server's own scrape) × each call's timed cost ÷ CPU per operation with recording off, plus the idle cost (process metrics) ÷ the recording server's CPU per second",
      median: worst.share * 100,
      p99: null,
      target: `≤ ${((c.target - 1) * 100).toFixed(0)}%`,
      pass: worst.share <= c.target - 1,
      runs: bounds,
      notes: [
        ...bounds.map((b) => b.text),
        callNote,
        `idle cost per generation and server group (ms of CPU per second, recording on − the mean of the two off servers, all three idle ${c.idleMs} ms after the generation's workloads; the recording one has been scraped, so prom-client's process metrics run): [${idle.map((x) => x.toFixed(2)).join(", ")}].`,
        "Each call is timed with the clock reads that exist only for it (a turn's start, first-token and end times, the event log's commit time); a request's duration and route template are computed with recording off too (the access log uses them).",
      ],
    }),
  );
  return figures;
}
