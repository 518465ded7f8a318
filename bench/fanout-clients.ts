/**
 * Fan-out clients: N SSE readers in one process of their own (so their work
 * is not billed to the orchestrator), driven by bench/run.ts over IPC. For
 * every frame that carries a `created_at` at or after the measuring mark,
 * a sample is `Date.now()` when the chunk arrived minus `created_at` (both
 * wall clock of this machine, millisecond resolution), i.e. publish-to-receipt
 * delivery latency. The same code reads the real server and the bare
 * baseline, so client-side cost is the same on both sides.
 */
import http from "node:http";
import { serveIpc } from "./lib/ipc-child.js";

type Command =
  | { cmd: "connect"; group?: string; url: string; headers: Record<string, string>; n: number; concurrency: number; timeoutMs: number }
  | { cmd: "measure"; since: number }
  | { cmd: "report"; group?: string }
  | { cmd: "close"; group?: string };

const MAX_SAMPLES = 4_000_000;
const samples = new Float64Array(MAX_SAMPLES);
let nSamples = 0;
let dropped = 0;
let since = Number.POSITIVE_INFINITY;
const MARK = '"created_at":"';

interface Conn {
  req: http.ClientRequest;
  res: http.IncomingMessage | null;
  frames: number;
}
/** Connections by group: the real server's followers and the baseline's can be open at once, and runs alternate. */
const groups = new Map<string, Conn[]>();

let lastIso = "";
let lastMs = 0;
function parseIso(iso: string): number {
  if (iso !== lastIso) {
    lastIso = iso;
    lastMs = Date.parse(iso);
  }
  return lastMs;
}

function open(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Conn | null> {
  return new Promise((resolve) => {
    const conn: Conn = { req: null as unknown as http.ClientRequest, res: null, frames: 0 };
    const timer = setTimeout(() => {
      conn.req.destroy();
      resolve(null);
    }, timeoutMs);
    conn.req = http.get(url, { agent: false, headers }, (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        res.resume();
        resolve(null);
        return;
      }
      conn.res = res;
      res.setEncoding("utf8");
      let buf = "";
      let first = true;
      res.on("data", (chunk: string) => {
        const now = Date.now();
        if (first) {
          first = false;
          clearTimeout(timer);
          resolve(conn);
        }
        buf += chunk;
        let idx: number;
        while ((idx = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, idx);
          buf = buf.slice(idx + 2);
          const at = frame.lastIndexOf(MARK);
          if (at < 0) continue;
          const created = parseIso(frame.substr(at + MARK.length, 24));
          if (created < since) continue;
          conn.frames++;
          if (nSamples < MAX_SAMPLES) samples[nSamples++] = now - created;
          else dropped++;
        }
      });
      res.on("error", () => undefined);
    });
    conn.req.on("error", () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function handle(m: Command): Promise<unknown> {
  switch (m.cmd) {
    case "connect": {
      const started = Date.now();
      const out: (Conn | null)[] = [];
      let next = 0;
      const worker = async () => {
        while (next < m.n) {
          next++;
          out.push(await open(m.url, m.headers, m.timeoutMs));
        }
      };
      await Promise.all(Array.from({ length: m.concurrency }, worker));
      const conns = out.filter((c): c is Conn => c !== null);
      groups.set(m.group ?? "default", [...(groups.get(m.group ?? "default") ?? []), ...conns]);
      return { connected: conns.length, failed: m.n - conns.length, ms: Date.now() - started };
    }
    case "measure":
      since = m.since;
      nSamples = 0;
      dropped = 0;
      for (const conns of groups.values()) for (const c of conns) c.frames = 0;
      return { ok: true };
    case "report": {
      const sorted = samples.slice(0, nSamples).sort();
      const conns = groups.get(m.group ?? "default") ?? [];
      const frames = conns.map((c) => c.frames);
      const open = conns.filter((c) => c.res !== null && !c.res.destroyed && !c.res.complete).length;
      since = Number.POSITIVE_INFINITY;
      return {
        n: nSamples,
        dropped,
        p50: pct(sorted, 50),
        p90: pct(sorted, 90),
        p99: pct(sorted, 99),
        max: nSamples ? sorted[nSamples - 1] : Number.NaN,
        minFramesPerClient: frames.length ? Math.min(...frames) : 0,
        maxFramesPerClient: frames.length ? Math.max(...frames) : 0,
        openConnections: open,
      };
    }
    case "close":
      for (const [g, conns] of groups) {
        if (m.group !== undefined && g !== m.group) continue;
        for (const c of conns) c.req.destroy();
        groups.delete(g);
      }
      return { ok: true };
  }
}

serveIpc(handle);
