/**
 * The model planner and judge through the real runtime (pi-ai's
 * openai-completions provider) against the fake OpenAI-compatible server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JUDGE_TOOL, JudgeSchema, judgeWithModel, PLAN_TOOL, planWithModel, toolParameters } from "../../src/factory/factory.model.js";
import { PlanSchema, type Plan } from "../../src/factory/factory.plan.js";
import { createLlmRuntime } from "../../src/runtime/llm/llm.runtime.js";
import type { ActorSpec, LlmRuntime } from "../../src/runtime/llm/llm.types.js";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai.js";

let fake: FakeOpenAI;
let runtime: LlmRuntime;
let before = 0;
const mine = () => fake.requests.slice(before);
const userText = (i: number) => (mine()[i]!.body.messages as { role: string; content: unknown }[]).find((m) => m.role === "user")!.content as string;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  runtime = await createLlmRuntime({
    providers: [{ name: "fake", api: "openai-completions", base_url: fake.url, api_key_env: "K", models: [{ id: "planner", max_tokens: 4000, tools: true }] }],
    retry: { maxRetries: 0, baseDelayMs: 5, maxDelayMs: 20 },
    env: { K: "sk-model-test-key-0123456789" },
  });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  before = fake.requests.length;
});

const actor: ActorSpec = { agent_id: "planner", provider: "fake", model: "planner", system_prompt: null, options: {} };
const source = { format: "markdown" as const, content: "# Ship it\n- write the notes\n- publish them" };

const PLAN: Plan = {
  summary: "Write and publish the notes.",
  stages: [
    {
      key: "s1",
      stage_name: "Ship it",
      depends_on: [],
      issues: [
        { key: "s1.i1", title: "Write the notes", kind: "task", body: "Write the release notes.", depends_on: [], acceptance_criteria: ['mentions "v2"'], verification_requirements: [] },
        { key: "s1.i2", title: "Publish them", kind: "task", body: "Publish the notes.", depends_on: ["s1.i1"], acceptance_criteria: [], verification_requirements: [] },
      ],
    },
  ],
};

describe("planWithModel", () => {
  it("returns the model's plan from one forced tool call whose parameters are the plan schema", async () => {
    fake.enqueue({ kind: "tool_call", name: PLAN_TOOL, args: PLAN as unknown as Record<string, unknown>, usage: { prompt_tokens: 100, completion_tokens: 40 } });
    const result = await planWithModel(runtime, actor, source, { maxAttempts: 3 });
    expect(result).toEqual({ ok: true, plan: PLAN, attempts: 1, usage: expect.objectContaining({ input: 100, output: 40, totalTokens: 140 }) });
    const [req] = mine();
    expect(req!.body.tools[0].function.name).toBe(PLAN_TOOL);
    expect(req!.body.tools[0].function.parameters).toEqual(toolParameters(PlanSchema));
    expect(req!.body.tools[0].function.parameters.additionalProperties).toBe(false);
    expect(req!.body.tool_choice).toEqual({ type: "function", function: { name: PLAN_TOOL } });
    expect(userText(0)).toContain(source.content);
  });

  it("asks again with the zod error quoted after an invalid plan, and returns the valid one", async () => {
    const { summary: _drop, ...noSummary } = PLAN;
    fake.enqueue({ kind: "tool_call", name: PLAN_TOOL, args: noSummary as unknown as Record<string, unknown> }, { kind: "tool_call", name: PLAN_TOOL, args: PLAN as unknown as Record<string, unknown> });
    const result = await planWithModel(runtime, actor, source, { maxAttempts: 3 });
    expect(result).toMatchObject({ ok: true, plan: PLAN, attempts: 2 });
    // Usage of both attempts is counted (the fake reports 12 + 7 per tool call by default).
    expect(result.usage.totalTokens).toBe(38);
    expect(mine()).toHaveLength(2);
    expect(userText(0)).not.toContain("rejected");
    expect(userText(1)).toContain(`Your previous call of ${PLAN_TOOL} was rejected by validation:\n- summary: Invalid input: expected string, received undefined`);
  });

  it("treats a cross-reference error as invalid too, quoting it back", async () => {
    const cyclic = structuredClone(PLAN);
    cyclic.stages[0]!.issues[0]!.depends_on = ["s1.i2"];
    fake.enqueue({ kind: "tool_call", name: PLAN_TOOL, args: cyclic as unknown as Record<string, unknown> }, { kind: "tool_call", name: PLAN_TOOL, args: PLAN as unknown as Record<string, unknown> });
    const result = await planWithModel(runtime, actor, source, { maxAttempts: 2 });
    expect(result).toMatchObject({ ok: true, attempts: 2 });
    expect(userText(1)).toContain("- stages: the issue dependencies form a cycle: s1.i1 -> s1.i2 -> s1.i1");
  });

  it("fails after the bounded number of attempts with a diagnostic that quotes the last zod error", async () => {
    const bad = { summary: "x", stages: [] };
    fake.enqueue(...Array.from({ length: 3 }, () => ({ kind: "tool_call" as const, name: PLAN_TOOL, args: bad })));
    const result = await planWithModel(runtime, actor, source, { maxAttempts: 3 });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.attempts).toBe(3);
    expect(result.diagnostic).toBe("the planner model fake/planner gave no valid answer in 3 attempts; last validation error: stages: Too small: expected array to have >=1 items");
    expect(mine()).toHaveLength(3);
    expect(result.usage.totalTokens).toBe(57);
  });

  it("asks again when the model answers in text or sends arguments that are not JSON", async () => {
    fake.enqueue(
      { kind: "text", chunks: ["Here is my plan: ..."] },
      { kind: "tool_call", name: PLAN_TOOL, args: {}, rawArgs: '{"summary": "x", "stages": [' },
      { kind: "tool_call", name: PLAN_TOOL, args: PLAN as unknown as Record<string, unknown> },
    );
    const result = await planWithModel(runtime, actor, source, { maxAttempts: 3 });
    expect(result).toMatchObject({ ok: true, attempts: 3 });
    expect(userText(1)).toContain("you answered in text");
    expect(userText(2)).toContain("rejected by validation");
  });

  it("stops at once on a provider failure, naming it", async () => {
    fake.enqueue({ kind: "status", status: 401, body: { error: { message: "invalid api key" } } });
    const result = await planWithModel(runtime, actor, source, { maxAttempts: 3 });
    expect(result).toMatchObject({ ok: false, attempts: 1 });
    if (!result.ok) expect(result.diagnostic).toMatch(/^the planner model fake\/planner failed \(PROVIDER_ERROR\): /);
    expect(mine()).toHaveLength(1);
  });

  it("fails without a request for a model the server does not have", async () => {
    const result = await planWithModel(runtime, { ...actor, model: "missing" }, source, { maxAttempts: 3 });
    expect(result).toMatchObject({ ok: false, attempts: 1, diagnostic: "the planner model fake/missing failed (UNKNOWN_MODEL): model fake/missing is not configured on this server" });
    expect(mine()).toHaveLength(0);
  });
});

describe("judgeWithModel", () => {
  const input = { title: "Write the notes", criteria: ['mentions "v2"', "is friendly", "under 200 words"], output: "Version v2 is here. Enjoy!" };

  it("maps the judge's per-criterion verdicts back to the criteria, pass and fail alike", async () => {
    fake.enqueue({
      kind: "tool_call",
      name: JUDGE_TOOL,
      args: {
        verdicts: [
          { index: 2, verdict: "pass", reason: "It has 5 words." },
          { index: 0, verdict: "pass", reason: "It says v2." },
          { index: 1, verdict: "fail", reason: "It is curt." },
        ],
      },
    });
    const result = await judgeWithModel(runtime, actor, input, { maxAttempts: 2 });
    expect(result).toMatchObject({
      ok: true,
      attempts: 1,
      verdicts: [
        { criterion: 'mentions "v2"', verdict: "pass", reason: "It says v2." },
        { criterion: "is friendly", verdict: "fail", reason: "It is curt." },
        { criterion: "under 200 words", verdict: "pass", reason: "It has 5 words." },
      ],
    });
    const [req] = mine();
    expect(req!.body.tools[0].function.parameters).toEqual(toolParameters(JudgeSchema));
    expect(userText(0)).toContain('0. mentions "v2"\n1. is friendly\n2. under 200 words');
    expect(userText(0)).toContain(input.output);
  });

  it("asks again when a criterion has no verdict or one is out of range", async () => {
    fake.enqueue(
      { kind: "tool_call", name: JUDGE_TOOL, args: { verdicts: [{ index: 0, verdict: "pass", reason: "ok" }, { index: 7, verdict: "pass", reason: "?" }] } },
      {
        kind: "tool_call",
        name: JUDGE_TOOL,
        args: { verdicts: [0, 1, 2].map((index) => ({ index, verdict: "pass", reason: "fine" })) },
      },
    );
    const result = await judgeWithModel(runtime, actor, input, { maxAttempts: 2 });
    expect(result).toMatchObject({ ok: true, attempts: 2 });
    expect(userText(1)).toContain("- verdicts[1].index: 7 is not a criterion index (0 to 2)\n- verdicts: no verdict for criterion 1, 2");
  });

  it("fails with the validation error when the judge never answers validly", async () => {
    fake.enqueue({ kind: "tool_call", name: JUDGE_TOOL, args: { verdicts: [{ index: 0, verdict: "maybe", reason: "hm" }] } });
    const result = await judgeWithModel(runtime, actor, input, { maxAttempts: 1 });
    expect(result).toMatchObject({ ok: false, attempts: 1 });
    if (!result.ok) expect(result.diagnostic).toMatch(/^the judge model fake\/planner gave no valid answer in 1 attempt; last validation error: verdicts\[0\]\.verdict: Invalid option/);
  });

  it("fails every criterion of an empty output and judges no criteria, both without a model call", async () => {
    expect(await judgeWithModel(runtime, actor, { ...input, output: "  " }, { maxAttempts: 2 })).toMatchObject({
      ok: true,
      verdicts: input.criteria.map((criterion) => ({ criterion, verdict: "fail", reason: "the output is empty" })),
    });
    expect(await judgeWithModel(runtime, actor, { ...input, criteria: [] }, { maxAttempts: 2 })).toMatchObject({ ok: true, verdicts: [] });
    expect(mine()).toHaveLength(0);
  });
});
