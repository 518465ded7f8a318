/**
 * Whole runs, offline, through the real server in-process: markdown → plan →
 * rooms → outputs → checks → checkpoints → verification → gates → review.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";
import { BASE, TWO_STAGE_SOURCE, createRun, followRun, get, replayRun, supervisorIdle } from "./factory-support.js";

let t: TestServer;
let token: string;

beforeEach(async () => {
  t = await startTestServer();
  token = await t.token("acme");
});
afterEach(() => t.close());

describe("an offline factory run", () => {
  it("plans the markdown, runs every issue in its own room, checks, checkpoints, verifies, gates and completes", async () => {
    const run = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: TWO_STAGE_SOURCE } });
    expect(run).toMatchObject({ status: "pending", run_id: run.id, title: "Poems", workflow_kind: "generic", active_room_ids: [], current_stage: null });
    expect(run.source_brief).toContain("Poems");

    const follow = followRun(t, token, run.id);
    const started = await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    expect(started.status).toBe(200);
    expect(started.body.data).toMatchObject({ run_id: run.id, status: "planning", completed: false, failed: false });
    expect(started.body.data.actions.length).toBeGreaterThan(0);

    const events = await follow;
    expect(events[events.length - 1]).toMatchObject({ event_type: "run:finished", payload: { status: "completed" } });
    events.forEach((e, i) => expect(e.seq).toBe(i + 1));

    const done = await get(t, token, `${BASE}/${run.id}`);
    expect(done.status).toBe("completed");
    expect(done.active_room_ids).toEqual([]);
    expect(done.current_stage).toBeNull();
    expect(done.plan_summary).toEqual(expect.any(String));

    const stages = await get(t, token, `${BASE}/${run.id}/stages`);
    expect(stages.map((s: any) => [s.stage_name, s.status])).toEqual([
      ["Draft", "passed"],
      ["Review", "passed"],
    ]);
    const issues = await get(t, token, `${BASE}/${run.id}/issues`);
    expect(issues).toHaveLength(3);
    for (const issue of issues) {
      expect(issue.status).toBe("passed");
      expect(issue.attempts).toBe(1);
      expect(issue.verdicts.length).toBeGreaterThan(0);
      for (const v of issue.verdicts) expect(v.verdict).toBe("pass");
      // The issue's room: rented by the run, purpose = title, released when the issue ended.
      const room = await get(t, token, `/llm/room/${issue.assigned_room_id}`);
      expect(room.status).toBe("released");
      expect(room.purpose).toBe(issue.title);
      expect(room.metadata).toMatchObject({ run_id: run.id, issue_id: issue.id });
      const history = await get(t, token, `/llm/room/${issue.assigned_room_id}/history`);
      const tasks = history.messages.filter((m: any) => m.kind === "task");
      expect(tasks).toHaveLength(1);
      expect(tasks[0].content).toContain(issue.title);
    }
    const compare = issues.find((i: any) => i.title === "Compare the two haiku");
    expect(compare.depends_on.sort()).toEqual(issues.filter((i: any) => i !== compare).map((i: any) => i.id).sort());

    const artifacts = await get(t, token, `${BASE}/${run.id}/artifacts`);
    const outputs = artifacts.filter((a: any) => a.artifact_type === "issue_output");
    expect(outputs.map((a: any) => a.version)).toEqual([1, 2, 3]);
    expect(new Set(outputs.map((a: any) => a.producer_issue_id))).toEqual(new Set(issues.map((i: any) => i.id)));
    for (const o of outputs) expect(o.payload.text).toMatch(/^Echo: Task: /);
    expect(artifacts.filter((a: any) => a.artifact_type === "plan")).toHaveLength(1);
    expect(artifacts.filter((a: any) => a.artifact_type === "verification_report")).toHaveLength(1);

    const checkpoints = await get(t, token, `${BASE}/${run.id}/checkpoints`);
    expect(checkpoints).toHaveLength(2);
    for (const c of checkpoints) {
      expect(c).toMatchObject({ status: "passed", branch_name: "", worktree_path: "", base_ref: "", head_sha: "", conflict_issue_ids: [] });
      expect(c.included_issue_ids.length).toBeGreaterThan(0);
    }

    const status = await get(t, token, `${BASE}/${run.id}/status`);
    expect(status).toMatchObject({
      run_id: run.id,
      status: "completed",
      stage_counts: { pending: 0, ready: 0, running: 0, passed: 2, failed: 0, blocked: 0 },
      issue_counts: { pending: 0, ready: 0, running: 0, passed: 3, failed: 0, blocked: 0 },
      latest_checkpoint_status: "passed",
      latest_checkpoint_id: checkpoints[1].id,
      latest_verification: "passed",
      latest_verification_success: true,
      blockers: [],
    });
    expect(status.latest_gate_verdicts).toMatchObject({ all_issues_passed: "pass", verification_passed: "pass", token_budget: "pass" });
    expect(status.latest_gate_verdicts.human_review).toBeUndefined();
    expect(status.usage.totalTokens).toBeGreaterThan(0);
    expect(done.usage.totalTokens).toBe(status.usage.totalTokens);

    const review = await get(t, token, `${BASE}/${run.id}/review`);
    expect(typeof review.id).toBe("string");
    expect(typeof review.plan_summary).toBe("string");
    expect(review.run_id).toBe(run.id);
    for (const k of ["artifact_summary", "checkpoint_summary", "issue_summary", "stage_summary", "gate_summary", "evidence_summary", "blockers", "diagnostics", "next_actions", "open_risks"]) {
      expect(Array.isArray(review[k]), k).toBe(true);
      for (const line of review[k]) expect(typeof line).toBe("string");
    }
    expect(review.issue_summary.length).toBe(3);

    const types = events.map((e) => e.event_type);
    for (const want of ["run:created", "run:started", "run:status", "run:planned", "stage:created", "issue:created", "issue:dispatched", "issue:status", "issue:checked", "artifact:created", "checkpoint:created", "stage:status", "verification:completed", "gate:verdict", "run:finished"]) {
      expect(types, want).toContain(want);
    }
    // The usage on the run is the sum of its rooms' usage.
    let roomTokens = 0;
    for (const issue of issues) roomTokens += (await get(t, token, `/llm/room/${issue.assigned_room_id}`)).usage.totalTokens;
    expect(done.usage.totalTokens).toBe(roomTokens);
  });

  it("gives the same plan and verdicts every time", async () => {
    const plans: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: TWO_STAGE_SOURCE } });
      const follow = followRun(t, token, run.id);
      await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
      await follow;
      const issues = await get(t, token, `${BASE}/${run.id}/issues`);
      plans.push(issues.map((x: any) => ({ key: x.key, title: x.title, status: x.status, criteria: x.acceptance_criteria, verdicts: x.verdicts, deps: x.depends_on.length })));
    }
    expect(plans[1]).toEqual(plans[0]);
  });

  it("a failing issue is retried, then the run ends failed with the issue named as the blocker", async () => {
    const run = await createRun(t, token, {
      source: { kind: "prompt", format: "markdown", content: "# Fragile\n\n- Say something\n- Say more (depends on: Say something)\n" },
      agents: [{ agent_id: "flaky", options: { fail_after_tokens: 1 } }],
    });
    const follow = followRun(t, token, run.id);
    await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    const events = await follow;
    expect(events[events.length - 1]).toMatchObject({ event_type: "run:finished", payload: { status: "failed" } });

    const issues = await get(t, token, `${BASE}/${run.id}/issues`);
    const first = issues.find((i: any) => i.title === "Say something");
    const second = issues.find((i: any) => i.title === "Say more");
    expect(first.status).toBe("failed");
    expect(first.attempts).toBe(3);
    expect(second.status).toBe("blocked");
    expect(second.attempts).toBe(0);
    const dispatched = events.filter((e) => e.event_type === "issue:dispatched");
    expect(dispatched.map((e) => e.payload.attempt)).toEqual([1, 2, 3]);
    // Each attempt ran in a new room, and every room is released.
    expect(new Set(dispatched.map((e) => e.payload.room_id)).size).toBe(3);
    for (const e of dispatched) expect((await get(t, token, `/llm/room/${e.payload.room_id}`)).status).toBe("released");

    const status = await get(t, token, `${BASE}/${run.id}/status`);
    expect(status.status).toBe("failed");
    expect(status.issue_counts).toMatchObject({ failed: 1, blocked: 1 });
    expect(status.blockers.join("\n")).toContain("Say something");
    expect(status.latest_gate_verdicts.all_issues_passed).toBe("fail");
    expect((await get(t, token, `${BASE}/${run.id}`)).active_room_ids).toEqual([]);
  });

  it("a criterion no rule decides leaves the run gated until POST /gates records pass", async () => {
    const run = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: "# Taste\n\n- Write a slogan\n  - is delightful\n" } });
    const follow = followRun(t, token, run.id, (e) => e.event_type === "run:status" && e.payload.status === "gated");
    await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    await follow;
    await supervisorIdle(t, "acme", run.id);

    const status = await get(t, token, `${BASE}/${run.id}/status`);
    expect(status.status).toBe("gated");
    expect(status.latest_verification).toBe("passed");
    expect(status.latest_gate_verdicts.verification_passed).toBe("needs_review");
    expect(status.blockers.length).toBeGreaterThan(0);
    const issue = (await get(t, token, `${BASE}/${run.id}/issues`))[0];
    expect(issue.verdicts).toEqual([expect.objectContaining({ criterion: "is delightful", verdict: "needs_review" })]);

    const gate = await t.json("POST", `${BASE}/${run.id}/gates`, { token, body: { gate_name: "verification_passed", verdict: "pass", reasons: ["a person liked it"] } });
    expect(gate.status).toBe(201);
    expect(gate.body.data.status).toBe("completed");
    const after = await get(t, token, `${BASE}/${run.id}/status`);
    expect(after.status).toBe("completed");
    expect(after.latest_gate_verdicts.verification_passed).toBe("pass");
    const replay = await replayRun(t, token, run.id);
    expect(replay[replay.length - 1]).toMatchObject({ event_type: "run:finished", payload: { status: "completed" } });
  });

  it("a gate recorded fail fails a gated run; software.delivery asks for human review", async () => {
    const run = await createRun(t, token, { source: { kind: "prompt", format: "text", content: "Say hello" }, workflow_kind: "software.delivery" });
    expect(run.human_review).toBe(true);
    const follow = followRun(t, token, run.id, (e) => e.event_type === "run:status" && e.payload.status === "gated");
    await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    await follow;
    const status = await get(t, token, `${BASE}/${run.id}/status`);
    expect(status.latest_gate_verdicts.human_review).toBe("needs_review");
    expect(status.next_actions.join("\n")).toContain(`/gates`);
    const gate = await t.json("POST", `${BASE}/${run.id}/gates`, { token, body: { gate_name: "human_review", verdict: "fail", reasons: ["not good enough"] } });
    expect(gate.body.data.status).toBe("failed");
    const again = await t.json("POST", `${BASE}/${run.id}/gates`, { token, body: { gate_name: "human_review", verdict: "pass" } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe("RUN_FINISHED");
  });

  it("its SSE replay equals its live stream", async () => {
    const run = await createRun(t, token, { source: { kind: "prompt", format: "markdown", content: TWO_STAGE_SOURCE } });
    const live = followRun(t, token, run.id);
    await t.json("POST", `${BASE}/${run.id}/start`, { token, body: {} });
    const liveEvents = await live;
    const replayed = await replayRun(t, token, run.id);
    expect(replayed).toEqual(liveEvents);
    // Resume from the middle: exactly the rest, no duplicates.
    const mid = liveEvents[Math.floor(liveEvents.length / 2)].seq;
    const res = await t.req("GET", `${BASE}/${run.id}/events`, { token, headers: { "last-event-id": String(mid) } });
    const { readEvents } = await import("../support/sse-client.js");
    const rest: any[] = [];
    await readEvents(res.body!, (ev) => void rest.push(ev));
    expect(rest).toEqual(liveEvents.filter((e) => e.seq > mid));
    // The record's own id, `<run_id>:<seq>`, resumes at the same place; another stream's id is refused.
    const byId = await t.req("GET", `${BASE}/${run.id}/events`, { token, headers: { "last-event-id": `${run.id}:${mid}` } });
    const restById: any[] = [];
    await readEvents(byId.body!, (ev) => void restById.push(ev));
    expect(restById).toEqual(rest);
    const foreign = await t.req("GET", `${BASE}/${run.id}/events`, { token, headers: { "last-event-id": `00000000-0000-4000-8000-000000000000:${mid}` } });
    expect(foreign.status).toBe(400);
  });
});
