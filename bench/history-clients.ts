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
  errors: string[];
}

let running = false;
let totals: Totals = fresh();
let readers: Promise<void>[] = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const EVENT_KEY = '"event_type":';

function fresh(): Totals {
  return { pages: 0, bytes: 0, fullReads: 0, eventsPerRead: [], bytesPerRead: [], pagesPerRead: [], maxPageBytes: 0, errors: [] };
}

function get(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { authorization: `Bearer ${token}` }, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error("history page timed out")));
    req.on("error", reject);
  });
}

function count(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) n++;
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
        if (totals.errors.length < 20) totals.errors.push(String(err));
        break;
      }
      if (page.status !== 200) {
        if (totals.errors.length < 20) totals.errors.push(`HTTP ${page.status}: ${page.body.slice(0, 200)}`);
        break;
      }
      const bytes = Buffer.byteLength(page.body);
      totals.pages++;
      totals.bytes += bytes;
      totals.maxPageBytes = Math.max(totals.maxPageBytes, bytes);
      readBytes += bytes;
      readPages++;
      // The room record carries no event_type; every occurrence is one event of the page.
      events += count(page.body, EVENT_KEY);
      const meta = metaOf(page.body);
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

process.on("message", (m: Command & { id: number }) => {
  void handle(m).then(
    (result) => process.send?.({ id: m.id, result }),
    (err: unknown) => process.send?.({ id: m.id, error: String(err) }),
  );
});
process.on("disconnect", () => process.exit(0));
