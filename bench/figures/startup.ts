/**
 * Start-up: process spawn (`tsx src/main.ts`) to the first 200 from /health,
 * polled every 5 ms on a fresh connection, with 1,000 tenant files on disk
 * (copies of a tenant the real server wrote earlier in this run: rooms with
 * turns, their history and events). One untimed start first settles them
 * (recovery puts idle rooms to sleep) and warms the OS page cache and tsx's
 * transpile cache, as any restart after the first would be. Baselines, in
 * the same runs, interleaved: the bare Hono app under the same tsx loader,
 * and the real server on an empty DATA_DIR.
 */
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import { figure, type Figure } from "../lib/figure.js";
import { readRss, runner, spawnScript } from "../lib/proc.js";
import { startRoomservice } from "../lib/roomservice.js";
import { median } from "../lib/stats.js";

export interface StartupCtx {
  seedTenantFile: string;
  tenants: number;
  runs: number;
  dir: (name: string) => string;
  env: Record<string, string>;
  cpuProfDir?: string;
}

export async function startup(c: StartupCtx): Promise<Figure> {
  const full = c.dir("startup-1000");
  mkdirSync(path.join(full, "tenants"), { recursive: true });
  for (let i = 0; i < c.tenants; i++) copyFileSync(c.seedTenantFile, path.join(full, "tenants", `t${String(i).padStart(4, "0")}.db`));
  const empty = c.dir("startup-empty");
  const seedBytes = statSync(c.seedTenantFile).size;

  const start = async (name: string, dataDir: string) => {
    const s = await startRoomservice(name, dataDir, c.env, { pollMs: 5, readyTimeoutMs: 60_000, ...(c.cpuProfDir ? { cpuProfDir: c.cpuProfDir } : {}) });
    const ms = s.readyAt - s.spawnedAt;
    const rss = readRss(s.pid());
    await s.stop();
    return { ms, rss };
  };
  // Untimed: settle the copied tenants, warm caches.
  const settle = await start("startup-settle", full);
  await start("startup-settle-empty", empty);

  const runs: { run: number; tenants1000Ms: number; emptyMs: number; bareMs: number; tenants1000Rss: number; emptyRss: number }[] = [];
  for (let r = 0; r < c.runs; r++) {
    const bare = await spawnScript({ name: "bare-hono-start", script: "bench/bare-hono.ts", env: {}, readyPath: "/health", pollMs: 5 });
    const bareMs = bare.readyAt - bare.spawnedAt;
    await bare.stop();
    const e = await start(`startup-empty-${r + 1}`, empty);
    const f = await start(`startup-1000-${r + 1}`, full);
    runs.push({ run: r + 1, tenants1000Ms: f.ms, emptyMs: e.ms, bareMs, tenants1000Rss: f.rss, emptyRss: e.rss });
  }
  const fullMs = runs.map((r) => r.tenants1000Ms);
  const bareMs = runs.map((r) => r.bareMs);
  const emptyMs = runs.map((r) => r.emptyMs);
  const m = median(fullMs);
  return figure({
    id: "startup",
    name: `start-up to /health, ${c.tenants} tenants`,
    unit: "ms",
    stat: "per-run ms",
    median: m,
    p99: Math.max(...fullMs),
    p99Label: "worst run",
    baseline: { name: `bare Hono app start (${runner().kind})`, unit: "ms", median: median(bareMs), p99: Math.max(...bareMs) },
    ratio: m / median(bareMs),
    ratioOf: "median start-up ms ÷ median bare Hono start-up ms",
    target: "≤ 1500 ms",
    pass: m <= 1500,
    runs: [{ settleMs: settle.ms }, ...runs],
    notes: [
      `same server, empty DATA_DIR: median ${median(emptyMs).toFixed(0)} ms, so the ${c.tenants} tenants add ${(m - median(emptyMs)).toFixed(0)} ms (${((m - median(emptyMs)) / c.tenants).toFixed(3)} ms per tenant).`,
      `each tenant file ${seedBytes} bytes; first (settling) start ${settle.ms.toFixed(0)} ms; RSS right after start: ${(median(runs.map((r) => r.tenants1000Rss)) / 1e6).toFixed(1)} MB with ${c.tenants} tenants vs ${(median(runs.map((r) => r.emptyRss)) / 1e6).toFixed(1)} MB empty.`,
      runner().kind === "tsx" ? "spawn → first 200 from /health; includes node + tsx start-up (transpile cache warm)." : "spawn → first 200 from /health; compiled JS on node (no tsx).",
    ],
  });
}
