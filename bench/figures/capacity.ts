/**
 * Capacity: how many rooms can stream real-paced replies at once on one
 * server, each with one SSE follower, before delivery slows or anything is
 * lost.
 *
 * The number of rooms streaming at once is ramped in steps (rooms are added,
 * never removed). Every room's actor is `local/echo` paced like a model
 * (`token_delay_ms` 50 = 20 tokens/s, 300-token replies, `stamp_tokens` so
 * every token carries the time it was due) and posts its next message when
 * its turn ends (bench/capacity-clients.ts, a separate process, which also
 * holds the followers). A step adds its rooms with their first messages
 * spread over a stagger, lets them settle, then measures one window:
 *
 * - token delivery latency, per token: receipt at the follower − the time the
 *   model was due to emit it (p50, p99, max);
 * - durable events/s: how far the followers' seqs moved over the window;
 * - tokens delivered/s against rooms × 20;
 * - the server's CPU share (/proc/<pid>/stat) and its peak RSS in the window;
 * - loss: seq gaps, turns not ending `completed` with every token, followers
 *   cut off, failed posts (over the whole figure, not only the window).
 *
 * A step passes when p99 ≤ 100 ms, nothing was lost and at least 90% of the
 * scheduled tokens/s were delivered. The ramp stops after the first step
 * that fails; capacity is the last step that passed before it.
 */
import { writeFileSync } from "node:fs";
import { figure, type Figure } from "../lib/figure.js";
import { pool } from "../lib/http.js";
import { IpcChild } from "../lib/ipc-child.js";
import { log } from "../lib/log.js";
import { metricSum } from "../lib/prom.js";
import { cpuSeconds, readRss, sleep, type Spawned } from "../lib/proc.js";
import { rentEcho, wordsReply, type ServerHandle } from "../lib/roomservice.js";

export interface CapacityCtx {
  server: ServerHandle;
  /** The server's METRICS_TOKEN: each window's commit time and group sizes come from /metrics. */
  metricsToken: string;
  token: string;
  steps: readonly number[];
  /** The floor: bench/bare-rooms.ts, already started, ramped over `bareSteps` after the server (same clients, same pacing). */
  bare?: { server: Spawned; steps: readonly number[]; budgetMs: number };
  tokenDelayMs: number;
  replyTokens: number;
  staggerMs: number;
  settleMs: number;
  windowMs: number;
  p99TargetMs: number;
  /** The ramp stops before a step that would not finish inside this budget. */
  budgetMs: number;
  svgPath: string;
}

/** One ramp: a target (the server, or the bare baseline), its steps and budget. */
interface RampCtx extends Omit<CapacityCtx, "server" | "metricsToken" | "bare" | "svgPath"> {
  label: string;
  target: { base: string; pid: () => number };
  /** Absent for the bare baseline, which keeps no commit metrics. */
  metricsToken?: string;
}

interface Ramp {
  steps: CapacityStep[];
  capacityRooms: number;
  stoppedBy: string;
}

interface ClientReport {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  toWrite: { p50: number; p99: number };
  toReceipt: { p50: number; p99: number };
  events: number;
  tokens: number;
  gaps: number;
  turnsEnded: number;
  badTurns: number;
  badTurnSample: string;
  postFailures: number;
  postSample: string;
  closed: number;
  overflow: number;
  total: { gaps: number; badTurns: number; postFailures: number; closed: number; overflow: number; turnsEnded: number };
  open: number;
  clientCpuShare: number;
}

