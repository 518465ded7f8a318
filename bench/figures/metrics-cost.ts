/**
 * What recording metrics costs (issue #17: no figure may move by more than
 * 3%), two ways.
 *
 * A/B: the same build runs as a pair of servers, METRICS_ENABLED=true (the
 * default) and METRICS_ENABLED=false (the no-op recorder). Both are driven
 * at once by identical client loops and measured over the same windows, so
 * whatever the rest of a shared machine does during a window, it does to
 * both. The statistic is server CPU time per operation: Σ over the server's
 * threads (JS, GC helpers, libuv's pool) of /proc/<pid>/task/<tid>/schedstat
 * (ns on a CPU) at the window's edges ÷ the operations completed in it; it
 * does not count time spent waiting for a core, as req/s does. A process's
 * own speed differs from another's running the same code by a few %, so
 * several fresh pairs are started (on-first and off-first in turn); each
 * window gives one on ÷ off ratio, and the figure is their median with a
 * bootstrap interval.
 *
 * Bound: the recorder calls one operation made (from the recording server's
 * own scrape) × each call's cost timed here, ÷ the CPU an operation costs
 * with recording off; plus the fixed cost of prom-client's process metrics
 * (both servers idle, CPU per second on − off) ÷ the recording server's CPU
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
import { rentEcho, startRoomservice, startTurn, token, wordsReply, type ServerHandle } from "../lib/roomservice.js";
import { max, median, min } from "../lib/stats.js";

/**
 * Nanoseconds every thread of the process has spent on a CPU so far. A
 * thread that ended in between is no longer counted, which is why the
 * servers' threads (all long-lived in node) are what this is used on.
 * Falls back to /proc/<pid>/stat (10 ms ticks) where schedstat is missing.
 */
export function cpuNs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8");
      ns += Number(s.slice(0, s.indexOf(" ")));
    }
    return ns;
  } catch {
    return cpuSeconds(pid) * 1e9;
  }
}

/**
 * One retry for set-up and scrape calls: a keep-alive socket that sat idle
 * past the server's keep-alive timeout can be closed by the server just as
 * it is reused ("socket hang up"), more often on a loaded machine.
 */
async function once<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof Error) || !/socket hang up|ECONNRESET/.test(err.message)) throw err;
    return await fn();
  }
}

/**
 * A 95% interval for the median on ÷ off ratio, by a two-level bootstrap:
 * resample server pairs, then windows within each, since a pair's own
 * processes shift all its windows alike. Seeded, so a run is reproducible.
 */
export function medianInterval(byPair: number[][], resamples = 2000): [number, number] {
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed % n;
  };
  const meds: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const pick: number[] = [];
    for (let g = 0; g < byPair.length; g++) {
      const windows = byPair[rand(byPair.length)]!;
      for (let i = 0; i < windows.length; i++) pick.push(windows[rand(windows.length)]!);
    }
    meds.push(median(pick));
  }
  meds.sort((a, b) => a - b);
  return [meds[Math.floor(resamples * 0.025)]!, meds[Math.ceil(resamples * 0.975) - 1]!];
}

export type Side = "on" | "off";
const METRICS_TOKEN = "bench-metrics-cost-0123456789abcdef0123";
const SIDES_ENV: Record<Side, Record<string, string>> = { on: { METRICS_ENABLED: "true", METRICS_TOKEN }, off: { METRICS_ENABLED: "false", METRICS_TOKEN } };

interface Target {
  side: Side;
  server: ServerHandle;
  token: string;
}

/** One workload: `prepare` sets it up on one server (rooms, followers); `start` drives it continuously until `stop`. */
interface Workload {
  id: string;
  name: string;
  unit: string;
  prepare(t: Target, problems: string[]): Promise<Prepared>;
}

interface Prepared {
  start(): void;
  /** Operations completed so far. */
  ops(): number;
  /** Ends the drive and waits for the work in flight. */
  stop(): Promise<void>;
}

