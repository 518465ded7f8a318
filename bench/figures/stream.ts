/**
 * Figures on a server with EVENT_COALESCE_MS=0 (every streamed delta is its
 * own durable event):
 *
 * - fan-out: 1,000 SSE followers of one room while a note is posted every
 *   10 ms; delivery latency = receipt at the follower minus the event's
 *   created_at (stamped by the server when the durable transaction starts).
 *   Baseline: a bare node:http SSE broadcaster driven the same way (a POST
 *   every 10 ms, created_at stamped when the POST is handled), read by the
 *   same client process.
 * - durable event rate: events committed per second while 20 rooms stream
 *   back-to-back turns, from the followers' seq counters over fixed windows,
 *   vs raw better-sqlite3 inserts of the same rows (100 per transaction).
 */
import path from "node:path";
import { figure, type Figure } from "../lib/figure.js";
import { Follower, request } from "../lib/http.js";
import { IpcChild } from "../lib/ipc-child.js";
import { cpuSeconds, sleep, spawnScript, type Spawned } from "../lib/proc.js";
import { captureRows, rawEventInserts } from "../lib/raw-sqlite.js";
import { rentEcho, startTurn, wordsReply, type ServerHandle } from "../lib/roomservice.js";
import { median, min } from "../lib/stats.js";

interface Report {
  n: number;
  dropped: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  minFramesPerClient: number;
  maxFramesPerClient: number;
  openConnections: number;
}

interface Published {
  sent: number;
  ok: number;
  failed: number;
  skipped: number;
  spanMs: number;
}