export interface CapacityStep {
  rooms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Per token: due → the start of the transaction that wrote it (created_at). */
  emit_to_write_ms: { p50: number; p99: number };
  /** Per frame: created_at → receipt. */
  write_to_receipt_ms: { p50: number; p99: number };
  tokens_per_s: number;
  scheduled_tokens_per_s: number;
  /** Event-log transactions per second, the share of the window the event loop spent in them, and the mean group-commit size. */
  commits_per_s: number;
  commit_time_share: number;
  mean_group: number;
  /** fsyncs of the log run off the event loop per second, and their mean duration (roomservice_wal_fsync_seconds). */
  fsyncs_per_s: number;
  fsync_mean_ms: number;
  events_per_s: number;
  turns_ended: number;
  server_cpu_share: number;
  server_rss_mb: number;
  client_cpu_share: number;
  loss: { gaps: number; bad_turns: number; post_failures: number; closed: number; overflow: number };
  loss_sample: string;
  rent_ms: number;
  connect_ms: number;
  pass: boolean;
}

interface CommitSums {
  commitSeconds: number;
  commits: number;
  groupSum: number;
  groups: number;
  fsyncSeconds: number;
  fsyncs: number;
}

/** Sums of the server's own commit histograms (roomservice_event_commit_seconds, roomservice_group_commit_size, roomservice_wal_fsync_seconds). */
async function commitSums(base: string, metricsToken: string | undefined): Promise<CommitSums> {
  if (metricsToken === undefined) return { commitSeconds: 0, commits: 0, groupSum: 0, groups: 0, fsyncSeconds: 0, fsyncs: 0 };
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
  const text = await res.text();
  const sum = (name: string) => metricSum(text, name);
  return {
    commitSeconds: sum("roomservice_event_commit_seconds_sum"),
    commits: sum("roomservice_event_commit_seconds_count"),
    groupSum: sum("roomservice_group_commit_size_sum"),
    groups: sum("roomservice_group_commit_size_count"),
    fsyncSeconds: sum("roomservice_wal_fsync_seconds_sum"),
    fsyncs: sum("roomservice_wal_fsync_seconds_count"),
  };
}

function lossOf(r: ClientReport): CapacityStep["loss"] {
  return { gaps: r.total.gaps, bad_turns: r.total.badTurns, post_failures: r.total.postFailures, closed: r.total.closed, overflow: r.total.overflow };
}

