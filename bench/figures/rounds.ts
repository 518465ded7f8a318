/**
 * A multi-agent exchange end to end: 3 local/echo actors, 2 extra rounds
 * (9 turns), from `POST /messages` with `mentions` and `rounds` to its
 * `message:completed` at a follower. Baseline, measured in the same server
 * in the same run: 9 single-actor turns one after the other, each from its
 * `POST /messages` to its `agent:turn_end` at a follower (the way a client
 * would drive 9 turns itself). The ratio is exchange ÷ 9 single turns.
 */
import http from "node:http";
import { figure, type Figure } from "../lib/figure.js";
import { expectStatus, Follower, request } from "../lib/http.js";
import type { Spawned } from "../lib/proc.js";
import { rentEcho, startTurn, wordsReply } from "../lib/roomservice.js";
import { max, median } from "../lib/stats.js";

export interface RoundsCtx {
  server: Spawned;
  token: string;
  runs: number;
  /** Exchanges (and as many 9-turn baselines) per run, alternated. */
  repeats: number;
  replyTokens: number;
}

const ACTORS = ["planner", "coder", "critic"];
const ROUNDS = 2;
const TURNS = ACTORS.length * (ROUNDS + 1);

/** A follower of one room that resolves when `message:completed` for a message arrives (timestamped on arrival). */
function completions(base: string, roomId: string, token: string): Promise<{ wait: (messageId: string, timeoutMs: number) => Promise<{ at: number; turns: number }>; close: () => void }> {
  const seen = new Map<string, { at: number; turns: number }>();
  const waiters = new Map<string, (v: { at: number; turns: number }) => void>();
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}/llm/room/${roomId}/events?follow=true`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`follower: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding("utf8");
      let buf = "";
      res.on("data", (chunk: string) => {
        const t = performance.now();
        buf += chunk;
        let idx: number;
        while ((idx = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          if (!frame.includes("event: message:completed")) continue;
          const data = JSON.parse(frame.split("\n").find((l) => l.startsWith("data: "))!.slice(6)) as { payload: { message_id: string; turns: number } };
          const v = { at: t, turns: data.payload.turns };
          const w = waiters.get(data.payload.message_id);
          if (w) w(v);
          else seen.set(data.payload.message_id, v);
        }
      });
      res.on("error", () => undefined);
      resolve({
        wait: (messageId, timeoutMs) => {
          const done = seen.get(messageId);
          if (done) return Promise.resolve(done);
          return new Promise((ok, fail) => {
            const timer = setTimeout(() => fail(new Error(`exchange ${messageId} did not complete in ${timeoutMs} ms`)), timeoutMs);
            waiters.set(messageId, (v) => {
              clearTimeout(timer);
              waiters.delete(messageId);
              ok(v);
            });
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on("error", reject);
  });
}

export async function rounds(ctx: RoundsCtx): Promise<Figure> {
  const { server, token } = ctx;
  const base = server.base;
  const reply = wordsReply(ctx.replyTokens);
  const options = { token_delay_ms: 0, reply };
  const ratios: number[] = [];
  const exchanges: number[] = [];
  const singles: number[] = [];
  const notes: string[] = [];

  const room = await expectStatus(
    201,
    request(base, "POST", "/llm/room", { token, body: { purpose: "bench rounds", agents: ACTORS.map((agent_id) => ({ agent_id, provider: "local", model: "echo", options })) } }),
    "rent exchange room",
  );
  const exchangeRoom = (room.body as { data: { id: string } }).data.id;
  const exchangeFollower = await completions(base, exchangeRoom, token);
  const singleRoom = await rentEcho(base, token, options);
  const singleFollower = await Follower.open(base, singleRoom, token);
  try {
    // Warm-up: one of each, not measured.
    const warm = await expectStatus(202, request(base, "POST", `/llm/room/${exchangeRoom}/messages`, { token, body: { content: "warm up", mentions: ACTORS, rounds: ROUNDS } }), "post exchange");
    await exchangeFollower.wait((warm.body as { data: { id: string } }).data.id, 30_000);
    await singleFollower.turnEnded(await startTurn(base, token, singleRoom, "warm up"), 15_000);

    for (let r = 0; r < ctx.runs; r++) {
      const ex: number[] = [];
      const one: number[] = [];
      for (let i = 0; i < ctx.repeats; i++) {
        const t0 = performance.now();
        const posted = await expectStatus(202, request(base, "POST", `/llm/room/${exchangeRoom}/messages`, { token, body: { content: `design step ${i}`, mentions: ACTORS, rounds: ROUNDS } }), "post exchange");
        const done = await exchangeFollower.wait((posted.body as { data: { id: string } }).data.id, 30_000);
        if (done.turns !== TURNS) throw new Error(`the exchange ran ${done.turns} turns, not ${TURNS}`);
        ex.push(done.at - t0);

        const s0 = performance.now();
        for (let k = 0; k < TURNS; k++) {
          const turnId = await startTurn(base, token, singleRoom, `design step ${i}.${k}`);
          const t = await singleFollower.turnEnded(turnId, 15_000);
          if (t.status !== "completed") throw new Error(`single turn ${turnId} ended ${t.status}`);
        }
        one.push(performance.now() - s0);
      }
      const e = median(ex);
      const s = median(one);
      exchanges.push(e);
      singles.push(s);
      ratios.push(e / s);
      notes.push(`run ${r + 1}: exchange ${e.toFixed(1)} ms, 9 single turns ${s.toFixed(1)} ms (median of ${ctx.repeats} each), ratio ${(e / s).toFixed(3)}`);
    }
  } finally {
    exchangeFollower.close();
    singleFollower.close();
  }
  const ratio = median(ratios);
  return figure({
    id: "rounds_exchange",
    name: `3 actors × ${ROUNDS + 1} rounds (${TURNS} turns, ${ctx.replyTokens}-token replies), end to end`,
    unit: "ms",
    target: "≤ 1.2× 9 single turns",
    stat: "median / worst run",
    median: median(exchanges),
    p99: max(exchanges),
    p99Label: "worst run",
    baseline: { name: `${TURNS} single-actor turns`, unit: "ms", median: median(singles), p99: null },
    ratio,
    ratioOf: "exchange ÷ 9 single-actor turns (median of per-run ratios)",
    pass: ratio <= 1.2,
    runs: ratios,
    notes,
  });
}