/** Fires `fire` every intervalMs, `count` times, never more than 16 in flight (a slower target skips, and the skip is counted). */
async function publishEvery(intervalMs: number, count: number, fire: () => Promise<boolean>): Promise<Published> {
  const t0 = performance.now();
  const inflight = new Set<Promise<void>>();
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let sent = 0;
  for (let i = 0; i < count; i++) {
    const wait = t0 + i * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    if (inflight.size >= 16) {
      skipped++;
      continue;
    }
    sent++;
    const p: Promise<void> = fire()
      .then((good) => void (good ? ok++ : failed++), () => void failed++)
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  return { sent, ok, failed, skipped, spanMs: performance.now() - t0 };
}

export interface FanoutCtx {
  server: ServerHandle;
  token: string;
  followers: number;
  runs: number;
  windowMs: number;
  intervalMs: number;
}

interface FanRun {
  target: "bare" | "server";
  run: number;
  report: Report;
  published: Published;
}

async function fanRun(clients: IpcChild, c: FanoutCtx, target: "bare" | "server", run: number, fire: () => Promise<boolean>): Promise<FanRun> {
  await clients.call({ cmd: "measure", since: Date.now() + 20 }, 5000);
  await sleep(30);
  const published = await publishEvery(c.intervalMs, Math.round(c.windowMs / c.intervalMs), fire);
  await sleep(500);
  const report = await clients.call<Report>({ cmd: "report", group: target }, 30_000);
  return { target, run, report, published };
}

export async function fanout(c: FanoutCtx): Promise<Figure[]> {
  const clients = IpcChild.start("bench/fanout-clients.ts");
  let bare: Spawned | null = null;
  try {
    // Both sets of readers stay connected for the whole figure and the runs alternate, so a
    // change in the machine's background load hits both sides alike.
    bare = await spawnScript({ name: "bare-sse", script: "bench/bare-sse.ts", env: {}, readyPath: "/health" });
    const bareConn = await clients.call<{ connected: number; failed: number; ms: number }>(
      { cmd: "connect", group: "bare", url: `${bare.base}/events`, headers: {}, n: c.followers, concurrency: 50, timeoutMs: 10_000 },
      120_000,
    );
    if (bareConn.connected !== c.followers) throw new Error(`bare: only ${bareConn.connected} of ${c.followers} clients connected`);
    const base = c.server.base;
    const roomId = await rentEcho(base, c.token, { token_delay_ms: 0 });
    const conn = await clients.call<{ connected: number; failed: number; ms: number }>(
      { cmd: "connect", group: "server", url: `${base}/llm/room/${roomId}/events?follow=true`, headers: { authorization: `Bearer ${c.token}` }, n: c.followers, concurrency: 50, timeoutMs: 10_000 },
      120_000,
    );
    if (conn.connected !== c.followers) throw new Error(`server: only ${conn.connected} of ${c.followers} followers connected`);
    const bareBase = bare.base;
    const fireBare = async () => (await request(bareBase, "POST", "/publish", { body: { kind: "note", content: "n" } })).status === 201;
    let i = 0;
    const fireServer = async () => (await request(base, "POST", `/llm/room/${roomId}/messages`, { token: c.token, body: { kind: "note", content: `note ${i++}` } })).status === 201;
    const runs: FanRun[] = [];
    for (let r = 0; r < c.runs; r++) {
      const order: ("bare" | "server")[] = r % 2 === 0 ? ["bare", "server"] : ["server", "bare"];
      for (const t of order) runs.push(await fanRun(clients, c, t, r + 1, t === "bare" ? fireBare : fireServer));
    }
    await clients.call({ cmd: "close" }, 10_000);

    const serverRuns = runs.filter((r) => r.target === "server");
    const bareRuns = runs.filter((r) => r.target === "bare");
    const sP99 = serverRuns.map((r) => r.report.p99);
    const bP99 = bareRuns.map((r) => r.report.p99);
    const complete = (rs: FanRun[]) => rs.every((r) => r.report.minFramesPerClient === r.published.ok && r.published.failed === 0 && r.published.skipped === 0);
    const ratio = median(sP99) / median(bP99);
    return [
      figure({
        id: "fanout",
        name: `fan-out delivery, ${c.followers} followers`,
        unit: "ms",
        stat: "p99 of each run's delivery latency",
        median: median(sP99),
        p99: Math.max(...sP99),
        p99Label: "worst run p99",
        baseline: { name: "bare node:http SSE p99", unit: "ms", median: median(bP99), p99: Math.max(...bP99) },
        ratio,
        ratioOf: "median of runs' p99 (server) ÷ median of runs' p99 (bare)",
        target: "p99 ≤ 1.5× bare",
        pass: complete(serverRuns) && ratio <= 1.5,
        runs,
        notes: [
          `${c.followers} followers of each in one separate client process, both sets connected throughout, runs alternated; ${c.runs} runs each of ${c.windowMs} ms, one event per ${c.intervalMs} ms (a POST: a note to the room / a publish to the bare server); latency = receipt Date.now() − created_at, 1 ms resolution.`,
          `per-run p50: server [${serverRuns.map((r) => r.report.p50).join(", ")}] ms, bare [${bareRuns.map((r) => r.report.p50).join(", ")}] ms; per-run p99: server [${sP99.join(", ")}] ms, bare [${bP99.join(", ")}] ms.`,
          `events actually published per second (scheduled ${1000 / c.intervalMs}/s; a publish is skipped when 16 are still in flight): server [${serverRuns.map((r) => ((r.published.ok * 1000) / r.published.spanMs).toFixed(1)).join(", ")}], bare [${bareRuns.map((r) => ((r.published.ok * 1000) / r.published.spanMs).toFixed(1)).join(", ")}]; skipped: server [${serverRuns.map((r) => r.published.skipped).join(", ")}], bare [${bareRuns.map((r) => r.published.skipped).join(", ")}].`,
          `every published event reached every follower and none was skipped: server ${complete(serverRuns)}, bare ${complete(bareRuns)}; connecting ${c.followers} took server ${conn.ms} ms, bare ${bareConn.ms} ms.`,
        ],
      }),
    ];
  } finally {
    await clients.stop();
    if (bare) await bare.stop();
  }
}

export interface EventRateCtx {
  server: ServerHandle;
  token: string;
  tenant: string;
  rooms: number;
  runs: number;
  windowMs: number;
  replyTokens: number;
  rawDir: string;
}

interface RateRun {
  run: number;
  events: number;
  ms: number;
  perS: number;
  turns: number;
  /** The server process's CPU share over the window (1 = one core). */
  cpu: number;
}

/** Streams back-to-back turns in `rooms` rooms of the server at `base`, each followed; events/s over `runs` windows, from the followers' seqs. */
async function streamRate(target: { base: string; pid: () => number }, c: EventRateCtx): Promise<{ runs: RateRun[]; roomIds: string[]; problems: string[] }> {
  const base = target.base;
  const reply = wordsReply(c.replyTokens);
  const roomIds = await Promise.all(Array.from({ length: c.rooms }, () => rentEcho(base, c.token, { token_delay_ms: 0, reply })));
  const followers = await Promise.all(roomIds.map((id) => Follower.open(base, id, c.token)));
  let stop = false;
  const problems: string[] = [];
  let turnsDone = 0;
  const drive = async (k: number) => {
    let n = 0;
    while (!stop && n < 10_000) {
      const turnId = await startTurn(base, c.token, roomIds[k]!, `q${n++}`);
      const t = await followers[k]!.turnEnded(turnId, 30_000);
      if (t.status !== "completed") problems.push(`turn ended ${t.status}`);
      turnsDone++;
    }
  };
  const drivers = roomIds.map((_, k) =>
    drive(k).catch((err: unknown) => {
      problems.push(String(err));
    }),
  );
  const seqSum = () => followers.reduce((a, f) => a + f.lastSeq, 0);
  const runs: RateRun[] = [];
  try {
    await sleep(500); // warm-up window, not counted
    for (let r = 0; r < c.runs; r++) {
      const s0 = seqSum();
      const n0 = turnsDone;
      const cpu0 = cpuSeconds(target.pid());
      const t0 = performance.now();
      await sleep(c.windowMs);
      const ms = performance.now() - t0;
      const events = seqSum() - s0;
      runs.push({ run: r + 1, events, ms, perS: events / (ms / 1000), turns: turnsDone - n0, cpu: (cpuSeconds(target.pid()) - cpu0) / (ms / 1000) });
    }
  } finally {
    stop = true;
    await Promise.race([Promise.all(drivers), sleep(20_000)]);
    for (const f of followers) f.close();
  }
  return { runs, roomIds, problems };
}

export async function eventRate(c: EventRateCtx): Promise<Figure> {
  const server = await streamRate(c.server, c);
  // The same rows, raw: read back from the server's file, inserted 100 per transaction.
  const captured = captureRows(path.join(c.server.dataDir, "tenants", `${c.tenant}.db`), server.roomIds, 20_000);
  const raw = Array.from({ length: c.runs }, (_, r) => rawEventInserts(c.rawDir, `raw-events-${r}`, captured, 100, 10_000));
  // The same streaming with nothing durable: bench/bare-rooms.ts, the frames alone.
  const bareServer = await spawnScript({ name: "bare-rooms", script: "bench/bare-rooms.ts", env: {}, readyPath: "/health" });
  let bare: Awaited<ReturnType<typeof streamRate>>;
  try {
    bare = await streamRate(bareServer, c);
  } finally {
    await bareServer.stop();
  }
  const s = server.runs.map((r) => r.perS);
  const b = raw.map((r) => r.perS);
  const f = bare.runs.map((r) => r.perS);
  const ratio = median(s) / median(b);
  // A server that did the bare server's work and a raw insert per event, and nothing else, would take the sum of their times per event.
  const bound = 1 / (1 / median(f) + 1 / median(b));
  const problems = [...server.problems, ...bare.problems.map((p) => `bare: ${p}`)];
  return figure({
    id: "event_rate",
    name: `durable event rate, ${c.rooms} rooms streaming`,
    unit: "events/s",
    stat: "per-window events/s",
    median: median(s),
    p99: min(s),
    p99Label: "worst run",
    baseline: { name: "raw better-sqlite3 inserts (100/tx)", unit: "rows/s", median: median(b), p99: min(b) },
    ratio,
    ratioOf: "median server events/s ÷ median raw rows/s",
    target: "≥ 0.3× raw",
    pass: problems.length === 0 && ratio >= 0.3,
    runs: [...server.runs.map((r) => ({ target: "server", ...r })), ...raw.map((r, k) => ({ target: "raw", run: k + 1, ...r })), ...bare.runs.map((r) => ({ target: "bare", ...r }))],
    notes: [
      `EVENT_COALESCE_MS=0, local/echo token_delay_ms 0, ${c.replyTokens}-word replies, ${c.rooms} rooms each posting its next message on agent:turn_end; ${c.runs} windows of ${c.windowMs} ms; events counted from the followers' last seq.`,
      `raw: ${captured.events.length} rows captured from the server's own file (avg payload ${raw[0]?.avgPayloadChars.toFixed(0)} chars), same schema incl. indexes and FK, WAL + synchronous=FULL + foreign_keys=ON.`,
      `server CPU per window: [${server.runs.map((r) => r.cpu.toFixed(2)).join(", ")}].`,
      `bare (bench/bare-rooms.ts, the same frames to the same followers, nothing stored): ${median(f).toFixed(0)} events/s [${f.map((v) => v.toFixed(0)).join(", ")}], its CPU [${bare.runs.map((r) => r.cpu.toFixed(2)).join(", ")}]. The bare server's and the raw insert's times per event added up bound any server that streams these frames durably in one event loop at ${bound.toFixed(0)} events/s = ${(bound / median(b)).toFixed(3)}× raw; the server is at ${(median(s) / bound).toFixed(3)}× that bound.`,
      ...(problems.length ? [`${problems.length} problems, first: ${problems.slice(0, 3).join("; ")}`] : []),
    ],
  });
}
