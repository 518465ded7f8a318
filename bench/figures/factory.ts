/**
 * An offline factory run of 20 issues (local/echo, no token delay, one issue
 * in flight so issues do not overlap), from `POST /start` to `run:finished`
 * on the run's SSE stream: its wall time, and the supervisor's overhead per
 * issue (wall time ÷ 20 minus one room turn) as a ratio to one room turn.
 * The room turn is measured in the same server in the same run: a task
 * message like an issue's, `POST /messages` → `agent:turn_end` at a follower.
 */
import http from "node:http";
import { figure, type Figure } from "../lib/figure.js";
import { expectStatus, Follower, request } from "../lib/http.js";
import { rentEcho, startTurn } from "../lib/roomservice.js";
import type { Spawned } from "../lib/proc.js";
import { median, max } from "../lib/stats.js";

export interface FactoryCtx {
  server: Spawned;
  token: string;
  runs: number;
  issues: number;
}

function brief(n: number): string {
  const items = Array.from({ length: n }, (_, i) => `- Write line ${i + 1} of the poem\n  - mentions "line ${i + 1}"`);
  return `# Bench poem\n\n${items.join("\n")}\n`;
}

/** Resolves with performance.now() when the run's stream delivers `run:finished` (and its status). */
function finished(base: string, runId: string, token: string, timeoutMs: number): { ready: Promise<void>; done: Promise<{ at: number; status: string }> } {
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const done = new Promise<{ at: number; status: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`run ${runId} did not finish in ${timeoutMs} ms`)), timeoutMs);
    const req = http.get(`${base}/llm/factory/runs/${runId}/events?follow=true`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        reject(new Error(`run events: HTTP ${res.statusCode}`));
        return;
      }
      ready();
      res.setEncoding("utf8");
      let buf = "";
      res.on("data", (chunk: string) => {
        const t = performance.now();
        buf += chunk;
        let idx: number;
        while ((idx = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          if (frame.includes("event: run:finished")) {
            clearTimeout(timer);
            const data = frame.split("\n").find((l) => l.startsWith("data: "))!.slice(6);
            resolve({ at: t, status: (JSON.parse(data) as { payload: { status: string } }).payload.status });
            req.destroy();
          }
        }
      });
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return { ready: readyP, done };
}

async function roomTurns(base: string, token: string, n: number): Promise<number[]> {
  const roomId = await rentEcho(base, token, { token_delay_ms: 0 });
  const follower = await Follower.open(base, roomId, token);
  const out: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const turnId = await startTurn(base, token, roomId, `Task: Write line ${i + 1} of the poem\n\nAcceptance criteria:\n- mentions "line ${i + 1}"`);
      const t = await follower.turnEnded(turnId, 15_000);
      if (t.end === undefined || t.status !== "completed") throw new Error(`room turn ${turnId} ended ${t.status ?? "without agent:turn_end"}`);
      out.push(t.end - t0);
    }
  } finally {
    follower.close();
  }
  return out;
}

export async function factoryRun(ctx: FactoryCtx): Promise<Figure[]> {
  const { server, token } = ctx;
  const base = server.base;
  const walls: number[] = [];
  const ratios: number[] = [];
  const turnsMs: number[] = [];
  const notes: string[] = [];
  for (let r = 0; r < ctx.runs; r++) {
    const created = await expectStatus(
      201,
      request(base, "POST", "/llm/factory/runs", { token, body: { title: `bench ${r}`, max_in_flight: 1, source: { kind: "prompt", format: "markdown", content: brief(ctx.issues) } } }),
      "create run",
    );
    const runId = created.body.data.id as string;
    const end = finished(base, runId, token, 120_000);
    await end.ready;
    const t0 = performance.now();
    await expectStatus(200, request(base, "POST", `/llm/factory/runs/${runId}/start`, { token, body: {} }), "start run");
    const { at, status } = await end.done;
    if (status !== "completed") throw new Error(`the bench run ended ${status}`);
    const wall = at - t0;
    const issues = await expectStatus(200, request(base, "GET", `/llm/factory/runs/${runId}/issues?limit=200`, { token }), "issues");
    const passed = (issues.body.data as { status: string }[]).filter((i) => i.status === "passed").length;
    if (passed !== ctx.issues) throw new Error(`${passed} of ${ctx.issues} issues passed`);
    // One room turn, measured right after the run on the same server: the median of 10.
    const turn = median(await roomTurns(base, token, 10));
    const perIssue = wall / ctx.issues;
    walls.push(wall);
    turnsMs.push(turn);
    ratios.push((perIssue - turn) / turn);
    notes.push(`run ${r + 1}: ${wall.toFixed(0)} ms for ${ctx.issues} issues (${perIssue.toFixed(1)} ms per issue), room turn ${turn.toFixed(1)} ms`);
  }
  const turnMedian = median(turnsMs);
  return [
    figure({
      id: "factory_run",
      name: `factory run, ${ctx.issues} issues offline (start → completed)`,
      unit: "ms",
      target: "report",
      stat: "median / worst run",
      median: median(walls),
      p99: max(walls),
      p99Label: "worst run",
      baseline: { name: "one room turn × issues", unit: "ms", median: turnMedian * ctx.issues, p99: null },
      ratio: median(walls) / (turnMedian * ctx.issues),
      ratioOf: "run wall ÷ (room turn × issues)",
      runs: walls,
      notes,
    }),
    figure({
      id: "factory_overhead",
      name: "supervisor overhead per issue ÷ one room turn",
      unit: "×",
      target: "≤ 3×",
      stat: "median / worst run",
      median: median(ratios),
      p99: max(ratios),
      p99Label: "worst run",
      baseline: { name: "room turn (POST → agent:turn_end)", unit: "ms", median: turnMedian, p99: null },
      ratio: median(ratios),
      ratioOf: "(run wall ÷ issues − room turn) ÷ room turn",
      pass: median(ratios) <= 3,
      runs: ratios,
      notes: ["max_in_flight 1: issues run one after the other, so the wall time is the sum of per-issue times"],
    }),
  ];
}
