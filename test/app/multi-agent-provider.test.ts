/**
 * Several agents in one room on the provider path: what each actor's model
 * request carries (its own system prompt and model, the transcript
 * attributed by agent_id, the room's shared context), and that muting an
 * actor mid-turn closes its upstream request while the next actor runs.
 * Real server in-process, fake OpenAI-compatible server on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai.js";
import { startTestServer, type TestServer } from "../support/harness.js";

let fake: FakeOpenAI;
let dir: string;
let t: TestServer;
let token: string;
let before = 0;

beforeAll(async () => {
  fake = await startFakeOpenAI();
  dir = mkdtempSync(path.join(tmpdir(), "multi-agent-provider-"));
  writeFileSync(
    path.join(dir, "providers.json"),
    JSON.stringify({ providers: [{ name: "fake", api: "openai-completions", base_url: fake.url, models: [{ id: "planner-model", tools: true }, { id: "coder-model", tools: true }] }] }),
  );
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  t = await startTestServer({ env: { PROVIDERS_FILE: path.join(dir, "providers.json"), PROVIDER_MAX_RETRIES: "0" } });
  token = await t.token("acme");
  before = fake.requests.length;
});
afterEach(() => t.close());

const mine = () => fake.requests.slice(before);
const ACTORS = [
  { agent_id: "planner", provider: "fake", model: "planner-model", system_prompt: "You plan." },
  { agent_id: "coder", provider: "fake", model: "coder-model", system_prompt: "You code." },
];

async function rent(): Promise<string> {
  const res = await t.json("POST", "/llm/room", { token, body: { agents: ACTORS } });
  expect(res.status).toBe(201);
  return res.body.data.id;
}

async function settled(id: string, messageId: string) {
  for (;;) {
    const r = await t.json("GET", `/llm/room/${id}/messages/${messageId}?wait=30`, { token });
    if (r.body.data.done) return r.body.data;
  }
}

const systemOf = (body: any): string => body.messages.filter((m: any) => m.role === "system" || m.role === "developer").map((m: any) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content))).join("\n");
const textOf = (m: any): string => (typeof m.content === "string" ? m.content : m.content.map((p: any) => p.text ?? "").join(""));

describe("each actor its own context", () => {
  it("each request carries the actor's own model and system prompt, and the other actor's answer attributed by agent_id", async () => {
    const id = await rent();
    fake.enqueue({ kind: "text", chunks: ["Plan: ", "split it"] }, { kind: "text", chunks: ["Code: ", "done"] });
    const m = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "build a cache", mentions: ["planner", "coder"] } });
    await settled(id, m.body.data.id);
    const [planner, coder] = mine();
    expect(planner!.body.model).toBe("planner-model");
    expect(systemOf(planner!.body)).toBe("You plan.");
    expect(textOf(planner!.body.messages.at(-1))).toBe("build a cache");
    expect(coder!.body.model).toBe("coder-model");
    expect(systemOf(coder!.body)).toBe("You code.");
    expect(systemOf(coder!.body)).not.toContain("You plan.");
    const coderTurns = coder!.body.messages.filter((x: any) => x.role !== "system" && x.role !== "developer").map((x: any) => [x.role, textOf(x)]);
    expect(coderTurns).toEqual([
      ["user", "build a cache"],
      ["user", "[planner]: Plan: split it"],
    ]);
  });

  it("attached context reaches every actor's model request, and stops after detach", async () => {
    const id = await rent();
    const spec = "SPEC-7f3a: the cache holds 1000 entries";
    const attached = await t.json("POST", `/llm/room/${id}/context`, { token, body: { name: "spec", content: spec } });
    expect(attached.status).toBe(201);
    expect(attached.body.data).toMatchObject({ name: "spec", chars: spec.length });
    const listed = await t.json("GET", `/llm/room/${id}/context`, { token });
    expect(listed.body.data.map((a: any) => a.id)).toEqual([attached.body.data.id]);

    const first = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "go", mentions: ["planner", "coder"] } });
    await settled(id, first.body.data.id);
    expect(mine()).toHaveLength(2);
    for (const r of mine()) {
      expect(systemOf(r.body)).toContain(spec);
      expect(systemOf(r.body)).toContain("## spec");
    }
    expect(systemOf(mine()[0]!.body)).toContain("You plan.");
    expect(systemOf(mine()[1]!.body)).toContain("You code.");

    const detached = await t.json("DELETE", `/llm/room/${id}/context/${attached.body.data.id}`, { token });
    expect(detached.status).toBe(200);
    const again = await t.json("DELETE", `/llm/room/${id}/context/${attached.body.data.id}`, { token });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe("CONTEXT_NOT_FOUND");
    const second = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "again", mentions: ["planner", "coder"] } });
    await settled(id, second.body.data.id);
    expect(mine()).toHaveLength(4);
    for (const r of mine().slice(2)) expect(JSON.stringify(r.body)).not.toContain("SPEC-7f3a");

    const h = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data.events;
    expect(h.filter((e: any) => e.event_type.startsWith("room:context_")).map((e: any) => e.event_type)).toEqual(["room:context_attached", "room:context_detached"]);
  });
});

describe("stopping one actor on the provider path", () => {
  it("muting an actor mid-turn closes its upstream request; its turn ends interrupted (muted) and the next actor runs", async () => {
    const id = await rent();
    fake.enqueue({ kind: "hang" }, { kind: "text", chunks: ["coder ", "answers"] });
    const m = await t.json("POST", `/llm/room/${id}/messages`, { token, body: { content: "go", mentions: ["planner", "coder"] } });
    await fake.waitForRequests(before + 1);
    const mutedAt = Date.now();
    const muted = await t.json("PATCH", `/llm/room/${id}/actors/planner`, { token, body: { muted: true } });
    expect(muted.status).toBe(200);
    // The fake never ends a hanging request: its socket closes because the mute aborted the model call.
    expect(await fake.waitForClose(before, 5_000)).toBeGreaterThanOrEqual(mutedAt);
    const result = await settled(id, m.body.data.id);
    expect(result.output.content).toBe("coder answers");
    expect(mine()).toHaveLength(2);
    expect(mine()[1]!.body.model).toBe("coder-model");
    const ends = (await t.json("GET", `/llm/room/${id}/history`, { token })).body.data.events.filter((e: any) => e.event_type === "agent:turn_end");
    expect(ends.map((e: any) => [e.agent_key, e.payload.status, e.payload.reason])).toEqual([
      ["planner", "interrupted", "muted"],
      ["coder", "completed", undefined],
    ]);
  });
});
