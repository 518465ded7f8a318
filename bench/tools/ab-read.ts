/**
 * Read path, A/B: the same GET /llm/room/:id load against two or more builds
 * of the server (each a checkout's src/, compiled as `--runner node` does)
 * and the bare Hono app, in one process, targets alternated run by run, so
 * a change's effect is a same-run ratio on a shared machine.
 *
 *   npx tsx bench/tools/ab-read.ts [--runs 5] [--seconds 3] [--profile] name=/path/to/checkout ...
 *
 * Without a name=path pair it compares this checkout with itself (noise floor).
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { buildCompiled } from "../lib/compiled.js";
import { expectStatus, request, closeAgent } from "../lib/http.js";
import { cleanupAll, cpuSeconds, ROOT, spawnScript, tempDir, type Spawned } from "../lib/proc.js";
import { BENCH_ENV } from "../lib/roomservice.js";
import { median } from "../lib/stats.js";
import { summarizeProfile } from "./cpuprofile-summary.js";

const { values, positionals } = parseArgs({
  options: { runs: { type: "string", default: "5" }, seconds: { type: "string", default: "3" }, profile: { type: "boolean", default: false }, top: { type: "string", default: "25" } },
  allowPositionals: true,
});
process.on("exit", () => cleanupAll());
process.on("SIGINT", () => process.exit(130));
setTimeout(() => {
  process.stderr.write("ab-read: global timeout (400 s)\n");
  process.exit(124);
}, 400_000).unref();

const variants = (positionals.length > 0 ? positionals : [`a=${ROOT}`, `b=${ROOT}`]).map((p) => {
  const [name, root] = p.split("=");
  return { name: name!, root: path.resolve(root!) };
});
const work = tempDir("ab-read");

function token(root: string, dataDir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      path.join(root, "node_modules", ".bin", "tsx"),
      [path.join(root, "scripts/token.ts"), "--tenant", "bench", "--sub", "bench", "--access", "full", "--ttl", "7200"],
      { cwd: root, env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn" }, timeout: 60_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout.trim())),
    );
  });
}

async function cannon(url: string, tok: string, durationS: number, pid: number) {
  const cpu0 = cpuSeconds(pid);
  const r = await autocannon({ url, connections: 50, duration: durationS, headers: { authorization: `Bearer ${tok}` } });
  return { rps: r["2xx"] / r.duration, bad: r.non2xx + r.errors + r.timeouts, cpu: (cpuSeconds(pid) - cpu0) / r.duration };
}

interface Target {
  name: string;
  url: string;
  tok: string;
  s: Spawned;
  profDir?: string;
}

async function main(): Promise<void> {
  const targets: Target[] = [];
  let bodyFile = "";
  for (const v of variants) {
    const out = buildCompiled(path.join(work, `build-${v.name}`), v.root);
    const dataDir = path.join(work, `data-${v.name}`);
    mkdirSync(dataDir, { recursive: true });
    const tok = await token(v.root, dataDir);
    const profDir = values.profile ? path.join(work, `prof-${v.name}`) : undefined;
    const s = await spawnScript({
      name: v.name,
      runner: { kind: "node", root: out },
      script: "src/main.ts",
      env: { ...BENCH_ENV, ECHO_TOKEN_DELAY_MS: "0", DATA_DIR: dataDir },
      readyPath: "/health",
      ...(profDir ? { cpuProfDir: profDir } : {}),
    });
    const rent = await expectStatus(201, request(s.base, "POST", "/llm/room", { token: tok, body: { purpose: "bench", agents: [{ agent_id: "a", provider: "local", model: "echo", options: { token_delay_ms: 0 } }] } }), "rent");
    const roomId = rent.body.data.id as string;
    await expectStatus(202, request(s.base, "POST", `/llm/room/${roomId}/messages`, { token: tok, body: { content: "hello" } }), "post");
    for (let i = 0; i < 200; i++) {
      const r = await request(s.base, "GET", `/llm/room/${roomId}`, { token: tok });
      if (r.body?.data?.status === "idle") {
        if (!bodyFile) {
          bodyFile = path.join(work, "room-body.json");
          writeFileSync(bodyFile, JSON.stringify(r.body));
        }
        process.stdout.write(`${v.name}: body ${JSON.stringify(r.body).length} bytes\n`);
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    targets.push({ name: v.name, url: `${s.base}/llm/room/${roomId}`, tok, s, ...(profDir ? { profDir } : {}) });
  }
  const bareProf = values.profile ? path.join(work, "prof-bare") : undefined;
  const bare = await spawnScript({
    name: "bare",
    runner: { kind: "node", root: path.join(work, `build-${variants[0]!.name}`) },
    script: "bench/bare-hono.ts",
    env: { BARE_BODY_FILE: bodyFile },
    readyPath: "/health",
    ...(bareProf ? { cpuProfDir: bareProf } : {}),
  });
  const all: Target[] = [{ name: "bare", url: `${bare.base}/room`, tok: targets[0]!.tok, s: bare, ...(bareProf ? { profDir: bareProf } : {}) }, ...targets];
  for (const t of all) await cannon(t.url, t.tok, 1, t.s.pid());
  const runs = Number(values.runs);
  const seconds = Number(values.seconds);
  const res: Record<string, { rps: number; cpu: number; bad: number }[]> = {};
  const reqs: Record<string, number> = {};
  for (let r = 0; r < runs; r++) {
    // Rotate the order each run so no target always follows the same one.
    const order = all.map((_, i) => all[(i + r) % all.length]!);
    for (const t of order) {
      const x = await cannon(t.url, t.tok, seconds, t.s.pid());
      (res[t.name] ??= []).push(x);
      reqs[t.name] = (reqs[t.name] ?? 0) + x.rps * seconds;
    }
  }
  const bareMed = median(res["bare"]!.map((x) => x.rps));
  for (const t of all) {
    const xs = res[t.name]!;
    const m = median(xs.map((x) => x.rps));
    process.stdout.write(
      `${t.name.padEnd(8)} median ${m.toFixed(0).padStart(6)} req/s  ratio ${(m / bareMed).toFixed(3)}  cpu ${median(xs.map((x) => x.cpu)).toFixed(2)}  µs/req ${median(xs.map((x) => (x.cpu / x.rps) * 1e6)).toFixed(1)}  runs ${xs.map((x) => x.rps.toFixed(0)).join(" ")}${xs.some((x) => x.bad) ? "  NON-2XX" : ""}\n`,
    );
  }
  // Paired: each round measured every target back to back, so the per-round ratio to the first build cancels
  // most of the machine's drift between rounds.
  const first = targets[0]!.name;
  for (const t of targets.slice(1)) {
    const cpu = res[t.name]!.map((x, i) => x.cpu / x.rps / (res[first]![i]!.cpu / res[first]![i]!.rps));
    const rps = res[t.name]!.map((x, i) => x.rps / res[first]![i]!.rps);
    process.stdout.write(`${t.name} vs ${first}, per-round medians: µs/req ×${median(cpu).toFixed(3)}, req/s ×${median(rps).toFixed(3)} (rounds: ${cpu.map((x) => x.toFixed(2)).join(" ")})\n`);
  }
  for (const t of all) await t.s.stop();
  if (values.profile) {
    for (const t of all) {
      const files = readdirSync(t.profDir!, { recursive: true }).map(String).filter((f) => f.endsWith(".cpuprofile"));
      const f = path.join(t.profDir!, files[0]!);
      const keep = path.join(ROOT, "bench", "profiles", `ab-${t.name}.cpuprofile`);
      mkdirSync(path.dirname(keep), { recursive: true });
      copyFileSync(f, keep);
      process.stdout.write(`\n=== ${t.name} (${keep}; ${reqs[t.name]!.toFixed(0)} requests measured, plus warm-up)\n${summarizeProfile(f, Number(values.top))}\n`);
    }
  }
}

main()
  .then(() => {
    closeAgent();
    process.exit(0);
  })
  .catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
