/**
 * Turns on local/echo with no delay and a 50-token reply. Sequential runs
 * drive one room back to back: each turn gives a time-to-first-token sample
 * (POST /messages sent → first `pi:message_update` at an SSE follower) and a
 * turn-latency sample (→ `agent:turn_end` at the follower), and the run's
 * turns/s is its turns over its elapsed time. Parallel runs do the same in
 * 20 rooms at once. Baselines: the round trip of a POST to the bare Hono app
 * (same client, same machine) for the latencies, and raw durable single-row
 * commits/s (better-sqlite3, WAL, synchronous=FULL) for the rates.
 */
import { figure, type Figure } from "../lib/figure.js";
import { Follower, request } from "../lib/http.js";
import { rentEcho, startTurn, wordsReply } from "../lib/roomservice.js";
import type { Spawned } from "../lib/proc.js";
import { median, min, summarize } from "../lib/stats.js";

export interface TurnsCtx {
  server: Spawned;
  bare: Spawned;
  token: string;
  runs: number;
  seqDurationMs: number;
  parDurationMs: number;
  parallelRooms: number;
  maxTurnsPerRun: number;
  replyTokens: number;
  /** Raw durable single-row commits/s measured in this run (baseline for the rates). */
  rawCommitsPerS: { median: number; worst: number } | null;
}

interface Sample {
  ttft: number;
  latency: number;
  /** The first delta and agent:turn_end came in the same socket read. */
  together: boolean;
}

async function driveRoom(base: string, tok: string, reply: string, deadline: number, maxTurns: number, out: Sample[], problems: string[]): Promise<number> {
  const roomId = await rentEcho(base, tok, { token_delay_ms: 0, reply });
  const follower = await Follower.open(base, roomId, tok);
  let n = 0;
  try {
    while (performance.now() < deadline && n < maxTurns) {
      const t0 = performance.now();
      const turnId = await startTurn(base, tok, roomId, `question ${n}`);
      const t = await follower.turnEnded(turnId, 15_000);
      if (t.status !== "completed") problems.push(`turn ${turnId} ended ${t.status}`);
      if (t.firstUpdate === undefined || t.end === undefined) problems.push(`turn ${turnId}: no message_update seen`);
      else out.push({ ttft: t.firstUpdate - t0, latency: t.end - t0, together: t.firstUpdate === t.end });
      if (n === 0 && t.usageOutput !== undefined) lastUsageOutput = t.usageOutput;
      n++;
    }
  } finally {
    follower.close();
  }
  return n;
}
let lastUsageOutput: number | null = null;

