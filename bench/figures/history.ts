/**
 * Long replies and the event loop: `/health` latency while 20 clients read
 * the whole history of a room whose one reply is about 70,000 characters,
 * against `/health` latency on the same server with no reader. Every
 * `pi:message_update` of such a reply carries the text so far, so its ~500
 * events hold about 18 M characters of JSON: before history pages were
 * bounded in bytes and built a slice at a time, 20 such readers held
 * `/health` for seconds (issue 14).
 *
 * The reply is 500 echo tokens of about 140 characters (prose words joined
 * by hyphens, so the echo model streams each run as one token; sent as the
 * prompt, which `local/echo` answers as "Echo: <prompt>") and the server
 * runs with EVENT_COALESCE_MS=0, so each token is one event: the shape of the
 * issue's 517-event, 72,895-character reply. Readers run in their own process
 * (bench/history-clients.ts) with the default `partial_text`, i.e. the
 * cumulative text, the heavy case. The prober here sends one `GET /health`
 * at a time on its own keep-alive connection, 5 ms apart. Runs alternate
 * baseline and loaded windows; latencies are pooled over runs.
 */
import http from "node:http";
import os from "node:os";
import { figure, type Figure } from "../lib/figure.js";
import { IpcChild } from "../lib/ipc-child.js";
import { expectStatus, request } from "../lib/http.js";
import { cpuSeconds, readRss, sleep } from "../lib/proc.js";
import { rentEcho, wordsReply, type ServerHandle } from "../lib/roomservice.js";
import { median, summarize } from "../lib/stats.js";

export interface HistoryCtx {
  server: ServerHandle;
  token: string;
  readers: number;
  runs: number;
  windowMs: number;
  replyChars: number;
  replyTokens: number;
}

interface ReaderTotals {
  pages: number;
  bytes: number;
  fullReads: number;
  eventsPerRead: number[];
  bytesPerRead: number[];
  pagesPerRead: number[];
  maxPageBytes: number;
  retries: number;
  errors: string[];
}

/** `tokens` runs of prose, hyphen-joined, about `chars` characters with the spaces between them. */
export function longReply(chars: number, tokens: number): string {
  const words = wordsReply(Math.ceil(chars / 5)).split(" ");
  const per = Math.max(1, Math.round(chars / tokens));
  const runs: string[] = [];
  let i = 0;
  for (let t = 0; t < tokens; t++) {
    let run = "";
    while (run.length < per - 1 && i < words.length) run += (run ? "-" : "") + words[i++];
    runs.push(run);
  }
  return runs.join(" ");
}

const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function health(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(`${base}/health`, { agent: probeAgent, timeout: 30_000 }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t0) : reject(new Error(`/health answered ${res.statusCode}`))));
    });
    req.on("timeout", () => req.destroy(new Error("/health timed out")));
    req.on("error", reject);
  });
}

/** `/health` latencies, one request at a time, `gapMs` apart, for `windowMs`. */
async function probe(base: string, windowMs: number, gapMs = 5): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + windowMs;
  while (performance.now() < end && out.length < 100_000) {
    out.push(await health(base));
    await sleep(gapMs);
  }
  return out;
}

