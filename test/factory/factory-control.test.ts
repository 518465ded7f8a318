/**
 * Driving runs by hand and stopping them: advance step by step, dispatch,
 * cancel mid-run, records, limits and bad input.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { eventually, startTestServer, type TestServer } from "../support/harness.js";
import { BASE, TWO_STAGE_SOURCE, createRun, followRun, get, supervisorIdle } from "./factory-support.js";

let t: TestServer;
let token: string;

async function stepUntilDone(runId: string): Promise<string[]> {
  const kinds: string[] = [];
  for (let i = 0; i < 200; i++) {
    const res = await t.json("POST", `${BASE}/${runId}/advance`, { token, body: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    kinds.push(res.body.data.kind);
    if (res.body.data.done) return kinds;
    // A waiting step: wait for a turn to end (the durable state says so), then step again.
    if (res.body.data.kind === "waiting") {
      await eventually(async () => {
        const issues = await get(t, token, `${BASE}/${runId}/issues`);
        const running = issues.filter((x: any) => x.status === "running");
        for (const issue of running) {
          const room = await get(t, token, `/llm/room/${issue.assigned_room_id}`);
          if (room.status !== "active") return true;
        }
        return running.length === 0;
      }, 20_000, "a running issue's turn to end");
    }
  }
  throw new Error("the run did not finish in 200 steps");
}

/** What a finished run looks like, without ids and times. */
async function shape(runId: string) {
  const run = await get(t, token, `${BASE}/${runId}`);
  const stages = await get(t, token, `${BASE}/${runId}/stages`);
  const issues = await get(t, token, `${BASE}/${runId}/issues`);
  const artifacts = await get(t, token, `${BASE}/${runId}/artifacts`);
  const checkpoints = await get(t, token, `${BASE}/${runId}/checkpoints`);
  const status = await get(t, token, `${BASE}/${runId}/status`);
  return {
    status: run.status,
    plan_summary: run.plan_summary,
    usage: run.usage,
    stages: stages.map((s: any) => [s.key, s.stage_name, s.status, s.verification_summary]),
    issues: issues.map((i: any) => [i.key, i.title, i.status, i.attempts, i.verdicts, i.summary]),
    artifacts: artifacts.map((a: any) => [a.artifact_type, a.version, a.artifact_type === "issue_output" ? a.payload.text : null]).sort(),
    checkpoints: checkpoints.length,
    gates: status.latest_gate_verdicts,
    counts: [status.stage_counts, status.issue_counts],
  };
}

beforeEach(async () => {
  t = await startTestServer();
  token = await t.token("acme");
});
afterEach(() => t.close());

describe("advance", () => {
  it("step by step reaches the same end state as start", async () => {
    const source = { kind: "prompt", format: "markdown", content: TWO_STAGE_SOURCE };
    const byHand = await createRun(t, token, { source });
    const kinds = await stepUntilDone(byHand.id);
    expect(kinds[0]).toBe("planned");
    expect(kinds).toContain("dispatched");
    expect(kinds).toContain("collected");
    expect(kinds).toContain("verified");
    expect(kinds[kinds.length - 1]).toBe("finished");

    const auto = await createRun(t, token, { source });
    const follow = followRun(t, token, auto.id);
    await t.json("POST", `${BASE}/${auto.id}/start`, { token, body: {} });
    await follow;
    expect(await shape(byHand.id)).toEqual(await shape(auto.id));
    expect((await shape(auto.id)).status).toBe("completed");
  });

  it("says what each step did, and on a finished run that nothing is left", async () => {
    const run = await createRun(t, token, { source: { kind: "prompt", format: "text", content: "Say hi" } });
    const first = await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    expect(first.body.data).toMatchObject({ run_id: run.id, status: "planning", kind: "planned", done: false });
    const second = await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    expect(second.body.data.status).toBe("running");
    expect(second.body.data.action).toMatch(/^planned: /);
    const third = await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    expect(third.body.data).toMatchObject({ kind: "dispatched", status: "running" });
    expect(third.body.data.action).toContain("Say hi");
    await stepUntilDone(run.id);
    const after = await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    expect(after.body.data).toMatchObject({ kind: "idle", status: "completed", done: true });
  });
});