export async function bareRoundTrips(bare: Spawned, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await request(bare.base, "POST", "/echo", { body: { content: `question ${i}` } });
    if (res.status !== 202) throw new Error(`bare /echo: ${res.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

export async function turns(c: TurnsCtx): Promise<Figure[]> {
  const reply = wordsReply(c.replyTokens);
  const base = c.server.base;
  const problems: string[] = [];
  // Warm-up, not recorded: JIT and the first-use paths of the turn.
  await driveRoom(base, c.token, reply, performance.now() + 500, 30, [], problems);
  await bareRoundTrips(c.bare, 100);

  const seqRuns: { run: number; turns: number; elapsedMs: number; turnsPerS: number; ttft: ReturnType<typeof summarize>; latency: ReturnType<typeof summarize> }[] = [];
  const parRuns: { run: number; rooms: number; turns: number; elapsedMs: number; turnsPerS: number; ttft: ReturnType<typeof summarize>; latency: ReturnType<typeof summarize> }[] = [];
  const ttftAll: number[] = [];
  const seqSamples: Sample[] = [];
  const latAll: number[] = [];
  const bareAll: number[] = [];
  for (let r = 0; r < c.runs; r++) {
    bareAll.push(...(await bareRoundTrips(c.bare, 100)));
    const samples: Sample[] = [];
    const t0 = performance.now();
    const n = await driveRoom(base, c.token, reply, t0 + c.seqDurationMs, c.maxTurnsPerRun, samples, problems);
    const elapsed = performance.now() - t0;
    seqSamples.push(...samples);
    ttftAll.push(...samples.map((s) => s.ttft));
    latAll.push(...samples.map((s) => s.latency));
    seqRuns.push({ run: r + 1, turns: n, elapsedMs: elapsed, turnsPerS: n / (elapsed / 1000), ttft: summarize(samples.map((s) => s.ttft)), latency: summarize(samples.map((s) => s.latency)) });

    const pSamples: Sample[] = [];
    const p0 = performance.now();
    const deadline = p0 + c.parDurationMs;
    const counts = await Promise.all(Array.from({ length: c.parallelRooms }, () => driveRoom(base, c.token, reply, deadline, c.maxTurnsPerRun, pSamples, problems)));
    const pElapsed = performance.now() - p0;
    const total = counts.reduce((a, b) => a + b, 0);
    parRuns.push({
      run: r + 1,
      rooms: c.parallelRooms,
      turns: total,
      elapsedMs: pElapsed,
      turnsPerS: total / (pElapsed / 1000),
      ttft: summarize(pSamples.map((s) => s.ttft)),
      latency: summarize(pSamples.map((s) => s.latency)),
    });
  }
  const bareS = summarize(bareAll);
  const ttftS = summarize(ttftAll);
  const latS = summarize(latAll);
  const problemNote = problems.length ? [`${problems.length} problems, first: ${problems.slice(0, 3).join("; ")}`] : [];
  const usageNote = `echo reply: ${c.replyTokens} words; agent:turn_end usage.output reported ${lastUsageOutput ?? "n/a"} tokens.`;
  const bareBaseline = { name: "bare Hono POST round trip p50", unit: "ms", median: bareS.p50, p99: bareS.p99 };

  const ttft = figure({
    id: "ttft",
    name: "time to first token",
    unit: "ms",
    stat: `pooled samples of ${c.runs} sequential runs`,
    median: ttftS.p50,
    p99: ttftS.p99,
    baseline: bareBaseline,
    ratio: ttftS.p50 / bareS.p50,
    ratioOf: "TTFT p50 ÷ bare POST round-trip p50",
    target: "p50 ≤ 5 ms, p99 ≤ 25 ms",
    pass: problems.length === 0 && ttftS.p50 <= 5 && ttftS.p99 <= 25,
    runs: seqRuns.map((r) => ({ run: r.run, n: r.ttft.n, p50: r.ttft.p50, p99: r.ttft.p99, max: r.ttft.max })),
    notes: [
      `${ttftS.n} samples; POST /messages sent → first pi:message_update frame parsed at an SSE follower on loopback.`,
      `turns whose first pi:message_update arrived in the same read as agent:turn_end: ${seqSamples.filter((x) => x.together).length} of ${seqSamples.length} (then TTFT = turn latency: with no delay the whole answer exists before the first delta is written).`,
      usageNote,
      ...problemNote,
    ],
  });
  const latency = figure({
    id: "turn_latency",
    name: "turn latency (50 tokens)",
    unit: "ms",
    stat: `pooled samples of ${c.runs} sequential runs`,
    median: latS.p50,
    p99: latS.p99,
    baseline: bareBaseline,
    ratio: latS.p50 / bareS.p50,
    ratioOf: "turn latency p50 ÷ bare POST round-trip p50",
    target: "p50 ≤ 20 ms",
    pass: problems.length === 0 && latS.p50 <= 20,
    runs: seqRuns.map((r) => ({ run: r.run, n: r.latency.n, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max })),
    notes: [`${latS.n} samples; POST /messages sent → agent:turn_end frame at the follower.`, usageNote, ...problemNote],
  });
  const rawBaseline = c.rawCommitsPerS ? { name: "raw durable 1-row commits", unit: "/s", median: c.rawCommitsPerS.median, p99: c.rawCommitsPerS.worst } : null;
  const seqRates = seqRuns.map((r) => r.turnsPerS);
  const seq = figure({
    id: "turns_sequential",
    name: "turn throughput, sequential",
    unit: "turns/s",
    stat: "per-run turns/s",
    median: median(seqRates),
    p99: min(seqRates),
    p99Label: "worst run",
    baseline: rawBaseline,
    ratio: rawBaseline ? median(seqRates) / rawBaseline.median! : null,
    ratioOf: "turns/s ÷ raw durable single-row commits/s (1/ratio = commit-equivalents per turn)",
    target: "≥ 80 turns/s",
    pass: problems.length === 0 && median(seqRates) >= 80,
    runs: seqRuns,
    notes: [`one room, next message posted when agent:turn_end arrives; ${c.seqDurationMs} ms per run.`, ...problemNote],
  });
  const parRates = parRuns.map((r) => r.turnsPerS);
  const par = figure({
    id: "turns_parallel",
    name: `turn throughput, ${c.parallelRooms} rooms`,
    unit: "turns/s",
    stat: "per-run turns/s",
    median: median(parRates),
    p99: min(parRates),
    p99Label: "worst run",
    baseline: rawBaseline,
    ratio: rawBaseline ? median(parRates) / rawBaseline.median! : null,
    ratioOf: "turns/s ÷ raw durable single-row commits/s",
    target: "report",
    pass: null,
    runs: parRuns,
    notes: [
      `${c.parallelRooms} rooms each driven back to back; ${c.parDurationMs} ms per run.`,
      `turn latency under this load: p50 ${median(parRuns.map((r) => r.latency.p50)).toFixed(2)} ms, p99 ${median(parRuns.map((r) => r.latency.p99)).toFixed(2)} ms (medians over runs).`,
      ...problemNote,
    ],
  });
  return [ttft, latency, seq, par];
}
