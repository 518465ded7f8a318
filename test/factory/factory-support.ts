/** Helpers for the factory tests: create/start runs and wait for their end on the event stream (no sleeps). */
import { expect } from "vitest";
import { eventually, type TestServer } from "../support/harness.js";
import { readEvents } from "../support/sse-client.js";

export const BASE = "/llm/factory/runs";

export const TWO_STAGE_SOURCE = [
  "# Poems",
  "",
  "## Draft",
  "",
  "- Write a haiku about tea",
  '  - mentions "tea"',
  "- Write a haiku about rain",
  '  - mentions "rain"',
  "",
  "## Review",
  "",
  "- Compare the two haiku (depends on: Write a haiku about tea, Write a haiku about rain)",
  '  Acceptance: mentions "Compare"',
].join("\n");

export async function createRun(t: TestServer, token: string, body: Record<string, unknown>): Promise<any> {
  const res = await t.json("POST", BASE, { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.data;
}

/** Follows the run's events until `run:finished` (or until `until` returns true) and returns them all. */
export async function followRun(t: TestServer, token: string, runId: string, until?: (ev: any) => boolean): Promise<any[]> {
  const res = await t.req("GET", `${BASE}/${runId}/events?follow=true`, { token });
  expect(res.status).toBe(200);
  const events: any[] = [];
  await readEvents(res.body!, (ev) => {
    events.push(ev);
    if (until?.(ev)) return false;
    return undefined;
  });
  return events;
}

/** Durable events of the run (replay only, no follow). */
export async function replayRun(t: TestServer, token: string, runId: string): Promise<any[]> {
  const res = await t.req("GET", `${BASE}/${runId}/events`, { token });
  expect(res.status).toBe(200);
  const events: any[] = [];
  await readEvents(res.body!, (ev) => void events.push(ev));
  return events;
}

export async function get(t: TestServer, token: string, url: string): Promise<any> {
  const res = await t.json("GET", url, { token });
  expect(res.status, `${url}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body.data;
}

/** Waits (polling the durable state with a deadline) until the supervisor's loop for the run has exited. */
export async function supervisorIdle(t: TestServer, tenant: string, runId: string): Promise<void> {
  await eventually(() => !t.server.supervisor.isRunning(tenant, runId), 20_000, "the supervisor loop to exit");
}