export async function historyUnderLoad(c: HistoryCtx): Promise<Figure> {
  const base = c.server.base;
  const reply = longReply(c.replyChars, c.replyTokens);
  // An actor's options are at most 64 KB, so the reply is not set there: echo answers "Echo: <prompt>".
  const roomId = await rentEcho(base, c.token, { token_delay_ms: 0 });
  await expectStatus(202, request(base, "POST", `/llm/room/${roomId}/messages`, { token: c.token, body: { content: reply } }), "post");
  for (let i = 0; ; i++) {
    const r = await request(base, "GET", `/llm/room/${roomId}`, { token: c.token });
    if (r.body?.data?.status === "idle") break;
    if (i > 600) throw new Error(`the long turn did not end: ${JSON.stringify(r.body).slice(0, 300)}`);
    await sleep(50);
  }
  const replyLen = `Echo: ${reply}`.length;

  const clients = IpcChild.start("bench/history-clients.ts");
  try {
    // One whole read alone, with and without the cumulative text: what the readers do, and the log they must get.
    const walk = await clients.call<ReaderTotals>({ cmd: "walk", base, token: c.token, roomId, query: "limit=500" }, 120_000);
    const lean = await clients.call<ReaderTotals>({ cmd: "walk", base, token: c.token, roomId, query: "limit=500&partial_text=false" }, 120_000);
    for (const w of [walk, lean]) if (w.errors.length > 0 || w.fullReads !== 1) throw new Error(`a history read failed: ${w.errors.slice(0, 3).join("; ")}`);
    const events = lean.eventsPerRead[0]!;
    // Warm the readers and the prober, not recorded.
    await clients.call({ cmd: "start", base, token: c.token, roomId, n: c.readers, query: "limit=500" }, 10_000);
    await probe(base, 1000);
    const warm = await clients.call<ReaderTotals>({ cmd: "stop" }, 120_000);
    if (warm.errors.length > 0) throw new Error(`history readers failed: ${warm.errors.slice(0, 3).join("; ")}`);

    const baseline: number[] = [];
    const loaded: number[] = [];
    const runs: { run: number; baselineP99: number; loadedP99: number; readers: ReaderTotals; serverCpuShare: number; readersCpuShare: number; rssMb: number }[] = [];
    let rssMax = 0;
    let rssAlone = 0;
    for (let r = 0; r < c.runs; r++) {
      const alone = async () => {
        const s = await probe(base, c.windowMs);
        baseline.push(...s);
        rssAlone = Math.max(rssAlone, readRss(c.server.pid()));
        return s;
      };
      const underLoad = async () => {
        await clients.call({ cmd: "start", base, token: c.token, roomId, n: c.readers, query: "limit=500" }, 10_000);
        await sleep(200); // every reader has a page in flight
        const cpu0 = cpuSeconds(c.server.pid());
        const readersCpu0 = cpuSeconds(clients.child.pid!);
        const t0 = performance.now();
        let rss = 0;
        const sampler = setInterval(() => (rss = Math.max(rss, readRss(c.server.pid()))), 100);
        const s = await probe(base, c.windowMs);
        clearInterval(sampler);
        const elapsedS = (performance.now() - t0) / 1000;
        const cpu = (cpuSeconds(c.server.pid()) - cpu0) / elapsedS;
        const readersCpu = (cpuSeconds(clients.child.pid!) - readersCpu0) / elapsedS;
        const totals = await clients.call<ReaderTotals>({ cmd: "stop" }, 120_000);
        loaded.push(...s);
        rssMax = Math.max(rssMax, rss);
        return { s, totals, cpu, readersCpu, rss };
      };
      let a: number[];
      let l: Awaited<ReturnType<typeof underLoad>>;
      if (r % 2 === 0) {
        a = await alone();
        l = await underLoad();
      } else {
        l = await underLoad();
        a = await alone();
      }
      runs.push({ run: r + 1, baselineP99: summarize(a).p99, loadedP99: summarize(l.s).p99, readers: l.totals, serverCpuShare: l.cpu, readersCpuShare: l.readersCpu, rssMb: l.rss / 1e6 });
    }
    const b = summarize(baseline);
    const x = summarize(loaded);
    const ratio = x.p99 / b.p99;
    const errors = runs.flatMap((r) => r.readers.errors);
    // Reads completed under load must agree with the log too (a window may be too short for any to complete).
    const counts = new Set([...walk.eventsPerRead, ...runs.flatMap((r) => r.readers.eventsPerRead)]);
    const complete = errors.length === 0 && counts.size === 1 && counts.has(events);
    const maxPageBytes = Math.max(walk.maxPageBytes, warm.maxPageBytes, ...runs.map((r) => r.readers.maxPageBytes));
    const pages = runs.reduce((n, r) => n + r.readers.pages, 0);
    const bytes = runs.reduce((n, r) => n + r.readers.bytes, 0);
    const notes = [
      `room: one reply of ${replyLen} characters, ${events} events in all (EVENT_COALESCE_MS=0: one pi:message_update per echo token).`,
      `a full read with the cumulative text: ${(walk.bytesPerRead[0]! / 1e6).toFixed(1)} MB in ${walk.pagesPerRead[0]} pages (largest page ${(maxPageBytes / 1024).toFixed(0)} KB); with partial_text=false: ${(lean.bytesPerRead[0]! / 1e3).toFixed(0)} KB in ${lean.pagesPerRead[0]} pages.`,
      `${c.readers} readers in their own process, each reading the whole history (limit=500, default partial_text) again and again; over all loaded windows: ${runs.reduce((n, r) => n + r.readers.fullReads, 0)} full reads completed, ${pages} pages, ${(bytes / 1e6).toFixed(0)} MB (${(bytes / 1e6 / ((c.runs * c.windowMs) / 1000)).toFixed(1)} MB/s), ${runs.reduce((n, r) => n + r.readers.retries, 0)} pages sent again after a reset keep-alive connection; ${complete ? "every completed read had every event, no error" : `INCOMPLETE: events per read ${[...counts].join(", ")} (log has ${events}); errors: ${errors.slice(0, 3).join("; ")}`}.`,
      `/health alone: p50 ${b.p50.toFixed(2)} ms, p99 ${b.p99.toFixed(2)} ms, max ${b.max.toFixed(2)} ms (${b.n} samples); under load: p50 ${x.p50.toFixed(2)} ms, p99 ${x.p99.toFixed(2)} ms, max ${x.max.toFixed(2)} ms (${x.n} samples); one request at a time, 5 ms apart, ${c.windowMs / 1000} s windows alternating.`,
      `CPU share under load (1.0 = one core): server median ${median(runs.map((r) => r.serverCpuShare)).toFixed(2)}, readers' process ${median(runs.map((r) => r.readersCpuShare)).toFixed(2)}; machine load average at the end ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores (a busy machine inflates both latencies, the baseline's p99 most); server RSS peak while loaded: ${(rssMax / 1e6).toFixed(0)} MB (at the end of the windows without readers: ${(rssAlone / 1e6).toFixed(0)} MB).`,
      `per run p99 (alone / loaded, ms): ${runs.map((r) => `${r.baselineP99.toFixed(2)} / ${r.loadedP99.toFixed(2)}`).join("; ")}.`,
    ];
    return figure({
      id: "history_health",
      name: "/health p99 under 20 long-history readers",
      unit: "ms",
      stat: "pooled /health latency samples",
      median: x.p50,
      p99: x.p99,
      p99Label: "p99",
      baseline: { name: "/health alone, same server", unit: "ms", median: b.p50, p99: b.p99 },
      ratio,
      ratioOf: "p99 under load ÷ p99 alone",
      target: "p99 ≤ 3× alone",
      pass: complete && ratio <= 3,
      runs,
      notes,
    });
  } finally {
    await clients.stop();
    probeAgent.destroy();
  }
}