/** Runs `one` in `workers` loops until stopped, counting completions; a failure is a problem and ends that loop. */
function loops(workers: number, one: (worker: number) => Promise<number>, problems: string[]): Prepared & { done: number } {
  let stopped = true;
  let running: Promise<void>[] = [];
  const p = {
    done: 0,
    start() {
      stopped = false;
      running = Array.from({ length: workers }, async (_, k) => {
        while (!stopped) {
          try {
            // Not `p.done += await ...`: that reads p.done before the await and loses the other loops' counts.
            const n = await one(k);
            p.done += n;
          } catch (err) {
            // A keep-alive socket the server closed just as it was reused: the operation did not happen; go on.
            if (err instanceof Error && /socket hang up|ECONNRESET/.test(err.message)) continue;
            problems.push(err instanceof Error ? err.message : String(err));
            return;
          }
        }
      });
    },
    ops: () => p.done,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
  return p;
}

function readWorkload(connections: number): Workload {
  return {
    id: "read",
    name: "GET /llm/room/:id",
    unit: "request",
    async prepare(t, problems) {
      const roomId = await once(() => rentEcho(t.server.base, t.token, { token_delay_ms: 0 }));
      // A room that has had a turn (usage, last_active_at), as the read-path figure reads.
      await once(() => startTurn(t.server.base, t.token, roomId));
      return loops(
        connections,
        async () => {
          const res = await request(t.server.base, "GET", `/llm/room/${roomId}`, { token: t.token });
          if (res.status !== 200) throw new Error(`read: HTTP ${res.status}`);
          return 1;
        },
        problems,
      );
    },
  };
}

/** Rooms that each post their next message when agent:turn_end arrives at their follower; counts turns, or durable events (countEvents). */
function turnsWorkload(o: { id: string; name: string; unit: string; rooms: number; replyWords: number; countEvents: boolean }): Workload {
  return {
    id: o.id,
    name: o.name,
    unit: o.unit,
    async prepare(t, problems) {
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
        problems,
      );
      return {
        start: () => drive.start(),
        ops: () => (o.countEvents ? followers.reduce((a, f) => a + f.lastSeq, 0) : drive.done),
        async stop() {
          await drive.stop();
          for (const f of followers) f.close();
        },
      };
    },
  };
}

function fanoutWorkload(nFollowers: number, inFlight: number): Workload {
  return {
    id: "fanout",
    name: `SSE fan-out, ${nFollowers} followers`,
    unit: "frame delivered",
    async prepare(t, problems) {
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
        problems,
      );
      return {
        start: () => drive.start(),
        ops: () => followers.reduce((a, f) => a + f.frames, 0),
        async stop() {
          await drive.stop();
          for (const f of followers) f.close();
        },
      };
    },
  };
}

/** What the recording server counted, from its own scrape: how many recorder calls of each kind the work made. */
interface Calls {
  http: number;
  errors: number;
  commits: number;
  groups: number;
  turns: number;
  streamsClosed: number;
  replays: number;
}

