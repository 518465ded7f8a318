/**
 * Read path: authenticated GET /llm/room/:id on the real server vs GET /room
 * on a bare Hono app returning the same JSON, both driven by autocannon at 50
 * connections from this process, alternating target each run. The CPU each
 * target used is recorded so a client-bound run can be told apart.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { figure, type Figure } from "../lib/figure.js";
import { expectStatus, request } from "../lib/http.js";
import { cpuSeconds, type Spawned } from "../lib/proc.js";
import { median, min } from "../lib/stats.js";

export interface ReadPathCtx {
  server: Spawned;
  bare: Spawned;
  token: string;
  roomId: string;
  runs: number;
  durationS: number;
  connections: number;
}

/** Writes the real server's GET room body so the bare app can serve the same object. */
export async function captureRoomBody(base: string, tok: string, roomId: string, dir: string): Promise<string> {
  const res = await expectStatus(200, request(base, "GET", `/llm/room/${roomId}`, { token: tok }), "get room");
  const file = path.join(dir, "room-body.json");
  writeFileSync(file, JSON.stringify(res.body));
  return file;
}

async function cannon(url: string, token: string, connections: number, durationS: number, pid: number) {
  const cpu0 = cpuSeconds(pid);
  const r = await autocannon({ url, connections, duration: durationS, headers: { authorization: `Bearer ${token}` } });
  const cpu = cpuSeconds(pid) - cpu0;
  const ok = r["2xx"];
  return {
    rps: ok / r.duration,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    durationS: r.duration,
    targetCpuShare: cpu / r.duration,
  };
}

export async function readPath(c: ReadPathCtx): Promise<Figure> {
  const serverUrl = `${c.server.base}/llm/room/${c.roomId}`;
  const bareUrl = `${c.bare.base}/room`;
  // Warm both (JIT, token cache, SQLite page cache); not recorded.
  await cannon(bareUrl, c.token, c.connections, 1, c.bare.pid());
  await cannon(serverUrl, c.token, c.connections, 1, c.server.pid());
  const runs: { run: number; server: Awaited<ReturnType<typeof cannon>>; bare: Awaited<ReturnType<typeof cannon>> }[] = [];
  for (let i = 0; i < c.runs; i++) {
    const first = i % 2 === 0;
    const a = first ? await cannon(bareUrl, c.token, c.connections, c.durationS, c.bare.pid()) : null;
    const server = await cannon(serverUrl, c.token, c.connections, c.durationS, c.server.pid());
    const bare = a ?? (await cannon(bareUrl, c.token, c.connections, c.durationS, c.bare.pid()));
    runs.push({ run: i + 1, server, bare });
  }
  const s = runs.map((r) => r.server.rps);
  const b = runs.map((r) => r.bare.rps);
  const ratio = median(s) / median(b);
  const bad = runs.some((r) => r.server.non2xx + r.server.errors + r.server.timeouts > 0);
  const notes = [
    `autocannon, ${c.connections} connections, ${c.durationS} s per run, ${c.runs} runs, targets alternated; req/s counts 2xx only.`,
    `target CPU share (1.0 = one core busy): server median ${median(runs.map((r) => r.server.targetCpuShare)).toFixed(2)}, bare median ${median(runs.map((r) => r.bare.targetCpuShare)).toFixed(2)}.`,
    `latency at 50 connections: server p50 ${median(runs.map((r) => r.server.latencyP50Ms))} ms / p99 ${median(runs.map((r) => r.server.latencyP99Ms))} ms; bare p50 ${median(runs.map((r) => r.bare.latencyP50Ms))} ms / p99 ${median(runs.map((r) => r.bare.latencyP99Ms))} ms (medians over runs).`,
  ];
  if (bad) notes.push("some server requests were not 2xx or errored; see runs.");
  return figure({
    id: "read_path",
    name: "read path GET /llm/room/:id",
    unit: "req/s",
    stat: "per-run req/s",
    median: median(s),
    p99: min(s),
    p99Label: "worst run",
    baseline: { name: "bare Hono JSON route", unit: "req/s", median: median(b), p99: min(b) },
    ratio,
    ratioOf: "median server req/s ÷ median bare req/s",
    target: "≥ 0.5× bare",
    pass: !bad && ratio >= 0.5,
    runs,
    notes,
  });
}
