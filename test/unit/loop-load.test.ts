/**
 * How busy the event loop is (runtime/loop-load.ts), and the pace of group
 * commits it gives: nothing is delayed until the loop is over half busy, the
 * full pace applies from 90%.
 */
import { describe, expect, it } from "vitest";
import { LoopLoad, PACE_FROM, PACE_FULL, paceMs } from "../../src/runtime/loop-load.js";

describe("the pace of group commits", () => {
  it("is none up to half busy, rises linearly, and is the whole pace from 90% busy", () => {
    expect(paceMs(0, 10)).toBe(0);
    expect(paceMs(PACE_FROM, 10)).toBe(0);
    expect(paceMs((PACE_FROM + PACE_FULL) / 2, 10)).toBeCloseTo(5, 10);
    expect(paceMs(PACE_FULL, 10)).toBe(10);
    expect(paceMs(1, 10)).toBe(10);
  });

  it("is none when the configured pace is 0, however busy the loop", () => {
    expect(paceMs(1, 0)).toBe(0);
  });
});

describe("the loop's load", () => {
  it("reads near 1 after a period the loop never idled, and 0 once stopped", async () => {
    const load = new LoopLoad(20);
    load.start();
    try {
      expect(load.busy()).toBe(0);
      // Hold the loop for several periods; the overdue sample runs before a timer set after it.
      const until = performance.now() + 100;
      while (performance.now() < until);
      await new Promise((resolve) => setTimeout(resolve, 0));
      expect(load.busy()).toBeGreaterThan(PACE_FULL);
    } finally {
      load.stop();
    }
    expect(load.busy()).toBe(0);
  });
});