async function recordedCalls(t: Target): Promise<Calls> {
  const res = await once(() => request(t.server.base, "GET", "/metrics", { token: METRICS_TOKEN }));
  if (res.status !== 200) throw new Error(`recording on: /metrics answered ${res.status}`);
  const sum = (name: string) => {
    let n = 0;
    for (const line of String(res.body).split("\n")) if (line.startsWith(name) && (line[name.length] === "{" || line[name.length] === " ")) n += Number(line.slice(line.lastIndexOf(" ") + 1));
    return n;
  };
  return {
    http: sum("roomservice_http_request_duration_seconds_count"),
    errors: sum("roomservice_http_errors_total"),
    commits: sum("roomservice_event_commit_seconds_count"),
    groups: sum("roomservice_group_commit_size_count"),
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
  /** Fresh on/off server pairs, started in alternating order: a process's own speed (heap layout, JIT) differs by a few % from another's running the same code. */
  generations: number;
  /** Measuring windows per workload in each generation, and their length. */
  windows: number;
  windowMs: number;
  /** Uncounted drive before the first window (JIT, page cache, first-use paths). */
  warmMs: number;
  /** Both servers of a pair idle, after the recording one's first scrape: the fixed cost of recording. */
  idleMs: number;
  readConnections: number;
  turnRooms: number;
  eventRooms: number;
  eventReplyWords: number;
  fanoutFollowers: number;
  fanoutInFlight: number;
  target: number;
}

interface Pair {
  name: string;
  env: Record<string, string>;
  workloads: Workload[];
}

interface Window {
  generation: number;
  window: number;
  on: { ops: number; cpuMs: number; nsPerOp: number };
  off: { ops: number; cpuMs: number; nsPerOp: number };
  ratio: number;
}

interface Result {
  w: Workload;
  windows: Window[];
  /** Recorder calls the recording side made between two scrapes, and the operations it completed in between. */
  calls: Calls;
  ops: number;
}

async function startPair(c: MetricsCostCtx, pair: Pair, generation: number): Promise<Record<Side, Target>> {
  const targets = {} as Record<Side, Target>;
  for (const side of generation % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
    const name = `metrics-${pair.name}-${side}-${generation + 1}`;
    const dataDir = c.dir(name);
    const tok = await token(dataDir, "bench");
    const server = await startRoomservice(name, dataDir, { ...c.env, ...pair.env, ...SIDES_ENV[side] }, c.cpuProfDir ? { cpuProfDir: c.cpuProfDir } : {});
    targets[side] = { side, server, token: tok };
  }
  // Each side is what it claims: off refuses the scrape with METRICS_DISABLED (on scrapes in recordedCalls).
  const off = await once(() => request(targets.off.server.base, "GET", "/metrics", { token: METRICS_TOKEN }));
  if (off.status !== 404 || (off.body as { code?: string }).code !== "METRICS_DISABLED") throw new Error(`recording off: /metrics answered ${off.status}, not 404 METRICS_DISABLED`);
  return targets;
}

const ZERO_CALLS: Calls = { http: 0, errors: 0, commits: 0, groups: 0, turns: 0, streamsClosed: 0, replays: 0 };
const CALL_KINDS = Object.keys(ZERO_CALLS) as (keyof Calls)[];
/** a + sign × b, kind by kind. */
const combine = (a: Calls, b: Calls, sign: 1 | -1): Calls => Object.fromEntries(CALL_KINDS.map((k) => [k, a[k] + sign * b[k]])) as unknown as Calls;

/**
 * Both servers of a pair are driven at once, each by its own identical
 * client loops, and measured over the same windows: whatever the rest of
 * the machine does during a window, it does to both sides.
 */
async function measureWorkload(c: MetricsCostCtx, w: Workload, tg: Record<Side, Target>, generation: number, res: Result): Promise<void> {
  const problems: string[] = [];
  const p = { on: await w.prepare(tg.on, problems), off: await w.prepare(tg.off, problems) };
  const snap = (side: Side) => ({ cpu: cpuNs(tg[side].server.pid()), ops: p[side].ops() });
  try {
    p.on.start();
    p.off.start();
    await sleep(c.warmMs);
    const before = await recordedCalls(tg.on);
    const ops0 = p.on.ops();
    for (let i = 0; i < c.windows; i++) {
      const a = { on: snap("on"), off: snap("off") };
      await sleep(c.windowMs);
      const b = { on: snap("on"), off: snap("off") };
      const side = (s: Side) => {
        const ops = b[s].ops - a[s].ops;
        const cpu = b[s].cpu - a[s].cpu;
        if (!(ops > 0)) throw new Error(`${w.id} ${s}: no operation completed in a ${c.windowMs} ms window${problems.length ? `; first problem: ${problems[0]}` : ""}`);
        return { ops, cpuMs: cpu / 1e6, nsPerOp: cpu / ops };
      };
      const on = side("on");
      const off = side("off");
      res.windows.push({ generation: generation + 1, window: i + 1, on, off, ratio: on.nsPerOp / off.nsPerOp });
    }
    const after = await recordedCalls(tg.on);
    res.ops += p.on.ops() - ops0;
    res.calls = combine(res.calls, combine(after, before, -1), 1);
  } finally {
    await Promise.all([p.on.stop(), p.off.stop()]);
  }
  if (problems.length) throw new Error(`${w.id}: ${problems.length} problems, first: ${problems.slice(0, 3).join("; ")}`);
}

/**
 * What recording costs a server doing nothing: the recording side is
 * scraped first, which starts prom-client's process metrics (an event-loop
 * delay monitor whose timer wakes the loop, a GC observer), then both sides
 * sit idle over the same window. ms of CPU per second, on − off.
 */
async function idleCost(c: MetricsCostCtx, tg: Record<Side, Target>): Promise<number> {
  await recordedCalls(tg.on);
  await sleep(200);
  const a = { on: cpuNs(tg.on.server.pid()), off: cpuNs(tg.off.server.pid()) };
  await sleep(c.idleMs);
  const b = { on: cpuNs(tg.on.server.pid()), off: cpuNs(tg.off.server.pid()) };
  return (b.on - a.on - (b.off - a.off)) / 1e6 / (c.idleMs / 1000);
}

export async function metricsCost(c: MetricsCostCtx): Promise<Figure[]> {
  const idle: number[] = [];
  const load0 = os.loadavg();
  const pairs: Pair[] = [
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
  const results: Result[] = pairs.flatMap((p) => p.workloads.map((w) => ({ w, windows: [], calls: { ...ZERO_CALLS }, ops: 0 })));
  for (let g = 0; g < c.generations; g++) {
    for (const pair of pairs) {
      let targets: Record<Side, Target> | null = null;
      try {
        targets = await startPair(c, pair, g);
        idle.push(await idleCost(c, targets));
        for (const w of pair.workloads) {
          const res = results.find((r) => r.w === w)!;
          await measureWorkload(c, w, targets, g, res);
          log(`metrics cost ${w.id}, server pair ${g + 1}: on/off per window [${res.windows.filter((x) => x.generation === g + 1).map((x) => x.ratio.toFixed(3)).join(", ")}]`);
        }
      } finally {
        if (targets) await Promise.all([targets.on.server.stop(), targets.off.server.stop()]);
      }
    }
  }
  const load1 = os.loadavg();
  const callNs = recorderCallNs();
  const bounds: { id: string; unit: string; share: number; text: string }[] = [];
  const callNote = `recorder call cost in this process (ns, fastest of 5 rounds of 10^6): ${Object.entries(callNs).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}.`;
  const figures = results.map(({ w, windows, calls, ops }) => {
    const ratios = windows.map((b) => b.ratio);
    const on = windows.map((b) => b.on.nsPerOp / 1000);
    const off = windows.map((b) => b.off.nsPerOp / 1000);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const pooled = sum(windows.map((b) => b.on.cpuMs)) / sum(windows.map((b) => b.on.ops)) / (sum(windows.map((b) => b.off.cpuMs)) / sum(windows.map((b) => b.off.ops)));
    const byPair = Array.from({ length: c.generations }, (_, g) => windows.filter((b) => b.generation === g + 1).map((b) => b.ratio));
    const [lo, hi] = medianInterval(byPair);
    const ratio = median(ratios);
    // The bound: every recorder call the recording side made while measured, at its timed cost, per operation, as a share of what an operation costs with recording off.
    const perOp = (k: keyof Calls) => calls[k] / ops;
    const boundNs = CALL_KINDS.reduce((a, k) => a + perOp(k) * callNs[k], 0);
    const callShare = boundNs / (median(off) * 1000);
    // The fixed cost (process metrics) against the CPU the recording server spent per second under this workload.
    const busyMsPerS = median(windows.map((b) => b.on.cpuMs)) / (c.windowMs / 1000);
    const fixedShare = Math.max(0, median(idle)) / busyMsPerS;
    const share = callShare + fixedShare;
    bounds.push({
      id: w.id,
      unit: w.unit,
      share,
      text: `${w.id}: per ${w.unit} ${CALL_KINDS.filter((k) => calls[k] > 0).map((k) => `${perOp(k).toPrecision(3)} ${k}`).join(", ")} → ${boundNs.toFixed(1)} ns of ${(median(off) * 1000).toFixed(0)} ns = ${(callShare * 100).toFixed(4)}%; plus the idle cost ${median(idle).toFixed(2)} ms/s of the ${busyMsPerS.toFixed(0)} ms/s the recording server used = ${(fixedShare * 100).toFixed(3)}%; ${(share * 100).toFixed(3)}% in all.`,
    });
    return figure({
      id: `metrics_cost_${w.id}`,
      name: `metrics on ÷ off: server CPU per ${w.unit}, ${w.name}`,
      unit: "µs CPU",
      stat: `server CPU µs per ${w.unit} with METRICS_ENABLED=true, median over ${windows.length} windows`,
      median: median(on),
      p99: max(on),
      p99Label: "worst window",
      baseline: { name: "METRICS_ENABLED=false", unit: "µs CPU", median: median(off), p99: max(off) },
      ratio,
      ratioOf: `median over ${windows.length} windows (${c.generations} fresh server pairs × ${c.windows}, both sides driven at once) of on µs/${w.unit} ÷ off µs/${w.unit}`,
      target: `≤ ${c.target}× off`,
      pass: ratio <= c.target,
      runs: windows,
      notes: [
        `on ÷ off: median ${ratio.toFixed(3)}, 95% interval ${lo.toFixed(3)} to ${hi.toFixed(3)} (two-level bootstrap over server pairs and their windows); median per server pair [${byPair.map((r) => median(r).toFixed(3)).join(", ")}]; pooled (Σ on CPU ÷ Σ on ops) ÷ (Σ off CPU ÷ Σ off ops) = ${pooled.toFixed(3)}.`,
        `per window [${ratios.map((r) => r.toFixed(3)).join(", ")}].`,
        `${c.windowMs} ms windows after ${c.warmMs} ms of uncounted drive; ops per window median on ${median(windows.map((b) => b.on.ops))}, off ${median(windows.map((b) => b.off.ops))}; server CPU per window median on ${median(windows.map((b) => b.on.cpuMs)).toFixed(0)} ms, off ${median(windows.map((b) => b.off.cpuMs)).toFixed(0)} ms.`,
        `CPU = Σ over the server's threads of /proc/<pid>/task/<tid>/schedstat (ns on a CPU), read at each window's edges; server pairs started on-first and off-first in turn. The recording server is scraped before its windows, so prom-client's process metrics (GC observer, event-loop delay monitor) run during them, as they do under Prometheus.`,
        `load average (1 min) at the phase's start ${load0[0]!.toFixed(2)}, at its end ${load1[0]!.toFixed(2)}; ${os.cpus().length} CPUs.`,
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
        `idle cost per server pair (ms of CPU per second, recording on − off, both idle ${c.idleMs} ms after the recording one's first scrape started prom-client's process metrics): [${idle.map((x) => x.toFixed(2)).join(", ")}].`,
        "Each call is timed with the clock reads that exist only for it (a turn's start, first-token and end times, the event log's commit time); a request's duration and route template are computed with recording off too (the access log uses them).",
      ],
    }),
  );
  return figures;
}
