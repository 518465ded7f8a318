/**
 * Capacity clients: one SSE follower per room, in a process of their own
 * (so their work is not billed to the server or the orchestrator), driven by
 * bench/figures/capacity.ts over IPC. Each follower also drives its room:
 * when the room's `agent:turn_end` arrives it posts the next message, so
 * every room streams turn after turn.
 *
 * The rooms' model is `local/echo` with `stamp_tokens`: every text token is
 * the time it was due (ms since the epoch, base 36), on a fixed schedule, so
 * for every token the follower receives, delivery latency = `Date.now()` when
 * its chunk arrived − the token's due time (the server's and this process's
 * clocks are the same machine's wall clock, 1 ms resolution). That is model
 * emit → follower receipt, with the server's event-loop lag, the turn
 * writer's coalescing, the durable commit, the fan-out and the socket in it.
 *
 * Loss checks, per follower: every frame's seq is the previous one + 1 (the
 * stream is followed from seq 1), every turn ends with `agent:turn_end`
 * `completed` after exactly the reply's token count, and the connection
 * stays open (an overflow cut-off or a reset counts).
 */
import http from "node:http";
import { serveIpc } from "./lib/ipc-child.js";

type Command =
  | { cmd: "setup"; base: string; token: string; replyTokens: number }
  | { cmd: "add"; roomIds: string[]; staggerMs: number; concurrency: number; timeoutMs: number }
  | { cmd: "measure"; since: number }
  | { cmd: "report" }
  | { cmd: "close" };

/** Latency histogram, 1 ms buckets; the last bucket holds everything above. */
const BUCKETS = 60_001;
const hist = new Uint32Array(BUCKETS);
let since = Number.POSITIVE_INFINITY;
let samples = 0;
let maxLatency = 0;
/**
 * The same latency split at the event's `created_at` (stamped by the server
 * when the durable transaction that wrote it started): per token, due →
 * transaction start (the model loop, the turn writer's coalescing, waiting
 * for the group commit); per frame, transaction start → receipt (commit,
 * fan-out, socket, this process).
 */
const histWrite = new Uint32Array(BUCKETS);
let samplesWrite = 0;
const histDeliver = new Uint32Array(BUCKETS);
let samplesDeliver = 0;
const CREATED = '"created_at":"';
let lastIso = "";
let lastIsoMs = 0;

let base = "";
let token = "";
let replyTokens = 0;
let running = true;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Room {
  id: string;
  req: http.ClientRequest | null;
  lastSeq: number;
  /** Seq at the measuring mark. */
  markSeq: number;
  tokensThisTurn: number;
  open: boolean;
}
const rooms: Room[] = [];

/** Counters since the measuring mark. */
const win = { tokens: 0, gaps: 0, turnsEnded: 0, badTurns: 0, badTurnSample: "", postFailures: 0, postSample: "", closed: 0, overflow: 0 };
function resetWindow(): void {
  win.tokens = 0;
  win.gaps = 0;
  win.turnsEnded = 0;
  win.badTurns = 0;
  win.badTurnSample = "";
  win.postFailures = 0;
  win.postSample = "";
  win.closed = 0;
  win.overflow = 0;
}
/** Loss counted over the whole figure, not only inside windows. */
const total = { gaps: 0, badTurns: 0, postFailures: 0, closed: 0, overflow: 0, turnsEnded: 0 };

function post(room: Room): void {
  if (!running) return;
  const body = JSON.stringify({ content: "next" });
  const req = http.request(
    `${base}/llm/room/${room.id}/messages`,
    { method: "POST", agent, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
    (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => {
        if (res.statusCode !== 202 || !text.includes('"status":"running"')) {
          total.postFailures++;
          win.postFailures++;
          win.postSample ||= `HTTP ${res.statusCode} ${text.slice(0, 200)}`;
        }
      });
    },
  );
  req.on("error", (err) => {
    total.postFailures++;
    win.postFailures++;
    win.postSample ||= String(err);
  });
  req.end(body);
}

const DELTA = '"delta":"';

