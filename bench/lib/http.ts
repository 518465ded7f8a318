/** Loopback HTTP for the bench: a keep-alive JSON client, a bounded worker pool, and an SSE follower that timestamps frames. */
import http from "node:http";

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface JsonResponse {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

/** One request on the shared keep-alive agent. Rejects on a connection error or after timeoutMs. */
export function request(base: string, method: string, path: string, opts: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = {};
    if (opts.token) headers["authorization"] = `Bearer ${opts.token}`;
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    const req = http.request(base + path, { method, headers, agent, timeout: opts.timeoutMs ?? 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Like request, but throws unless the status is the expected one. */
export async function expectStatus(status: number | number[], p: Promise<JsonResponse>, what: string): Promise<JsonResponse> {
  const res = await p;
  const ok = Array.isArray(status) ? status.includes(res.status) : res.status === status;
  if (!ok) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
  return res;
}

/** Runs fn over items with at most `concurrency` in flight; stops early (throws) on the first error. */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

export function closeAgent(): void {
  agent.destroy();
}

export interface TurnTiming {
  firstUpdate?: number;
  end?: number;
  status?: string;
  usageOutput?: number;
}

/**
 * One SSE follower of a room (`?follow=true`), on its own connection. Every
 * complete frame is timestamped with performance.now() when its chunk
 * arrives. It tracks, per turn, the first `pi:message_update` and the
 * `agent:turn_end`, and the highest seq seen.
 */
export class Follower {
  lastSeq = 0;
  frames = 0;
  outputChars = 0;
  readonly turns = new Map<string, TurnTiming>();
  readonly #waiters = new Map<string, () => void>();
  #req: http.ClientRequest | null = null;
  #closed = false;

  private constructor() {}

  static open(base: string, roomId: string, token: string, timeoutMs = 10_000): Promise<Follower> {
    const f = new Follower();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`follower of ${roomId} did not connect`)), timeoutMs);
      const req = http.get(`${base}/llm/room/${roomId}/events?follow=true`, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`follower of ${roomId}: HTTP ${res.statusCode}`));
          return;
        }
        res.setEncoding("utf8");
        let buf = "";
        res.on("data", (chunk: string) => {
          const t = performance.now();
          buf += chunk;
          let idx: number;
          while ((idx = buf.indexOf("\n\n")) >= 0) {
            const frame = buf.slice(0, idx);
            buf = buf.slice(idx + 2);
            f.#onFrame(frame, t);
          }
        });
        res.on("error", () => undefined);
        resolve(f);
      });
      req.on("error", (err) => {
        clearTimeout(timer);
        if (!f.#closed) reject(err);
      });
      f.#req = req;
    });
  }

  #onFrame(frame: string, t: number): void {
    let id = "";
    let event = "";
    let data = "";
    for (const line of frame.split("\n")) {
      if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data = line.slice(6);
    }
    if (!event || !data) return;
    this.frames++;
    const seq = Number(id);
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (event === "pi:message_update") {
      const m = /"turn_id":"([^"]+)"/.exec(data);
      if (m) {
        const tt = this.#timing(m[1]!);
        tt.firstUpdate ??= t;
      }
    } else if (event === "agent:turn_end") {
      const ev = JSON.parse(data) as { turn_id: string; payload: { status: string; usage?: { output?: number } } };
      const tt = this.#timing(ev.turn_id);
      tt.end = t;
      tt.status = ev.payload.status;
      if (ev.payload.usage?.output !== undefined) tt.usageOutput = ev.payload.usage.output;
      this.#waiters.get(ev.turn_id)?.();
    } else if (event === "agent:output") {
      const ev = JSON.parse(data) as { payload: { text: string } };
      this.outputChars += ev.payload.text.length;
    }
  }

  #timing(turnId: string): TurnTiming {
    let tt = this.turns.get(turnId);
    if (!tt) this.turns.set(turnId, (tt = {}));
    return tt;
  }

  /** Resolves with the turn's timings once its agent:turn_end has arrived. */
  turnEnded(turnId: string, timeoutMs = 30_000): Promise<TurnTiming> {
    const tt = this.turns.get(turnId);
    if (tt?.end !== undefined) {
      this.turns.delete(turnId);
      return Promise.resolve(tt);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(turnId);
        reject(new Error(`turn ${turnId} did not end within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.set(turnId, () => {
        clearTimeout(timer);
        this.#waiters.delete(turnId);
        const done = this.turns.get(turnId)!;
        this.turns.delete(turnId);
        resolve(done);
      });
    });
  }

  close(): void {
    this.#closed = true;
    this.#req?.destroy();
  }
}
