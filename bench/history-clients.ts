/**
 * History readers: N clients in a process of their own (their parsing is not
 * billed to the orchestrator, which times `/health`), each reading one room's
 * whole history again and again, page by page with the events cursor, as a
 * client paging back through a long reply does. Bodies are not JSON-parsed
 * (a reader that parsed 18 MB per pass would take a core from the server on
 * a 2-core machine): events are counted by their `"event_type":` key and the
 * cursor is read from the `meta` object at the end of each page. Driven by
 * bench/figures/history.ts over IPC.
 */
import http from "node:http";
import { serveIpc } from "./lib/ipc-child.js";

type Start = { cmd: "start"; base: string; token: string; roomId: string; n: number; query: string };
type Command = Start | (Omit<Start, "cmd" | "n"> & { cmd: "walk" }) | { cmd: "stop" };

interface Totals {
  pages: number;
  bytes: number;
  fullReads: number;
  /** Events counted in each completed pass (all passes should agree with the room's log). */
  eventsPerRead: number[];
  /** Bytes and pages of each completed pass. */
  bytesPerRead: number[];
  pagesPerRead: number[];
  maxPageBytes: number;
  /** Pages sent again after a connection error (a reused keep-alive connection the server had just closed). */
  retries: number;
  errors: string[];
}

let running = false;
let totals: Totals = fresh();
let readers: Promise<void>[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const EVENT_KEY_BYTES = Buffer.from('"event_type":');
/** The end of a page kept as text: `meta` and whatever error body a non-200 has fit in it. */
const TAIL_BYTES = 4096;

function fresh(): Totals {
  return { pages: 0, bytes: 0, fullReads: 0, eventsPerRead: [], bytesPerRead: [], pagesPerRead: [], maxPageBytes: 0, retries: 0, errors: [] };
}

/**
 * One page: its status, size, events (counted chunk by chunk, never decoded
 * into a string) and the bytes of its last chunks, where `meta` is.
 */
function get(url: string, token: string): Promise<{ status: number; bytes: number; events: number; tail: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` }, timeout: 60_000 }, (res) => {
      let bytes = 0;
      let events = 0;
      let tail: Buffer = Buffer.alloc(0);
      res.on("data", (c: Buffer) => {
        bytes += c.length;
        // A key split across two chunks is found in the joint of the tail and the chunk.
        const joint = Buffer.concat([tail.subarray(Math.max(0, tail.length - EVENT_KEY_BYTES.length + 1)), c]);
        events += count(joint, EVENT_KEY_BYTES);
        tail = c.length >= TAIL_BYTES ? c.subarray(-TAIL_BYTES) : Buffer.concat([tail, c]).subarray(-TAIL_BYTES);
      });
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, events, tail: tail.toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error("history page timed out")));
    req.on("error", reject);
  });
}

function count(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** The page's `meta` (the last top-level key of the envelope). */
function metaOf(body: string): { events: { has_more: boolean; next_before_seq: number | null } } {
  return JSON.parse(body.slice(body.lastIndexOf('"meta":') + 7, -1)) as { events: { has_more: boolean; next_before_seq: number | null } };
}

async function reader(c: Omit<Start, "cmd" | "n">, once = false): Promise<void> {
  while (running || once) {
    let before: number | null = null;
    let events = 0;
    let readBytes = 0;
    let readPages = 0;
    for (let guard = 0; guard < 10_000 && (running || once); guard++) {
      const url = `${c.base}/llm/room/${c.roomId}/history?${c.query}${before === null ? "" : `&events_before_seq=${before}`}`;
      let page;
      try {
        page = await get(url, c.token);
      } catch (err) {
        // A keep-alive connection the server closed as idle just as it was reused: a GET is safe to send again, once.
        try {
          totals.retries++;
          page = await get(url, c.token);
        } catch {
          if (totals.errors.length < 20) totals.errors.push(String(err));
          break;
        }
      }
      if (page.status !== 200) {
        if (totals.errors.length < 20) totals.errors.push(`HTTP ${page.status}: ${page.tail.slice(0, 200)}`);
        break;
      }
      const bytes = page.bytes;
      totals.pages++;
      totals.bytes += bytes;
      totals.maxPageBytes = Math.max(totals.maxPageBytes, bytes);
      readBytes += bytes;
      readPages++;
      // The room record and messages carry no event_type; every occurrence is one event of the page.
      events += page.events;
      const meta = metaOf(page.tail);
      if (!meta.events.has_more) {
        totals.fullReads++;
        if (totals.eventsPerRead.length < 10_000) {
          totals.eventsPerRead.push(events);
          totals.bytesPerRead.push(readBytes);
          totals.pagesPerRead.push(readPages);
        }
        break;
      }
      before = meta.events.next_before_seq;
    }
    if (once) return;
  }
}

async function handle(m: Command): Promise<unknown> {
  switch (m.cmd) {
    case "start":
      if (running) throw new Error("already running");
      running = true;
      totals = fresh();
      readers = Array.from({ length: m.n }, () => reader(m));
      return { ok: true };
    case "walk": {
      // One reader, one whole pass, alone: what a full read is.
      if (running) throw new Error("readers are running");
      totals = fresh();
      await reader(m, true);
      return totals;
    }
    case "stop": {
      running = false;
      await Promise.all(readers);
      readers = [];
      return totals;
    }
  }
}

serveIpc(handle);