describe("dispatch by hand", () => {
  it("runs one issue with the caller's content; an issue whose dependencies have not passed is 409", async () => {
    const run = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: "# Work\n\n- First step\n- Second step (depends on: First step)\n" } });
    const early = await t.json("POST", `${BASE}/${run.id}/issues/00000000-0000-4000-8000-000000000000/dispatch`, { token, body: {} });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe("RUN_STATE_CONFLICT");
    await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    const [first, second] = await get(t, token, `${BASE}/${run.id}/issues`);
    expect([first.status, second.status]).toEqual(["ready", "pending"]);

    const blocked = await t.json("POST", `${BASE}/${run.id}/issues/${second.id}/dispatch`, { token, body: {} });
    expect(blocked.status).toBe(409);
    expect(blocked.body.code).toBe("DEPENDENCIES_NOT_PASSED");
    expect(blocked.body.details.waiting_on).toEqual([{ id: first.id, title: "First step", status: "ready" }]);

    const unknownAgent = await t.json("POST", `${BASE}/${run.id}/issues/${first.id}/dispatch`, { token, body: { agent: "nobody" } });
    expect(unknownAgent.status).toBe(400);

    const sent = await t.json("POST", `${BASE}/${run.id}/issues/${first.id}/dispatch`, { token, body: { content: "Please say the word tea." } });
    expect(sent.status).toBe(202);
    expect(sent.body.data).toMatchObject({ id: first.id, status: "running", attempts: 1 });
    const busy = await t.json("POST", `${BASE}/${run.id}/issues/${first.id}/dispatch`, { token, body: {} });
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe("ISSUE_BUSY");
    const history = await get(t, token, `/llm/room/${sent.body.data.assigned_room_id}/history`);
    expect(history.messages.filter((m: any) => m.kind === "task").map((m: any) => m.content)).toEqual(["Please say the word tea."]);
    const unknown = await t.json("POST", `${BASE}/${run.id}/issues/00000000-0000-4000-8000-000000000000/dispatch`, { token, body: {} });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("ISSUE_NOT_FOUND");
  });
});

describe("cancel", () => {
  it("mid-run leaves no room running and no turn in flight, and repeating it is harmless", async () => {
    const slow = { agent_id: "slow", options: { token_delay_ms: 50, reply: Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ") } };
    const run = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: "# Slow\n\n- one\n- two\n- three\n" }, agents: [slow] });
    const follow = followRun(t, token, run.id, (e) => e.event_type === "issue:dispatched");
    await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    await follow;
    // Wait until a room is actually streaming.
    await eventually(async () => {
      const r = await get(t, token, `${BASE}/${run.id}`);
      return r.active_room_ids.length > 0 && t.server.workers.activeCount("acme") > 0;
    }, 20_000, "a turn to run");
    const held = (await get(t, token, `${BASE}/${run.id}`)).active_room_ids as string[];

    const res = await t.json("POST", `${BASE}/${run.id}/cancel`, { token, body: { reason: "changed my mind" } });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ run_id: run.id, id: run.id, status: "cancelled", reason: "changed my mind" });
    expect(t.server.workers.activeCount("acme")).toBe(0);
    expect(t.server.supervisor.isRunning("acme", run.id)).toBe(false);
    for (const roomId of held) {
      const room = await get(t, token, `/llm/room/${roomId}`);
      expect(room.status).toBe("released");
      expect(room.active_turn).toBeNull();
    }
    const after = await get(t, token, `${BASE}/${run.id}`);
    expect(after).toMatchObject({ status: "cancelled", cancel_reason: "changed my mind", active_room_ids: [] });
    const issues = await get(t, token, `${BASE}/${run.id}/issues`);
    for (const i of issues) expect(i.status).toBe("blocked");

    const again = await t.json("POST", `${BASE}/${run.id}/cancel`, { token, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.data.reason).toBe("changed my mind");
    for (const [method, path] of [
      ["POST", "start"],
      ["POST", "advance"],
      ["POST", "verify"],
      ["POST", "gate-check"],
    ] as const) {
      const r = await t.json(method, `${BASE}/${run.id}/${path}`, { token, body: {} });
      expect(r.status, path).toBe(409);
      expect(r.body.code).toBe("RUN_FINISHED");
    }
    const events = await t.req("GET", `${BASE}/${run.id}/events`, { token });
    const text = await events.text();
    expect(text.trim().split("\n\n").pop()).toContain("event: run:finished");
    expect(await supervisorIdle(t, "acme", run.id)).toBeUndefined();
  });
});

