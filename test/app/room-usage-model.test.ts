/**
 * Usage, cost, budgets and summaries with real models: the fake
 * OpenAI-compatible server on 127.0.0.1, with prices in the provider file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SUMMARY_SYSTEM_PROMPT } from "../../src/room/room.summary.js";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai.js";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";

let fake: FakeOpenAI;
let dir: string;
let t: TestServer;
let token: string;

/** USD per million tokens. */
const WORKER = { input: 2, output: 10 };
const SUMM = { input: 1, output: 4 };
const ACTORS = [
  { agent_id: "writer", provider: "fake", model: "worker" },
  { agent_id: "scribe", role: "summarizer", provider: "fake", model: "summ" },
];

beforeAll(async () => {
  fake = await startFakeOpenAI();
  dir = mkdtempSync(path.join(tmpdir(), "usage-model-"));
  const models = [
    { id: "worker", max_tokens: 4000, cost: WORKER },
    { id: "summ", max_tokens: 4000, cost: SUMM },
  ];
  writeFileSync(path.join(dir, "providers.json"), JSON.stringify({ providers: [{ name: "fake", api: "openai-completions", base_url: fake.url, models }] }));
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  t = await startTestServer({ env: { PROVIDERS_FILE: path.join(dir, "providers.json"), PROVIDER_MAX_RETRIES: "0" } });
  token = await t.token("acme", { sub: "alice" });
});
afterEach(() => t.close());

async function rent(body: Record<string, unknown>) {
  const res = await t.json("POST", "/llm/room", { token, body });
  expect(res.status).toBe(201);
  return res.body.data.id as string;
}
const room = async (id: string) => (await t.json("GET", `/llm/room/${id}`, { token })).body.data;
const events = async (id: string) => (await t.json("GET", `/llm/room/${id}/history?limit=1000`, { token })).body.data.events as any[];
async function ask(id: string, body: Record<string, unknown>) {
  const res = await t.json("POST", `/llm/room/${id}/messages`, { token, body });
  expect(res.status).toBe(202);
  const done = await t.json("GET", `/llm/room/${id}/messages/${res.body.data.id}?wait=30`, { token });
  expect(done.body.data.done).toBe(true);
  return done.body.data;
}
const cost = (price: { input: number; output: number }, input: number, output: number) => (price.input * input + price.output * output) / 1e6;

