/**
 * How busy the event loop is: its utilisation (the share of wall time it
 * was not waiting for I/O or timers, `performance.eventLoopUtilization`)
 * over the last sampling period. The streaming path reads it to trade a few
 * milliseconds of delay for less work per token when, and only when, the
 * process is saturated: group commits space out (turn-writer.ts), so each
 * carries more events and the loop pays the per-commit cost less often.
 *
 * One sample per period (an unref'd interval: it never keeps the process
 * alive); reading it is a field read.
 */
import { performance, type EventLoopUtilization } from "node:perf_hooks";

/** What the streaming path asks: the loop's recent utilisation, 0 (idle) to 1 (never idle). */
export type LoopBusy = () => number;

/** The utilisation below which nothing is delayed. */
export const PACE_FROM = 0.5;
/** The utilisation at and above which the full delay applies. */
export const PACE_FULL = 0.9;

/**
 * How long a group commit waits after the previous one, for a loop this
 * busy: none below PACE_FROM, rising linearly to `maxMs` at PACE_FULL.
 */
export function paceMs(busy: number, maxMs: number): number {
  if (maxMs <= 0 || busy <= PACE_FROM) return 0;
  if (busy >= PACE_FULL) return maxMs;
  return (maxMs * (busy - PACE_FROM)) / (PACE_FULL - PACE_FROM);
}

export class LoopLoad {
  #last: EventLoopUtilization = performance.eventLoopUtilization();
  #busy = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly periodMs = 100) {}

  /** The utilisation over the last full period (0 before the first). */
  readonly busy: LoopBusy = () => this.#busy;

  start(): void {
    if (this.#timer) return;
    this.#last = performance.eventLoopUtilization();
    this.#timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.#busy = performance.eventLoopUtilization(now, this.#last).utilization;
      this.#last = now;
    }, this.periodMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#busy = 0;
  }
}
