/**
 * Server CPU per durable event, the event-rate figure's workload (20 rooms
 * streaming back-to-back local/echo turns of 300 words, EVENT_COALESCE_MS=0,
 * one follower each) measured as the server process's user+system CPU
 * (/proc/<pid>/stat) divided by the events its followers received, over
 * fixed windows after a warm-up. On a shared machine CPU per event moves
 * far less with other load than events/s does, so A/B comparisons of the
 * write path use this; events/s is printed too.
 *
 *   npx tsx bench/tools/event-cpu.ts [--runner node|tsx] [--windows 3] [--window-ms 3000]
 */
import { parseArgs } from "node:util";
import { Follower, request } from "../lib/http.js";
import { buildCompiled } from "../lib/compiled.js";
import { readFileSync } from "node:fs";
import { cleanupAll, setRunner, sleep, tempDir } from "../lib/proc.js";
import { rentEcho, startRoomservice, startTurn, token, wordsReply } from "../lib/roomservice.js";

const { values } = parseArgs({
  options: { runner: { type: "string", default: "node" }, windows: { type: "string", default: "3" }, "window-ms": { type: "string", default: "3000" } },
});
const windows = Number(values.windows);
const windowMs = Number(values["window-ms"]);
process.on("exit", () => cleanupAll());
process.on("SIGINT", () => process.exit(130));
setTimeout(() => {
  process.stderr.write("event-cpu: global timeout (180 s)\n");
  process.exit(124);
}, 180_000).unref();

/** User and system CPU seconds of a process so far (/proc/<pid>/stat utime and stime, 100 ticks/s). */
function cpuOf(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
}

async function main(): Promise<void> {
  const root = tempDir("event-cpu");
  if (values.runner === "node") setRunner({ kind: "node", root: buildCompiled(`${root}/compiled`) });
  const dataDir = `${root}/data`;
  const tok = await token(dataDir, "bench");
  const metricsToken = "event-cpu-metrics-token-0123456789abcdef";
  const s = await startRoomservice("event-cpu", dataDir, { ECHO_TOKEN_DELAY_MS: "0", EVENT_COALESCE_MS: "0", METRICS_TOKEN: metricsToken });
  /** Event-log transactions committed so far (the commit histogram's _count). */
  const commits = async (): Promise<number> => {
    const r = await request(s.base, "GET", "/metrics", { token: metricsToken });
    const m = /^roomservice_event_commit_seconds_count(?:\{[^}]*\})? (\d+)/m.exec(String(r.body));
    if (!m) throw new Error(`no roomservice_event_commit_seconds_count in /metrics (HTTP ${r.status})`);
    return Number(m[1]);
  };
  let stop = false;
  try {
    const rooms = await Promise.all(Array.from({ length: 20 }, () => rentEcho(s.base, tok, { token_delay_ms: 0, reply: wordsReply(300) })));
    const fs = await Promise.all(rooms.map((r) => Follower.open(s.base, r, tok)));
    const problems: string[] = [];
    const drivers = rooms.map(async (r, k) => {
      let n = 0;
      while (!stop && n < 10_000) {
        const t = await fs[k]!.turnEnded(await startTurn(s.base, tok, r, `q${n++}`), 30_000);
        if (t.status !== "completed") problems.push(`turn ended ${t.status}`);
      }
    });
    const seqs = () => fs.reduce((a, f) => a + f.lastSeq, 0);
    const pid = s.pid();
    await sleep(1000); // warm-up, not counted
    const rows: string[] = [];
    for (let w = 0; w < windows; w++) {
      const x0 = await commits();
      const e0 = seqs();
      const c0 = cpuOf(pid);
      const t0 = performance.now();
      await sleep(windowMs);
      const ms = performance.now() - t0;
      const events = seqs() - e0;
      const c1 = cpuOf(pid);
      const user = c1.user - c0.user;
      const sys = c1.sys - c0.sys;
      const cpu = user + sys;
      const tx = (await commits()) - x0;
      rows.push(`window ${w + 1}: ${events} events, ${(events / (ms / 1000)).toFixed(0)} ev/s, server CPU ${cpu.toFixed(2)} s = ${((cpu * 1e6) / events).toFixed(2)} µs/event (user ${((user * 1e6) / events).toFixed(2)}, sys ${((sys * 1e6) / events).toFixed(2)}; ${((cpu * 100_000) / ms).toFixed(0)}% of a core), ${tx} transactions (${(events / tx).toFixed(1)} events each)`);
    }
    stop = true;
    await Promise.race([Promise.all(drivers), sleep(20_000)]);
    for (const f of fs) f.close();
    process.stdout.write(`${rows.join("\n")}\n${problems.length ? `${problems.length} problems, first: ${problems[0]}\n` : ""}`);
  } finally {
    stop = true;
    await s.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String(err instanceof Error ? err.stack : err)}\n`);
    process.exit(1);
  },
);