describe("records, limits and bad input", () => {
  it("unknown and foreign ids are 404 in the envelope", async () => {
    const other = await t.token("globex");
    const run = await createRun(t, token, { source: { kind: "prompt", format: "text", content: "x" } });
    for (const id of ["nope", "00000000-0000-4000-8000-000000000000"]) {
      const res = await t.json("GET", `${BASE}/${id}`, { token });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ success: false, code: "RUN_NOT_FOUND" });
    }
    const foreign = await t.json("GET", `${BASE}/${run.id}/status`, { token: other });
    expect(foreign.status).toBe(404);
    expect((await t.json("GET", BASE, { token: other })).body.data).toEqual([]);
  });

  it("refuses unknown fields, bad sources and unknown models with 400", async () => {
    const bad = [
      { source: { kind: "prompt", format: "text", content: "x" }, surprise: 1 },
      { source: { kind: "file", format: "text", content: "x" } },
      { source: { kind: "prompt", format: "pdf", content: "x" } },
      { source: { kind: "prompt", format: "text", content: "" } },
      { source: { kind: "prompt", format: "text", content: "x" }, id: "mine" },
      {},
    ];
    for (const body of bad) {
      const res = await t.json("POST", BASE, { token, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("VALIDATION_FAILED");
    }
    const model = await t.json("POST", BASE, { token, body: { source: { kind: "prompt", format: "text", content: "x" }, agents: [{ agent_id: "a", provider: "nope", model: "m" }] } });
    expect(model.status).toBe(400);
    expect(model.body.code).toBe("UNKNOWN_MODEL");
  });

  it("enforces its limits with their own codes", async () => {
    await t.close();
    t = await startTestServer({ env: { FACTORY_MAX_SOURCE_CHARS: "100", FACTORY_MAX_ACTIVE_RUNS_PER_TENANT: "2", FACTORY_MAX_ARTIFACT_BYTES: "1024", FACTORY_MAX_ISSUES_PER_RUN: "2" } });
    token = await t.token("acme");
    const big = await t.json("POST", BASE, { token, body: { source: { kind: "prompt", format: "text", content: "x".repeat(101) } } });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe("SOURCE_TOO_LARGE");

    const run = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: "# A\n\n- one\n" } });
    await createRun(t, token, { source: { kind: "prompt", format: "text", content: "b" } });
    const third = await t.json("POST", BASE, { token, body: { source: { kind: "prompt", format: "text", content: "c" } } });
    expect(third.status).toBe(429);
    expect(third.body.code).toBe("ACTIVE_RUN_LIMIT");
    expect(third.res.headers.get("retry-after")).toBeTruthy();

    const art = await t.json("POST", `${BASE}/${run.id}/artifacts`, { token, body: { artifact_type: "note", payload: { text: "y".repeat(2000) } } });
    expect(art.status).toBe(413);
    expect(art.body.code).toBe("ARTIFACT_TOO_LARGE");

    await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    await t.json("POST", `${BASE}/${run.id}/advance`, { token, body: {} });
    const stage = (await get(t, token, `${BASE}/${run.id}/stages`))[0];
    const second = await t.json("POST", `${BASE}/${run.id}/issues`, { token, body: { stage_id: stage.id, title: "two" } });
    expect(second.status).toBe(201);
    const tooMany = await t.json("POST", `${BASE}/${run.id}/issues`, { token, body: { stage_id: stage.id, title: "three" } });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body.code).toBe("ISSUE_LIMIT_REACHED");

    // A plan with more issues than the limit fails the run with the reason in diagnostics, never a 500.
    await t.json("POST", `${BASE}/${run.id}/cancel`, { token, body: {} });
    const wide = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: "# W\n\n- a\n- b\n- c\n" } });
    await t.json("POST", `${BASE}/${wide.id}/advance`, { token, body: {} });
    const planned = await t.json("POST", `${BASE}/${wide.id}/advance`, { token, body: {} });
    expect(planned.body.data).toMatchObject({ kind: "failed", status: "failed" });
    const status = await get(t, token, `${BASE}/${wide.id}/status`);
    expect(status.diagnostics.join("\n")).toContain("FACTORY_MAX_ISSUES_PER_RUN");
  });

  it("records stages, issues, artifacts and checkpoints; PATCH honours If-Match; artifact versions count per type", async () => {
    const run = await createRun(t, token, { source: { kind: "prompt", format: "text", content: "x" } });
    const stage = await t.json("POST", `${BASE}/${run.id}/stages`, { token, body: { stage_name: "Manual", notes: ["by hand"] } });
    expect(stage.status).toBe(201);
    expect(stage.body.data).toMatchObject({ stage_name: "Manual", status: "pending", notes: ["by hand"], version: 1 });
    const issue = await t.json("POST", `${BASE}/${run.id}/issues`, { token, body: { stage_id: stage.body.data.id, title: "Do a thing", acceptance_criteria: ['mentions "thing"'] } });
    expect(issue.status).toBe(201);
    expect(issue.body.data).toMatchObject({ title: "Do a thing", kind: "task", status: "ready", depends_on: [], acceptance_criteria: ['mentions "thing"'] });
    const badDep = await t.json("POST", `${BASE}/${run.id}/issues`, { token, body: { stage_id: stage.body.data.id, title: "x", depends_on: ["00000000-0000-4000-8000-000000000000"] } });
    expect(badDep.status).toBe(400);

    const v = issue.body.data.version;
    const patched = await t.json("PATCH", `${BASE}/${run.id}/issues/${issue.body.data.id}`, { token, body: { summary: "s", notes: ["n"] }, headers: { "if-match": String(v) } });
    expect(patched.status).toBe(200);
    expect(patched.body.data).toMatchObject({ summary: "s", notes: ["n"], version: v + 1 });
    expect(patched.res.headers.get("etag")).toBe(`"${v + 1}"`);
    const stale = await t.json("PATCH", `${BASE}/${run.id}/issues/${issue.body.data.id}`, { token, body: { summary: "t" }, headers: { "if-match": String(v) } });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe("VERSION_CONFLICT");
    expect(stale.body.details.current_version).toBe(v + 1);
    const toRunning = await t.json("PATCH", `${BASE}/${run.id}/issues/${issue.body.data.id}`, { token, body: { status: "running" } });
    expect(toRunning.status).toBe(400);
    const stagePatch = await t.json("PATCH", `${BASE}/${run.id}/stages/${stage.body.data.id}`, { token, body: { summary: "ok" }, headers: { "if-match": "99" } });
    expect(stagePatch.status).toBe(409);
    const missing = await t.json("PATCH", `${BASE}/${run.id}/stages/00000000-0000-4000-8000-000000000000`, { token, body: { summary: "ok" } });
    expect(missing.body.code).toBe("STAGE_NOT_FOUND");

    const a1 = await t.json("POST", `${BASE}/${run.id}/artifacts`, { token, body: { artifact_type: "note", payload: { n: 1 } } });
    const a2 = await t.json("POST", `${BASE}/${run.id}/artifacts`, { token, body: { artifact_type: "note", payload: { n: 2 }, producer_issue_id: issue.body.data.id } });
    const b1 = await t.json("POST", `${BASE}/${run.id}/artifacts`, { token, body: { artifact_type: "other", payload: "text" } });
    expect([a1.body.data.version, a2.body.data.version, b1.body.data.version]).toEqual([1, 2, 1]);
    expect(a2.body.data.producer_issue_id).toBe(issue.body.data.id);
    const cp = await t.json("POST", `${BASE}/${run.id}/checkpoints`, { token, body: { status: "merged", branch_name: "b", included_issue_ids: [issue.body.data.id] } });
    expect(cp.status).toBe(201);
    expect(cp.body.data).toMatchObject({ status: "merged", branch_name: "b", worktree_path: "", head_sha: "", merged_issue_ids: [] });

    // Paging: a page of 2 artifacts, then the rest, with no repeats.
    const page1 = await t.json("GET", `${BASE}/${run.id}/artifacts?limit=2`, { token });
    expect(page1.body.data).toHaveLength(2);
    const page2 = await t.json("GET", `${BASE}/${run.id}/artifacts?limit=2&cursor=${page1.body.meta.next_cursor}`, { token });
    expect(page2.body.data.map((a: any) => a.id)).toEqual([b1.body.data.id]);
    expect(page2.body.meta.next_cursor).toBeNull();
    const badCursor = await t.json("GET", `${BASE}/${run.id}/artifacts?cursor=zzz`, { token });
    expect(badCursor.status).toBe(400);
  });

  it("lists runs newest first with ?status= and paging, and replays a create with the same Idempotency-Key", async () => {
    const body = { source: { kind: "prompt", format: "text", content: "once" } };
    const first = await t.json("POST", BASE, { token, body, headers: { "idempotency-key": "run-1" } });
    const again = await t.json("POST", BASE, { token, body, headers: { "idempotency-key": "run-1" } });
    expect(again.status).toBe(201);
    expect(again.res.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.data.id).toBe(first.body.data.id);
    const other = await t.json("POST", BASE, { token, body: { source: { kind: "prompt", format: "text", content: "twice" } }, headers: { "idempotency-key": "run-1" } });
    expect(other.status).toBe(422);

    const second = await createRun(t, token, { source: { kind: "prompt", format: "text", content: "two" } });
    await t.json("POST", `${BASE}/${second.id}/cancel`, { token, body: {} });
    const all = await t.json("GET", `${BASE}?limit=1`, { token });
    expect(all.body.data.map((r: any) => r.id)).toEqual([second.id]);
    const next = await t.json("GET", `${BASE}?limit=1&cursor=${all.body.meta.next_cursor}`, { token });
    expect(next.body.data.map((r: any) => r.id)).toEqual([first.body.data.id]);
    const pending = await t.json("GET", `${BASE}?status=pending`, { token });
    expect(pending.body.data.map((r: any) => r.id)).toEqual([first.body.data.id]);
    for (const r of (await t.json("GET", BASE, { token })).body.data) {
      for (const k of ["id", "status", "updated_at", "workflow_kind", "source_brief", "title"]) expect(typeof r[k], k).toBe("string");
      expect(Array.isArray(r.active_room_ids)).toBe(true);
      expect("current_stage" in r).toBe(true);
    }
    const badStatus = await t.json("GET", `${BASE}?status=bogus`, { token });
    expect(badStatus.status).toBe(400);
  });
});