function onFrame(room: Room, frame: string, now: number): void {
  if (frame.startsWith(": overflow")) {
    total.overflow++;
    win.overflow++;
    return;
  }
  if (!frame.startsWith("id: ")) return;
  const nl = frame.indexOf("\n");
  const seq = Number(frame.slice(4, nl));
  if (seq !== room.lastSeq + 1) {
    total.gaps++;
    win.gaps++;
  }
  room.lastSeq = seq;
  const evEnd = frame.indexOf("\n", nl + 1);
  const type = frame.slice(nl + 8, evEnd);
  if (type === "pi:message_update") {
    const at = frame.indexOf(DELTA, evEnd);
    if (at < 0) return;
    const from = at + DELTA.length;
    const to = frame.indexOf('"', from);
    let created = Number.NaN;
    if (to > from) {
      const c = frame.lastIndexOf(CREATED);
      const iso = frame.substr(c + CREATED.length, 24);
      if (iso !== lastIso) {
        lastIso = iso;
        lastIsoMs = Date.parse(iso);
      }
      created = lastIsoMs;
      if (created >= since) {
        histDeliver[Math.min(BUCKETS - 1, Math.max(0, now - created))]!++;
        samplesDeliver++;
      }
    }
    let i = from;
    while (i < to) {
      let j = frame.indexOf(" ", i);
      if (j < 0 || j > to) j = to;
      if (j > i) {
        const due = parseInt(frame.slice(i, j), 36);
        room.tokensThisTurn++;
        if (due >= since) {
          const ms = Math.max(0, now - due);
          hist[Math.min(BUCKETS - 1, ms)]!++;
          samples++;
          if (ms > maxLatency) maxLatency = ms;
          win.tokens++;
          histWrite[Math.min(BUCKETS - 1, Math.max(0, created - due))]!++;
          samplesWrite++;
        }
      }
      i = j + 1;
    }
  } else if (type === "agent:turn_end") {
    const completed = frame.includes('"status":"completed"', evEnd);
    total.turnsEnded++;
    win.turnsEnded++;
    if (!completed || room.tokensThisTurn !== replyTokens) {
      total.badTurns++;
      win.badTurns++;
      win.badTurnSample ||= `room ${room.id}: ${room.tokensThisTurn} tokens, ${frame.slice(evEnd, evEnd + 300)}`;
    }
    room.tokensThisTurn = 0;
    post(room);
  }
}

function follow(room: Room, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      room.req?.destroy();
      settle(false);
    }, timeoutMs);
    room.req = http.get(`${base}/llm/room/${room.id}/events?follow=true`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        settle(false);
        return;
      }
      room.open = true;
      res.setEncoding("utf8");
      let buf = "";
      res.on("data", (chunk: string) => {
        const now = Date.now();
        settle(true);
        buf = buf.length === 0 ? chunk : buf + chunk;
        let start = 0;
        let idx: number;
        while ((idx = buf.indexOf("\n\n", start)) >= 0) {
          onFrame(room, buf.slice(start, idx), now);
          start = idx + 2;
        }
        buf = start === 0 ? buf : buf.slice(start);
      });
      const gone = () => {
        if (!room.open) return;
        room.open = false;
        if (running) {
          total.closed++;
          win.closed++;
        }
      };
      res.on("close", gone);
      res.on("error", gone);
    });
    room.req.on("error", () => settle(false));
  });
}

function pct(p: number, h = hist, n = samples): number {
  if (n === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  let seen = 0;
  for (let ms = 0; ms < BUCKETS; ms++) {
    seen += h[ms]!;
    if (seen >= rank) return ms;
  }
  return BUCKETS - 1;
}

let cpuMark = process.cpuUsage();
let cpuMarkAt = performance.now();

async function handle(m: Command): Promise<unknown> {
  switch (m.cmd) {
    case "setup":
      base = m.base;
      token = m.token;
      replyTokens = m.replyTokens;
      return { ok: true };
    case "add": {
      const started = Date.now();
      const added = m.roomIds.map((id): Room => ({ id, req: null, lastSeq: 0, markSeq: 0, tokensThisTurn: 0, open: false }));
      let next = 0;
      let failed = 0;
      const worker = async () => {
        while (next < added.length) {
          const r = added[next++]!;
          if (!(await follow(r, m.timeoutMs))) failed++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(m.concurrency, added.length) }, worker));
      rooms.push(...added);
      // Each room's first message at a random point of the stagger, so turns do not run in lockstep.
      for (const r of added) setTimeout(() => post(r), Math.random() * m.staggerMs);
      return { connected: added.length - failed, failed, ms: Date.now() - started };
    }
    case "measure":
      since = m.since;
      hist.fill(0);
      samples = 0;
      histWrite.fill(0);
      samplesWrite = 0;
      histDeliver.fill(0);
      samplesDeliver = 0;
      maxLatency = 0;
      resetWindow();
      for (const r of rooms) r.markSeq = r.lastSeq;
      cpuMark = process.cpuUsage();
      cpuMarkAt = performance.now();
      return { ok: true };
    case "report": {
      let events = 0;
      for (const r of rooms) events += r.lastSeq - r.markSeq;
      const cpu = process.cpuUsage(cpuMark);
      const wallS = (performance.now() - cpuMarkAt) / 1000;
      const out = {
        samples,
        p50: pct(50),
        p90: pct(90),
        p99: pct(99),
        max: maxLatency,
        toWrite: { p50: pct(50, histWrite, samplesWrite), p99: pct(99, histWrite, samplesWrite) },
        toReceipt: { p50: pct(50, histDeliver, samplesDeliver), p99: pct(99, histDeliver, samplesDeliver) },
        events,
        ...win,
        total: { ...total },
        open: rooms.filter((r) => r.open).length,
        clientCpuShare: (cpu.user + cpu.system) / 1e6 / wallS,
      };
      since = Number.POSITIVE_INFINITY;
      return out;
    }
    case "close":
      running = false;
      for (const r of rooms) r.req?.destroy();
      agent.destroy();
      return { ok: true };
  }
}

serveIpc(handle);