describe("with real models", () => {
  it("a summary goes to the summarizer's model; its tokens and cost count for that actor and model, for the room and the tenant", async () => {
    const id = await rent({ agents: ACTORS });
    fake.enqueue({ kind: "text", chunks: ["Paris", " is the capital."], usage: { prompt_tokens: 30, completion_tokens: 3 } });
    await ask(id, { content: "What is the capital of France?", actor: "writer" });
    const before = fake.requests.length;
    fake.enqueue({ kind: "text", chunks: ["They asked about France;", " the answer was Paris."], usage: { prompt_tokens: 100, completion_tokens: 20 } });

    const res = await t.json("POST", `/llm/room/${id}/summary`, { token, body: { max_chars: 500 } });
    expect(res.status).toBe(200);
    expect(res.body.data.summary_text).toBe("They asked about France; the answer was Paris.");
    expect(fake.requests).toHaveLength(before + 1);
    const sent = fake.requests[before]!.body;
    expect(sent.model).toBe("summ");
    const text = JSON.stringify(sent.messages);
    expect(text).toContain(SUMMARY_SYSTEM_PROMPT);
    expect(text).toContain("What is the capital of France?");
    expect(text).toContain("writer: Paris is the capital.");
    expect(sent.tools ?? []).toEqual([]);

    const ev = (await events(id)).find((e) => e.event_type === "room:summary_updated");
    expect(ev.payload).toMatchObject({ method: "model", agent_id: "scribe", provider: "fake", model: "summ", usage: { input: 100, output: 20, totalTokens: 120 } });
    expect(ev.agent_key).toBe("scribe");

    const u = (await t.json("GET", `/llm/room/${id}/usage`, { token })).body.data;
    const [writer, scribe] = u.by_actor;
    expect(writer).toMatchObject({ agent_id: "writer", input: 30, output: 3, totalTokens: 33, turns: 1, summaries: 0 });
    expect(writer.cost.total).toBeCloseTo(cost(WORKER, 30, 3), 12);
    expect(scribe).toMatchObject({ agent_id: "scribe", input: 100, output: 20, totalTokens: 120, turns: 0, summaries: 1 });
    expect(scribe.cost.total).toBeCloseTo(cost(SUMM, 100, 20), 12);
    expect(u.by_model.map((m: any) => `${m.provider}/${m.model}`)).toEqual(["fake/worker", "fake/summ"]);
    expect(u.totals).toMatchObject({ totalTokens: 153, turns: 1, summaries: 1 });
    const record = await room(id);
    expect(record.usage.totalTokens).toBe(153);
    expect(record.usage.cost.total).toBeCloseTo(u.totals.cost.total, 12);

    const day = new Date().toISOString().slice(0, 10);
    const tenant = (await t.json("GET", `/llm/usage?from=${day}&to=${day}`, { token })).body.data;
    const byModel = Object.fromEntries(tenant.days[0].by_model.map((m: any) => [m.model, m]));
    expect(byModel["worker"]).toMatchObject({ provider: "fake", totalTokens: 33 });
    expect(byModel["summ"]).toMatchObject({ provider: "fake", totalTokens: 120 });
    expect(tenant.totals.cost.total).toBeCloseTo(cost(WORKER, 30, 3) + cost(SUMM, 100, 20), 12);
  });

  it("max_cost_usd: the turn that reaches it blocks the room, and a summary by a model is refused too", async () => {
    const id = await rent({ agents: ACTORS, budget: { max_cost_usd: 0.00005 } });
    fake.enqueue({ kind: "text", chunks: ["expensive"], usage: { prompt_tokens: 30, completion_tokens: 3 } });
    await ask(id, { content: "hi", actor: "writer" });
    const r = await room(id);
    expect(r.budget_exceeded).toBe("max_cost_usd");
    const block = (await events(id)).find((e) => e.event_type === "room:budget_blocked");
    expect(block.payload).toMatchObject({ limit: "max_cost_usd", max: 0.00005 });
    const before = fake.requests.length;
    const sum = await t.json("POST", `/llm/room/${id}/summary`, { token, body: {} });
    expect(sum.status).toBe(409);
    expect(sum.body.code).toBe("ROOM_BUDGET_EXCEEDED");
    expect(sum.body.message).toContain('{"budget":{"max_cost_usd":0.01}}');
    expect(fake.requests).toHaveLength(before);
  });

  it("a model summary runs beside turns, one at a time per room, and is aborted (upstream closed, nothing written) when the room is released", async () => {
    const id = await rent({ agents: ACTORS });
    fake.enqueue({ kind: "text", chunks: ["first answer"] });
    await ask(id, { content: "hi", actor: "writer" });
    const before = fake.requests.length;
    fake.enqueue({ kind: "hang" });
    const pending = t.json("POST", `/llm/room/${id}/summary`, { token, body: {} });
    await fake.waitForRequests(before + 1);
    const again = await t.json("POST", `/llm/room/${id}/summary`, { token, body: {} });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("SUMMARY_IN_PROGRESS");
    // The room's turns do not wait for the summary.
    fake.enqueue({ kind: "text", chunks: ["still answering"] });
    expect((await ask(id, { content: "are you there?", actor: "writer" })).output.content).toBe("still answering");

    expect((await t.json("POST", `/llm/room/${id}/release`, { token, body: {} })).status).toBe(200);
    const res = await pending;
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ROOM_RELEASED");
    await fake.waitForClose(before);
    const evs = await events(id);
    expect(evs.at(-1).event_type).toBe("room:released");
    expect(evs.some((e) => e.event_type === "room:summary_updated")).toBe(false);
    expect((await room(id)).summary_text).toBeNull();
    expect(t.server.summaries.inFlightCount()).toBe(0);
  });

  it("the caller going away aborts the summary's model request; summary_text stays as it was", async () => {
    const id = await rent({ agents: ACTORS });
    fake.enqueue({ kind: "text", chunks: ["hello"] });
    await ask(id, { content: "hi", actor: "writer" });
    const before = fake.requests.length;
    fake.enqueue({ kind: "hang" });
    const caller = new AbortController();
    const pending = t.server.app.request(`/llm/room/${id}/summary`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
      signal: caller.signal,
    });
    await fake.waitForRequests(before + 1);
    caller.abort();
    await fake.waitForClose(before);
    const res = await pending;
    expect(res.status).toBe(502);
    expect(((await res.json()) as { code: string }).code).toBe("SUMMARY_FAILED");
    await eventually(() => t.server.summaries.inFlightCount() === 0, 5000, "summary forgotten");
    expect((await room(id)).summary_text).toBeNull();
  });
});