async function ramp(c: RampCtx): Promise<Ramp> {
  const t0 = performance.now();
  const clients = IpcChild.start("bench/capacity-clients.ts");
  const steps: CapacityStep[] = [];
  const roomIds: string[] = [];
  const reply = wordsReply(c.replyTokens);
  const pid = c.target.pid();
  let stoppedBy = "";
  try {
    await clients.call({ cmd: "setup", base: c.target.base, token: c.token, replyTokens: c.replyTokens }, 5000);
    for (const n of c.steps) {
      const add = n - roomIds.length;
      // Renting and connecting scale with the rooms added; the rest of a step is fixed.
      const expectMs = c.staggerMs + c.settleMs + c.windowMs + add * 6;
      if (performance.now() - t0 + expectMs > c.budgetMs) {
        stoppedBy = `step ${n} not run: it would overrun the phase's ${Math.round(c.budgetMs / 1000)} s budget`;
        break;
      }
      const r0 = performance.now();
      const fresh = await pool(Array.from({ length: add }), 16, () => rentEcho(c.target.base, c.token, { token_delay_ms: c.tokenDelayMs, reply, stamp_tokens: true }));
      const rentMs = performance.now() - r0;
      roomIds.push(...fresh);
      const conn = await clients.call<{ connected: number; failed: number; ms: number }>({ cmd: "add", roomIds: fresh, staggerMs: c.staggerMs, concurrency: 50, timeoutMs: 10_000 }, 120_000);
      if (conn.failed > 0) throw new Error(`${conn.failed} of ${add} followers did not connect at step ${n}`);
      await sleep(c.staggerMs + c.settleMs);
      await clients.call({ cmd: "measure", since: Date.now() }, 10_000);
      const m0 = await commitSums(c.target.base, c.metricsToken);
      const cpu0 = cpuSeconds(pid);
      const w0 = performance.now();
      let rss = readRss(pid);
      while (performance.now() - w0 < c.windowMs) {
        await sleep(Math.min(500, c.windowMs - (performance.now() - w0)));
        rss = Math.max(rss, readRss(pid));
      }
      const report = await clients.call<ClientReport>({ cmd: "report" }, 30_000);
      const wallS = (performance.now() - w0) / 1000;
      const cpu = (cpuSeconds(pid) - cpu0) / wallS;
      const m1 = await commitSums(c.target.base, c.metricsToken);
      const loss = lossOf(report);
      const lost = loss.gaps + loss.bad_turns + loss.post_failures + loss.closed + loss.overflow;
      const scheduled = (n * 1000) / c.tokenDelayMs;
      const tokensPerS = report.tokens / wallS;
      const step: CapacityStep = {
        rooms: n,
        p50_ms: report.p50,
        p90_ms: report.p90,
        p99_ms: report.p99,
        max_ms: report.max,
        emit_to_write_ms: report.toWrite,
        write_to_receipt_ms: report.toReceipt,
        tokens_per_s: tokensPerS,
        scheduled_tokens_per_s: scheduled,
        commits_per_s: (m1.commits - m0.commits) / wallS,
        commit_time_share: (m1.commitSeconds - m0.commitSeconds) / wallS,
        mean_group: (m1.groupSum - m0.groupSum) / Math.max(1, m1.groups - m0.groups),
        fsyncs_per_s: (m1.fsyncs - m0.fsyncs) / wallS,
        fsync_mean_ms: (1000 * (m1.fsyncSeconds - m0.fsyncSeconds)) / Math.max(1, m1.fsyncs - m0.fsyncs),
        events_per_s: report.events / wallS,
        turns_ended: report.turnsEnded,
        server_cpu_share: cpu,
        server_rss_mb: rss / 1024 / 1024,
        client_cpu_share: report.clientCpuShare,
        loss,
        loss_sample: [report.badTurnSample, report.postSample].filter(Boolean).join("; ").slice(0, 400),
        rent_ms: rentMs,
        connect_ms: conn.ms,
        pass: report.p99 <= c.p99TargetMs && lost === 0 && tokensPerS >= 0.9 * scheduled && report.open === n,
      };
      steps.push(step);
      log(
        `capacity, ${c.label}, ${n} rooms: p50 ${step.p50_ms} ms, p99 ${step.p99_ms} ms, max ${step.max_ms} ms (emit→write p50/p99 ${report.toWrite.p50}/${report.toWrite.p99}, write→receipt ${report.toReceipt.p50}/${report.toReceipt.p99}), ${tokensPerS.toFixed(0)}/${scheduled.toFixed(0)} tokens/s, ${step.events_per_s.toFixed(0)} events/s, ${step.commits_per_s.toFixed(0)} commits/s taking ${(100 * step.commit_time_share).toFixed(0)}% of the window, group ${step.mean_group.toFixed(1)}, ${step.fsyncs_per_s.toFixed(0)} fsyncs/s of ${step.fsync_mean_ms.toFixed(1)} ms, server CPU ${cpu.toFixed(2)}, RSS ${step.server_rss_mb.toFixed(0)} MB, client CPU ${step.client_cpu_share.toFixed(2)}, lost ${lost}${step.pass ? "" : " → MISS"}`,
      );
      if (!step.pass) {
        stoppedBy = `stopped after the first step that failed (${n} rooms)`;
        break;
      }
    }
    await clients.call({ cmd: "close" }, 10_000);
  } finally {
    await clients.stop();
  }
  if (!stoppedBy) stoppedBy = "every step passed";
  let capacityRooms = 0;
  for (const s of steps) {
    if (!s.pass) break;
    capacityRooms = s.rooms;
  }
  return { steps, capacityRooms, stoppedBy };
}

