/**
 * A run whose actor is a real model (the fake OpenAI-compatible server on
 * 127.0.0.1): the planner and the judge answer through tool calls, validated
 * by zod; an invalid plan is retried, and one that never validates fails the
 * run with the validation error in its diagnostics, never a 500.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JUDGE_TOOL, PLAN_TOOL } from "../../src/factory/factory.model.js";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai.js";
import { startTestServer, type TestServer } from "../support/harness.js";
import { BASE, createRun, followRun, get } from "./factory-support.js";

let fake: FakeOpenAI;
let dir: string;
let t: TestServer;
let token: string;

const PLAN = {
  summary: "Write a greeting.",
  stages: [
    {
      key: "s1",
      stage_name: "Greet",
      depends_on: [],
      issues: [{ key: "s1.i1", title: "Say hello", kind: "task", body: "Say hello to the team.", depends_on: [], acceptance_criteria: ["is friendly"], verification_requirements: [] }],
    },
  ],
};
const agents = [{ agent_id: "m", provider: "fake", model: "worker" }];
const source = { kind: "prompt", format: "markdown", content: "# Greet\n\n- Say hello\n" };

beforeAll(async () => {
  fake = await startFakeOpenAI();
  dir = mkdtempSync(path.join(tmpdir(), "factory-model-"));
  writeFileSync(path.join(dir, "providers.json"), JSON.stringify({ providers: [{ name: "fake", api: "openai-completions", base_url: fake.url, models: [{ id: "worker", max_tokens: 4000, tools: true }] }] }));
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  t = await startTestServer({ env: { PROVIDERS_FILE: path.join(dir, "providers.json"), PROVIDER_MAX_RETRIES: "0", FACTORY_MODEL_ATTEMPTS: "2" } });
  token = await t.token("acme");
});
afterEach(() => t.close());

describe("a run on a real model", () => {
  it("plans through the tool call, runs the issue in a room, and the judge decides per criterion", async () => {
    fake.enqueue(
      { kind: "tool_call", name: PLAN_TOOL, args: PLAN, usage: { prompt_tokens: 50, completion_tokens: 30 } },
      { kind: "text", chunks: ["Hello", " team!"], usage: { prompt_tokens: 10, completion_tokens: 3 } },
      { kind: "tool_call", name: JUDGE_TOOL, args: { verdicts: [{ index: 0, verdict: "pass", reason: "it greets warmly" }] }, usage: { prompt_tokens: 20, completion_tokens: 8 } },
    );
    const run = await createRun(t, token, { source, agents });
    const follow = followRun(t, token, run.id);
    await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    const events = await follow;
    expect(events.find((e) => e.event_type === "run:planned").payload).toMatchObject({ planner: "model", attempts: 1 });
    expect(events[events.length - 1].payload.status).toBe("completed");
    const [issue] = await get(t, token, `${BASE}/${run.id}/issues`);
    expect(issue).toMatchObject({ title: "Say hello", status: "passed", verdicts: [{ criterion: "is friendly", verdict: "pass", reason: "it greets warmly" }] });
    const outputs = (await get(t, token, `${BASE}/${run.id}/artifacts`)).filter((a: any) => a.artifact_type === "issue_output");
    expect(outputs.map((a: any) => a.payload.text)).toEqual(["Hello team!"]);
    // Planner + room turn + judge: every token counted on the run.
    expect((await get(t, token, `${BASE}/${run.id}`)).usage.totalTokens).toBe(80 + 13 + 28);
  });

  it("an invalid plan is retried with the validation error fed back, then the valid one is used", async () => {
    const invalid = { summary: "", stages: [] };
    fake.enqueue(
      { kind: "tool_call", name: PLAN_TOOL, args: invalid },
      { kind: "tool_call", name: PLAN_TOOL, args: PLAN },
      { kind: "text", chunks: ["Hi"] },
      { kind: "tool_call", name: JUDGE_TOOL, args: { verdicts: [{ index: 0, verdict: "pass", reason: "ok" }] } },
    );
    const before = fake.requests.length;
    const run = await createRun(t, token, { source, agents });
    const follow = followRun(t, token, run.id);
    await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    const events = await follow;
    expect(events.find((e) => e.event_type === "run:planned").payload.attempts).toBe(2);
    expect(events[events.length - 1].payload.status).toBe("completed");
    const retry = fake.requests[before + 1]!.body.messages.map((m: any) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content))).join("\n");
    expect(retry).toMatch(/summary|stages/);
  });

  it("a plan that never validates fails the run with the validation error in diagnostics", async () => {
    fake.enqueue({ kind: "tool_call", name: PLAN_TOOL, args: { summary: "x", stages: "nope" } }, { kind: "tool_call", name: PLAN_TOOL, args: { summary: "x", stages: "nope" } });
    const run = await createRun(t, token, { source, agents });
    const follow = followRun(t, token, run.id);
    const started = await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    expect(started.status).toBe(200);
    const events = await follow;
    expect(events[events.length - 1].payload.status).toBe("failed");
    const status = await get(t, token, `${BASE}/${run.id}/status`);
    expect(status.status).toBe("failed");
    expect(status.diagnostics.join("\n")).toMatch(/stages/);
    expect(status.issue_counts).toEqual({ pending: 0, ready: 0, running: 0, passed: 0, failed: 0, blocked: 0 });
    const review = await get(t, token, `${BASE}/${run.id}/review`);
    expect(review.diagnostics.join("\n")).toMatch(/stages/);
  });
});
