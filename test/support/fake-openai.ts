/**
 * A scriptable OpenAI-compatible chat-completions server on 127.0.0.1 for
 * provider-path tests. Each request takes the next queued scenario (FIFO; a
 * short text answer when the queue is empty) and is recorded with its body,
 * headers, arrival time and the time its socket closed, so a test can assert
 * what was sent and how fast an aborted request was torn down.
 */
import { once } from "node:events";
import { EventEmitter } from "node:events";
import http, { type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FakeScenario =
  /** Streams each `reasoning` piece as reasoning_content, each chunk as one content delta, then finish_reason "stop" (and usage when asked for). */
  | { kind: "text"; chunks: string[]; reasoning?: string[]; delayMs?: number; usage?: { prompt_tokens: number; completion_tokens: number } }
  /**
   * Streams `text` as content first when given, then one tool call (arguments in two pieces; `rawArgs`, when
   * given, is sent verbatim instead of JSON of `args`), then finish_reason "tool_calls" (and usage when asked for).
   */
  | { kind: "tool_call"; name: string; args: Record<string, unknown>; id?: string; rawArgs?: string; text?: string; usage?: { prompt_tokens: number; completion_tokens: number } }
  /** Answers with this HTTP status and a JSON error body; Retry-After in seconds when given. */
  | { kind: "status"; status: number; retryAfter?: number; body?: unknown }
  /** Sends 200 and SSE headers, then nothing, until the client goes away. */
  | { kind: "hang" }
  /** Reads the request and never answers. */
  | { kind: "hang_before_headers" }
  /** Streams `afterChunks` content deltas, then destroys the socket. */
  | { kind: "drop"; afterChunks: number }
  /** Streams `before` content deltas (default none), then a data line that is not JSON. */
  | { kind: "malformed"; before?: string[] };

export interface FakeRequest {
  index: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (null when it was not JSON). */
  body: any;
  scenario: FakeScenario;
  /** Date.now() when the request arrived. */
  receivedAt: number;
  /** Date.now() when the request's socket closed, or null while it is open. */
  closedAt: number | null;
}

export interface FakeOpenAI {
  /** Base URL ending in /v1. */
  url: string;
  requests: FakeRequest[];
  enqueue(...scenarios: FakeScenario[]): void;
  /** Resolves once at least n requests have arrived. */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves with closedAt once request `index`'s socket has closed. */
  waitForClose(index: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

const DEFAULT_SCENARIO: FakeScenario = { kind: "text", chunks: ["Hello", " from", " fake"] };

/** Starts the fake on an ephemeral loopback port; close() destroys every socket it holds. */
export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const queue: FakeScenario[] = [];
  const requests: FakeRequest[] = [];
  const changes = new EventEmitter();
  changes.setMaxListeners(100);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: any = null;
      try {
        body = JSON.parse(raw);
      } catch {
        body = null;
      }
      const scenario = queue.shift() ?? DEFAULT_SCENARIO;
      const record: FakeRequest = {
        index: requests.length,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        scenario,
        receivedAt: Date.now(),
        closedAt: null,
      };
      requests.push(record);
      const socket = req.socket;
      if (socket.destroyed) record.closedAt = Date.now();
      else
        socket.once("close", () => {
          record.closedAt = Date.now();
          changes.emit("change");
        });
      changes.emit("change");
      if (req.method !== "POST" || !(req.url ?? "").startsWith("/v1/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      void play(scenario, body, res);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  async function play(s: FakeScenario, body: any, res: ServerResponse): Promise<void> {
    const model = typeof body?.model === "string" ? body.model : "fake-model";
    const includeUsage = body?.stream_options?.include_usage === true;
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const usageChunk = (prompt: number, completion: number) =>
      `data: ${JSON.stringify({ id: "chatcmpl-fake", object: "chat.completion.chunk", created: 1, model, choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } })}\n\n`;
    const sseHead = () => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.flushHeaders();
    };
    const write = (text: string) => {
      if (!res.destroyed) res.write(text);
    };
    switch (s.kind) {
      case "text": {
        sseHead();
        write(chunk({ role: "assistant", content: "" }));
        for (const r of s.reasoning ?? []) write(chunk({ reasoning_content: r }));
        for (const c of s.chunks) {
          if (s.delayMs) await sleep(s.delayMs);
          write(chunk({ content: c }));
        }
        write(chunk({}, "stop"));
        if (includeUsage) write(usageChunk(s.usage?.prompt_tokens ?? 10, s.usage?.completion_tokens ?? s.chunks.length));
        write("data: [DONE]\n\n");
        res.end();
        return;
      }
      case "tool_call": {
        sseHead();
        const id = s.id ?? `call_fake_${requests.length}`;
        const args = s.rawArgs ?? JSON.stringify(s.args);
        const half = Math.floor(args.length / 2);
        if (s.text !== undefined) write(chunk({ role: "assistant", content: s.text }));
        write(chunk({ role: "assistant", content: null, tool_calls: [{ index: 0, id, type: "function", function: { name: s.name, arguments: "" } }] }));
        write(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] }));
        write(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] }));
        write(chunk({}, "tool_calls"));
        if (includeUsage) write(usageChunk(s.usage?.prompt_tokens ?? 12, s.usage?.completion_tokens ?? 7));
        write("data: [DONE]\n\n");
        res.end();
        return;
      }
      case "status": {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (s.retryAfter !== undefined) headers["retry-after"] = String(s.retryAfter);
        res.writeHead(s.status, headers);
        res.end(JSON.stringify(s.body ?? { error: { message: `fake status ${s.status}`, type: "fake_error" } }));
        return;
      }
      case "hang":
        sseHead();
        return;
      case "hang_before_headers":
        return;
      case "drop": {
        sseHead();
        write(chunk({ role: "assistant", content: "" }));
        for (let i = 0; i < s.afterChunks; i++) write(chunk({ content: `part${i} ` }));
        // Let the written chunks reach the client before the connection dies.
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      case "malformed": {
        sseHead();
        for (const c of s.before ?? []) write(chunk({ content: c }));
        write("data: {this is not json\n\n");
        write("data: [DONE]\n\n");
        res.end();
        return;
      }
    }
  }

  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;

  const waitFor = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const first = check();
      if (first !== undefined) return resolve(first);
      const onChange = () => {
        const v = check();
        if (v !== undefined) {
          clearTimeout(timer);
          changes.off("change", onChange);
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        changes.off("change", onChange);
        reject(new Error(`fake-openai: timed out waiting for ${what}`));
      }, timeoutMs);
      changes.on("change", onChange);
    });

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...scenarios) => void queue.push(...scenarios),
    waitForRequests: (n, timeoutMs = 10_000) => waitFor(() => (requests.length >= n ? true : undefined), timeoutMs, `${n} request(s)`).then(() => undefined),
    waitForClose: (index, timeoutMs = 10_000) => waitFor(() => requests[index]?.closedAt ?? undefined, timeoutMs, `request ${index} to close`),
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