function table(steps: readonly CapacityStep[]): string[] {
  return [
    "| rooms | p50 ms | p99 ms | max ms | emit→write p50/p99 | write→receipt p50/p99 | tokens/s (of scheduled) | durable events/s | commits/s (share of time) | fsyncs/s (mean ms) | server CPU | server RSS MB | client CPU | lost | pass |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...steps.map((s) => {
      const lost = s.loss.gaps + s.loss.bad_turns + s.loss.post_failures + s.loss.closed + s.loss.overflow;
      return `| ${s.rooms} | ${s.p50_ms} | ${s.p99_ms} | ${s.max_ms} | ${s.emit_to_write_ms.p50}/${s.emit_to_write_ms.p99} | ${s.write_to_receipt_ms.p50}/${s.write_to_receipt_ms.p99} | ${s.tokens_per_s.toFixed(0)} (${((100 * s.tokens_per_s) / s.scheduled_tokens_per_s).toFixed(0)}%) | ${s.events_per_s.toFixed(0)} | ${s.commits_per_s.toFixed(0)} (${(100 * s.commit_time_share).toFixed(0)}%) | ${s.fsyncs_per_s.toFixed(0)} (${s.fsync_mean_ms.toFixed(1)}) | ${s.server_cpu_share.toFixed(2)} | ${s.server_rss_mb.toFixed(0)} | ${s.client_cpu_share.toFixed(2)} | ${lost} | ${s.pass ? "pass" : "MISS"} |`;
    }),
  ];
}

export async function capacity(c: CapacityCtx): Promise<Figure> {
  const { server, metricsToken, bare, svgPath, ...pacing } = c;
  const real = await ramp({ ...pacing, label: "server", target: server, metricsToken });
  // The floor, with the same clients and pacing: where even a bare broadcaster stops on this machine.
  const floor = bare ? await ramp({ ...pacing, steps: bare.steps, budgetMs: bare.budgetMs, label: "bare", target: bare.server }) : undefined;
  const last = real.steps.filter((s) => s.rooms === real.capacityRooms)[0];
  writeFileSync(svgPath, svg(real.steps, floor?.steps ?? [], c.p99TargetMs));
  return figure({
    id: "capacity",
    name: "capacity: rooms streaming at once, 20 tok/s, 1 follower each",
    unit: "rooms",
    stat: "most rooms with p99 ≤ 100 ms, zero loss",
    median: real.capacityRooms,
    p99: last ? last.p99_ms : null,
    p99Label: "its p99 ms",
    ...(floor
      ? {
          baseline: { name: "bare node:http rooms server (bench/bare-rooms.ts)", unit: "rooms", median: floor.capacityRooms, p99: null },
          ratio: floor.capacityRooms > 0 ? real.capacityRooms / floor.capacityRooms : null,
          ratioOf: "server capacity ÷ bare capacity (same clients, same machine, same run)",
        }
      : {}),
    target: "≥ 2000 rooms",
    pass: real.capacityRooms >= 2000,
    runs: [...real.steps.map((s) => ({ target: "server", ...s })), ...(floor?.steps ?? []).map((s) => ({ target: "bare", ...s }))],
    notes: [
      `local/echo with token_delay_ms ${c.tokenDelayMs} (${1000 / c.tokenDelayMs} tokens/s) and stamp_tokens, ${c.replyTokens}-token replies, each room posting its next message on agent:turn_end; one SSE follower per room in bench/capacity-clients.ts; default EVENT_COALESCE_MS; one tenant.`,
      `per step: rooms added (first messages spread over ${c.staggerMs} ms), ${c.settleMs} ms settle, one ${c.windowMs} ms window. Latency = follower receipt Date.now() − the token's due time on the model's fixed schedule (1 ms resolution). A step passes with p99 ≤ ${c.p99TargetMs} ms, no seq gap, every turn completed with all ${c.replyTokens} tokens, no follower cut off, no failed post, ≥ 90% of the scheduled tokens/s delivered. Server: ${real.stoppedBy}.`,
      ...table(real.steps),
      ...(floor
        ? [
            `bare baseline (bench/bare-rooms.ts: the same frames on the same schedule, no durability, auth, model runtime or framework), steps ${bare!.steps.join(", ")}: ${floor.stoppedBy}.`,
            ...table(floor.steps),
          ]
        : []),
      `curve: ${svgPath}`,
      ...real.steps.filter((s) => s.loss_sample).map((s) => `${s.rooms} rooms, first loss: ${s.loss_sample}`),
    ],
  });
}

