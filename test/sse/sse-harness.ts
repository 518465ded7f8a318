/**
 * Test support: a hono app serving one memory hub at GET /events the way the
 * room route does (parseLastEventId, then sseReply with no signal of its own:
 * in-process through app.request that is sseResponse's web stream on the
 * request's signal, behind serveApp the write-through to the Node response,
 * which ends on the response's 'close'), a loopback HTTP server for
 * it, and a streaming client that parses frames as they arrive.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { parseLastEventId, sseReply } from "../../src/sse/sse.stream.js";
import type { SseCloseReason, SseOptions } from "../../src/sse/sse.types.js";
import type { MemoryHub, TestEvent } from "./memory-hub.js";
import { SseParser, type SseFrame } from "./sse-parse.js";

export type Tunables = Partial<Omit<SseOptions, "follow" | "after" | "signal" | "onClose">>;

export interface TestApp {
  app: Hono;
  /** Reasons of every stream that closed, in order. */
  closes: SseCloseReason[];
  /** Streams opened and not yet closed. */
  open(): number;
  opened: number;
  tune: Tunables;
}

export function eventsApp(hub: MemoryHub, tune: Tunables = {}): TestApp {
  const app = new Hono();
  const t: TestApp = { app, closes: [], opened: 0, open: () => t.opened - t.closes.length, tune };
  // Like the real app: a thrown error is a plain 500, not a stack trace on the console.
  app.onError((_err, c) => c.json({ success: false, code: "INTERNAL" }, 500));
  app.get("/events", (c) => {
    const resume = parseLastEventId(c.req.header("last-event-id"), c.req.query("after"));
    if (!resume.ok) return c.json({ success: false, code: "VALIDATION_FAILED", error: resume.message, message: resume.message }, 400);
    const follow = c.req.query("follow") === "true";
    t.opened++;
    return sseReply(c, hub, {
      ...t.tune,
      follow,
      after: resume.after,
      onClose: (reason) => t.closes.push(reason),
    });
  });
  return t;
}

export interface Served {
  url: string;
  close(): Promise<void>;
}

export async function serveApp(app: Hono): Promise<Served> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const s = server as import("node:http").Server;
        s.closeAllConnections?.();
        s.close(() => resolve());
      }),
  };
}

/** Reads a Response body in the background, parsing frames as they arrive. */
export class StreamClient {
  readonly frames: SseFrame[] = [];
  /** Resolves when the body ends: "done" for a clean end, "error" for a cut/errored body. */
  readonly ended: Promise<"done" | "error">;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #waiters = new Set<() => void>();
  #endedFlag = false;

  constructor(readonly res: Response) {
    if (!res.body) throw new Error("no body");
    this.#reader = res.body.getReader();
    this.ended = this.#run();
  }

  async #run(): Promise<"done" | "error"> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    let result: "done" | "error" = "done";
    try {
      for (;;) {
        const { done, value } = await this.#reader.read();
        if (done) break;
        const frames = parser.push(decoder.decode(value, { stream: true }));
        if (frames.length > 0) {
          this.frames.push(...frames);
          this.#wake();
        }
      }
    } catch {
      result = "error";
    }
    this.#endedFlag = true;
    this.#wake();
    return result;
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  get isEnded(): boolean {
    return this.#endedFlag;
  }

  /** The parsed data of event frames (those with an id). */
  events(): TestEvent[] {
    return this.frames.filter((f) => f.id !== undefined).map((f) => JSON.parse(f.data ?? "null") as TestEvent);
  }

  seqs(): number[] {
    return this.frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));
  }

  /** Waits until `pred` holds (checked on every new frame and at the end); rejects on timeout or if the body ends first. */
  waitFor(pred: (c: StreamClient) => boolean, timeoutMs = 15_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (pred(this)) {
          cleanup();
          resolve();
        } else if (this.#endedFlag) {
          cleanup();
          reject(new Error(`stream ended before condition; frames=${JSON.stringify(this.frames.slice(-5))}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out; ${this.frames.length} frames, last=${JSON.stringify(this.frames.slice(-3))}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }
}

/** Polls a condition on a macrotask cadence (for server-side state such as listener counts). */
export async function eventually(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
