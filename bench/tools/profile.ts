/**
 * Investigation of a missed figure: runs one bench workload against a server
 * started with `--cpu-prof` (or, for memory, with heap snapshots before and
 * after), then prints where the time or the bytes went. Same libs, same
 * server start-up as `npm run bench`; loopback only, bounded.
 *
 *   npx tsx bench/tools/profile.ts <read|turns|events|fanout|startup|followers-heap|live-heap|capacity> [--runner tsx|node] [--seconds 5] [--n N] [--keep]
 */
import { copyFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { closeAgent, expectStatus, Follower, pool, request } from "../lib/http.js";
import { IpcChild } from "../lib/ipc-child.js";
import { buildCompiled } from "../lib/compiled.js";
import { cleanupAll, gcAndMeasure, setKeepTemp, setRunner, sleep, tempDir } from "../lib/proc.js";
import { rentEcho, startRoomservice, startTurn, token, wordsReply, type ServerHandle } from "../lib/roomservice.js";
import { capacity } from "../figures/capacity.js";
import { summarizeProfile } from "./cpuprofile-summary.js";
import { diff } from "./heap-diff.js";

const { values, positionals } = parseArgs({
  options: { runner: { type: "string", default: "node" }, seconds: { type: "string", default: "5" }, keep: { type: "boolean", default: false }, n: { type: "string" }, top: { type: "string", default: "30" } },
  allowPositionals: true,
});
const workload = positionals[0] ?? "";
const seconds = Number(values.seconds);
setKeepTemp(values.keep!);
process.on("exit", () => cleanupAll());
process.on("SIGINT", () => process.exit(130));
setTimeout(() => {
  process.stderr.write("profile: global timeout (240 s)\n");
  process.exit(124);
}, 240_000).unref();

const root = tempDir("profile");
const sub = (name: string) => {
  const d = path.join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
};

function serverProfile(dir: string): string {
  // The wrapper (tsx) writes a tiny profile too; the server's is the largest.
  const files = readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(dir, f));
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

async function withProfiledServer(env: Record<string, string>, fn: (s: ServerHandle, tok: string, dataDir: string) => Promise<void>, dataDir = sub("data")): Promise<void> {
  const prof = sub("cpu");
  const tok = await token(dataDir, "bench");
  const s = await startRoomservice("profiled", dataDir, { ECHO_TOKEN_DELAY_MS: "0", ...env }, { cpuProfDir: prof });
  let code: number | null = null;
  try {
    await fn(s, tok, dataDir);
  } finally {
    code = await s.stop();
  }
  const file = serverProfile(prof);
  if (!file) throw new Error(`no CPU profile written (server exit code ${code}): ${s.output().slice(-1500)}`);
  process.stdout.write(`${summarizeProfile(file, Number(values.top))}\n`);
  if (values.keep) process.stdout.write(`profile kept: ${file}\n`);
}

async function heapDiff(env: Record<string, string>, units: number, setup: (s: ServerHandle, tok: string) => Promise<unknown>, grow: (s: ServerHandle, tok: string, ctx: unknown) => Promise<void>): Promise<void> {
  const dataDir = sub("data");
  const hookDir = sub("hook");
  const tok = await token(dataDir, "bench");
  process.env["BENCH_HOOK_SNAPSHOTS"] = "1";
  const s = await startRoomservice("heap", dataDir, { ECHO_TOKEN_DELAY_MS: "0", ...env }, { hookDir });
  delete process.env["BENCH_HOOK_SNAPSHOTS"];
  try {
    const ctx = await setup(s, tok);
    const a = await gcAndMeasure(s, hookDir, 500, 120_000);
    await grow(s, tok, ctx);
    const b = await gcAndMeasure(s, hookDir, 1000, 120_000);
    process.stdout.write(`RSS ${(a.rss / 1e6).toFixed(1)} → ${(b.rss / 1e6).toFixed(1)} MB (${((b.rss - a.rss) / units).toFixed(0)} bytes per unit); heapUsed ${(a.heapUsed / 1e6).toFixed(1)} → ${(b.heapUsed / 1e6).toFixed(1)} MB (${((b.heapUsed - a.heapUsed) / units).toFixed(0)} bytes per unit); heapTotal ${(a.heapTotal / 1e6).toFixed(1)} → ${(b.heapTotal / 1e6).toFixed(1)} MB; external ${(a.external / 1e6).toFixed(1)} → ${(b.external / 1e6).toFixed(1)} MB\n`);
    const snaps = readdirSync(hookDir)
      .filter((f) => f.endsWith(".heapsnapshot"))
      .sort((x, y) => Number(x.split("-")[2]!.split(".")[0]) - Number(y.split("-")[2]!.split(".")[0]));
    process.stdout.write(`${diff(path.join(hookDir, snaps[0]!), path.join(hookDir, snaps[1]!), Number(values.top), units)}\n`);
  } finally {
    await s.stop();
  }
}

async function main(): Promise<void> {
  if (values.runner === "node") setRunner({ kind: "node", root: buildCompiled(sub("compiled")) });
  switch (workload) {
    case "read":
      await withProfiledServer({}, async (s, tok) => {
        const room = await rentEcho(s.base, tok, { token_delay_ms: 0 });
        const r = await autocannon({ url: `${s.base}/llm/room/${room}`, connections: 50, duration: seconds, headers: { authorization: `Bearer ${tok}` } });
        process.stdout.write(`read: ${(r["2xx"] / r.duration).toFixed(0)} req/s, non2xx ${r.non2xx}\n`);
      });
      break;
    case "turns":
      await withProfiledServer({}, async (s, tok) => {
        const room = await rentEcho(s.base, tok, { token_delay_ms: 0, reply: wordsReply(50) });
        const f = await Follower.open(s.base, room, tok);
        const end = performance.now() + seconds * 1000;
        let n = 0;
        while (performance.now() < end && n < 20_000) {
          await f.turnEnded(await startTurn(s.base, tok, room, `q${n}`));
          n++;
        }
        f.close();
        process.stdout.write(`turns: ${(n / seconds).toFixed(1)} turns/s sequential\n`);
      });
      break;
    case "events":
      await withProfiledServer({ EVENT_COALESCE_MS: "0" }, async (s, tok) => {
        const rooms = await Promise.all(Array.from({ length: 20 }, () => rentEcho(s.base, tok, { token_delay_ms: 0, reply: wordsReply(300) })));
        const fs = await Promise.all(rooms.map((r) => Follower.open(s.base, r, tok)));
        const end = performance.now() + seconds * 1000;
        await Promise.all(
          rooms.map(async (r, k) => {
            let n = 0;
            while (performance.now() < end && n < 10_000) await fs[k]!.turnEnded(await startTurn(s.base, tok, r, `q${n++}`));
          }),
        );
        const events = fs.reduce((a, f) => a + f.lastSeq, 0);
        for (const f of fs) f.close();
        process.stdout.write(`events: ~${(events / seconds).toFixed(0)} events/s\n`);
      });
      break;
    case "fanout":
      await withProfiledServer({}, async (s, tok) => {
        const room = await rentEcho(s.base, tok, { token_delay_ms: 0 });
        const clients = IpcChild.start("bench/fanout-clients.ts");
        try {
          await clients.call({ cmd: "connect", url: `${s.base}/llm/room/${room}/events?follow=true`, headers: { authorization: `Bearer ${tok}` }, n: 1000, concurrency: 50, timeoutMs: 10_000 }, 60_000);
          await clients.call({ cmd: "measure", since: Date.now() }, 5000);
          for (let i = 0; i < seconds * 100; i++) {
            void request(s.base, "POST", `/llm/room/${room}/messages`, { token: tok, body: { kind: "note", content: `n${i}` } }).catch(() => undefined);
            await sleep(10);
          }
          await sleep(500);
          process.stdout.write(`fanout: ${JSON.stringify(await clients.call({ cmd: "report" }, 30_000))}\n`);
        } finally {
          await clients.stop();
        }
      });
      break;
    case "startup": {
      // A tenant like the bench's (5 rooms × 4 turns of ~1,000 chars), copied 1,000 times.
      const seedDir = sub("seed");
      const seedTok = await token(seedDir, "seed");
      const seed = await startRoomservice("seed", seedDir, { ECHO_TOKEN_DELAY_MS: "0" });
      try {
        const rooms = await Promise.all(Array.from({ length: 5 }, () => rentEcho(seed.base, seedTok, { token_delay_ms: 0, reply: wordsReply(170) })));
        const fs = await Promise.all(rooms.map((r) => Follower.open(seed.base, r, seedTok)));
        await Promise.all(rooms.map(async (r, k) => {
          for (let t = 0; t < 4; t++) await fs[k]!.turnEnded(await startTurn(seed.base, seedTok, r, `q${t}`));
        }));
        for (const f of fs) f.close();
      } finally {
        await seed.stop();
      }
      const dataDir = sub("data");
      mkdirSync(path.join(dataDir, "tenants"), { recursive: true });
      const n = Number(values.n ?? 1000);
      for (let i = 0; i < n; i++) copyFileSync(path.join(seedDir, "tenants", "seed.db"), path.join(dataDir, "tenants", `t${String(i).padStart(4, "0")}.db`));
      const settle = await startRoomservice("settle", dataDir, {});
      await settle.stop();
      await withProfiledServer({}, async (s) => {
        process.stdout.write(`startup: ${(s.readyAt - s.spawnedAt).toFixed(0)} ms to /health with ${n} tenants\n`);
      }, dataDir);
      break;
    }
    case "followers-heap": {
      const n = Number(values.n ?? 1000);
      const clients = IpcChild.start("bench/fanout-clients.ts");
      try {
        await heapDiff(
          {},
          n,
          async (s, tok) => {
            const room = await rentEcho(s.base, tok, { token_delay_ms: 0 });
            // Warm the follow path with one follower first.
            const f = await Follower.open(s.base, room, tok);
            f.close();
            return room;
          },
          async (s, tok, room) => {
            await clients.call({ cmd: "connect", url: `${s.base}/llm/room/${String(room)}/events?follow=true`, headers: { authorization: `Bearer ${tok}` }, n, concurrency: 50, timeoutMs: 10_000 }, 60_000);
          },
        );
      } finally {
        await clients.stop();
      }
      break;
    }
    case "live-heap": {
      const n = Number(values.n ?? 500);
      await heapDiff(
        {},
        n,
        async (s, tok) => {
          const warm = await rentEcho(s.base, tok, { token_delay_ms: 0 });
          await startTurn(s.base, tok, warm);
          return await pool(Array.from({ length: n }), 16, () => rentEcho(s.base, tok, { token_delay_ms: 2000, reply: wordsReply(100) }, { done_policy: { max_turn_s: 600 } }));
        },
        async (s, tok, rooms) => {
          await pool(rooms as string[], 16, (id) => expectStatus(202, request(s.base, "POST", `/llm/room/${id}/messages`, { token: tok, body: { content: "a long story please" } }), "post"));
          await sleep(1000);
        },
      );
      break;
    }
    case "capacity": {
      // One step of the capacity figure (bench/figures/capacity.ts) at --n rooms, measured over --seconds.
      const n = Number(values.n ?? 400);
      const metricsToken = "profile-capacity-metrics-0123456789abcdef";
      await withProfiledServer({ METRICS_TOKEN: metricsToken }, async (s, tok) => {
        await capacity({
          server: s,
          metricsToken,
          token: tok,
          steps: [n],
          tokenDelayMs: 50,
          replyTokens: 300,
          staggerMs: 5000,
          settleMs: 1000,
          windowMs: seconds * 1000,
          p99TargetMs: 100,
          budgetMs: 180_000,
          svgPath: path.join(root, "capacity.svg"),
        });
      });
      break;
    }
    default:
      throw new Error(`unknown workload "${workload}"; one of read, turns, events, fanout, startup, followers-heap, live-heap, capacity`);
  }
}

main().then(
  () => {
    closeAgent();
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