/** The curve as a small standalone SVG: p50 and p99 latency (log scale) and server CPU against rooms, and the bare baseline's p99. */
function svg(steps: readonly CapacityStep[], bare: readonly CapacityStep[], targetMs: number): string {
  const W = 640;
  const H = 360;
  const L = 60;
  const R = 60;
  const T = 30;
  const B = 50;
  const maxRooms = Math.max(1000, ...steps.map((s) => s.rooms), ...bare.map((s) => s.rooms));
  const x = (rooms: number) => L + ((W - L - R) * rooms) / maxRooms;
  const lo = 1;
  const hi = Math.max(1000, ...steps.map((s) => s.p99_ms), ...bare.map((s) => s.p99_ms));
  const y = (ms: number) => T + (H - T - B) * (1 - (Math.log10(Math.max(lo, ms)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)));
  const yc = (share: number) => T + (H - T - B) * (1 - share / 2);
  const line = (pts: [number, number][], color: string, dash = "") =>
    `<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""} points="${pts.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ")}"/>` +
    pts.map(([a, b]) => `<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${color}"/>`).join("");
  const ticksY = [1, 10, 100, 1000, 10_000].filter((v) => v <= hi);
  const ticksX = Array.from({ length: 7 }, (_, i) => Math.round((maxRooms * i) / 6));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">Token delivery latency vs rooms streaming at once (20 tok/s, 1 follower each)</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/><line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="#999"/>
${ticksY.map((v) => `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text><line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#eee"/>`).join("")}
${[0, 0.5, 1, 1.5, 2].map((v) => `<text x="${W - R + 6}" y="${yc(v) + 4}">${v}</text>`).join("")}
${ticksX.map((v) => `<text x="${x(v)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`).join("")}
<text x="${W / 2}" y="${H - 12}" text-anchor="middle">rooms streaming at once</text>
<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle">latency, ms (log)</text>
<text x="${W - 14}" y="${H / 2}" transform="rotate(90 ${W - 14} ${H / 2})" text-anchor="middle">server CPU (cores)</text>
<line x1="${L}" y1="${y(targetMs)}" x2="${W - R}" y2="${y(targetMs)}" stroke="red" stroke-dasharray="4 3"/><text x="${W - R - 4}" y="${y(targetMs) - 4}" text-anchor="end" fill="red">p99 target ${targetMs} ms</text>
${line(steps.map((s) => [x(s.rooms), y(s.p50_ms)]), "#1f77b4")}
${line(steps.map((s) => [x(s.rooms), y(s.p99_ms)]), "#d62728")}
${line(steps.map((s) => [x(s.rooms), yc(s.server_cpu_share)]), "#2ca02c", "5 3")}
${bare.length ? line(bare.map((s) => [x(s.rooms), y(s.p99_ms)]), "#7f7f7f", "2 3") : ""}
${steps.filter((s) => !s.pass).map((s) => `<text x="${x(s.rooms)}" y="${y(s.p99_ms) - 8}" text-anchor="middle" fill="#d62728">MISS</text>`).join("")}
<text x="${L + 8}" y="${T + 12}" fill="#1f77b4">p50</text><text x="${L + 40}" y="${T + 12}" fill="#d62728">p99</text><text x="${L + 72}" y="${T + 12}" fill="#2ca02c">server CPU</text>${bare.length ? `<text x="${L + 150}" y="${T + 12}" fill="#7f7f7f">bare server p99</text>` : ""}
</svg>
`;
}
