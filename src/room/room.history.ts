/**
 * GET /history pages, bounded in rows and in bytes, built a slice at a time.
 *
 * A long reply's `pi:message_update` events each carry the whole text so far
 * (`partial.text`), so its events weigh the square of its length: 517 events
 * of a 73,000-character reply held 17.8 M characters. Serialising a 500-row
 * page of those in one go held the event loop for seconds and, with a few
 * concurrent readers, hundreds of MB. So each list of a page stops at
 * `LIST_BYTES` of JSON as well as at `limit` rows (always at least one row,
 * so paging moves on; `has_more` and the list's own cursor say where to go
 * on), items are serialised one by one with a pause for other work after
 * every `SLICE_BYTES`, and at most `maxConcurrent` pages are built at once.
 * Each item is kept as its UTF-8 bytes, not as a string: a page waiting to be
 * sent then sits outside the JS heap, where the young-generation collector
 * need not copy it again and again (with 20 readers, copying pages in flight
 * made collections take tens of ms), and its size in bytes is exact.
 * With `partial_text: false` the cumulative text is left out of every
 * `pi:message_update` (room.event-view.ts) and the page costs what its deltas do.
 *
 * The rows come from the stores' page readers (newest `limit + 1` before a
 * seq, ascending), read when the page's turn comes; only serialising, which is
 * where the cost is, is paced here. All pages in flight share one queue of
 * turns: one slice of one page per event-loop turn, so a request that
 * arrives meanwhile (`/health`) waits for one slice, not one per page.
 * Serialised events are cached (bounded in bytes): a committed event never
 * changes, so readers of the same history share one serialisation, and a
 * page whose events are all cached is served without reading any row.
 * Memory is bounded by `maxConcurrent` pages being built, the cache, and,
 * per connection, the one page it is being sent.
 */
import type { RoomEvent } from "../events/event.types.js";
import type { MessageRecord } from "./room.dto.js";
import { withoutPartialText } from "./room.event-view.js";

/** Bytes of JSON per list of a page (the newest rows that fit, at least one). */
export const LIST_BYTES = 512 * 1024;
/** Bytes serialised between two pauses: a fraction of a millisecond of work. */
export const SLICE_BYTES = 32 * 1024;
/** Bytes of serialised events kept for the next readers of the same history (see EventJsonCache). */
export const EVENT_CACHE_BYTES = 32 * 1024 * 1024;
/** What a row found in the cache counts towards a slice (it is not serialised again, only looked up). */
const CACHED_ROW_WEIGHT = 128;

export interface HistoryListPage {
  /** Each row's JSON as UTF-8, ascending by seq. */
  items: Buffer[];
  /** Older rows exist before the first one here. */
  hasMore: boolean;
  /** Pass as the list's `*_before_seq` for the next (older) page; null when there is none. */
  nextBeforeSeq: number | null;
}

export interface HistoryReaders {
  /** The newest `limit` messages with seq < beforeSeq, ascending. */
  messages(beforeSeq: number, limit: number): MessageRecord[];
  /** The newest `limit` events with seq < beforeSeq, ascending. */
  events(beforeSeq: number, limit: number): RoomEvent[];
  /**
   * Names the event stream (and the file it is read from) for the cache of
   * serialised events; without it nothing is cached. A committed event never
   * changes, so its JSON can be served again as it is.
   */
  cacheKey?: string;
}

export interface HistoryRequest {
  limit: number;
  messagesBeforeSeq: number;
  eventsBeforeSeq: number;
  partialText: boolean;
  /** The stream's newest seq when the request began: with `cacheKey`, lets a page come from the cache without reading rows. */
  lastSeq?: number;
}

/** A list being built, newest item first. */
interface ListState {
  items: Buffer[];
  bytes: number;
  /** Seq of the oldest item so far. */
  firstSeq: number | null;
}

export interface HistoryPagerOptions {
  /** Pages built at once; the rest wait their turn. Default 4. */
  maxConcurrent?: number;
  /** Lets other work run; default: until the next event-loop turn's I/O has been handled. */
  pause?: () => Promise<void>;
  listBytes?: number;
  sliceBytes?: number;
  /** Bound of the serialised-event cache; 0 turns it off. */
  cacheBytes?: number;
}

/**
 * Serialised events, least recently used dropped first, bounded in bytes.
 * Readers of one long reply (the case that hurt: twenty clients paging
 * through the same 24 MB history) then share one serialisation of each
 * event instead of each building its own, which was most of a page's CPU and
 * nearly all its garbage (young-generation collections of tens of ms under
 * that load). The bytes sit outside the JS heap, so holding them costs the
 * collector nothing.
 */
export class EventJsonCache {
  readonly #items = new Map<string, Buffer>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): Buffer | undefined {
    const hit = this.#items.get(key);
    if (hit) {
      this.#items.delete(key);
      this.#items.set(key, hit);
    }
    return hit;
  }

  set(key: string, json: Buffer): void {
    // One item may take at most an eighth of the cache, so one huge event cannot empty it.
    if (json.length > this.maxBytes / 8 || this.#items.has(key)) return;
    this.#items.set(key, json);
    this.#bytes += json.length;
    for (const [k, v] of this.#items) {
      if (this.#bytes <= this.maxBytes) break;
      this.#items.delete(k);
      this.#bytes -= v.length;
    }
  }

  get bytes(): number {
    return this.#bytes;
  }
}

/**
 * Pages take turns: each event-loop turn runs one slice of one page, whoever
 * asked first, and then lets the loop handle its I/O (other requests, and
 * `/health`) before the next. A pause per page (each page its own
 * `setImmediate`) let every page in flight run a slice in the same turn, so a
 * request arriving meanwhile waited for all of them.
 */
const waiting: (() => void)[] = [];
let scheduled = false;
function runOne(): void {
  const next = waiting.shift();
  scheduled = waiting.length > 0;
  if (scheduled) setImmediate(runOne);
  next?.();
}
const nextTurn = (): Promise<void> =>
  new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(runOne);
    }
  });

export class HistoryPager {
  readonly #max: number;
  readonly #pause: () => Promise<void>;
  readonly #listBytes: number;
  readonly #sliceBytes: number;
  readonly #cache: EventJsonCache | null;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(opts: HistoryPagerOptions = {}) {
    this.#max = opts.maxConcurrent ?? 4;
    this.#pause = opts.pause ?? nextTurn;
    this.#listBytes = opts.listBytes ?? LIST_BYTES;
    this.#sliceBytes = opts.sliceBytes ?? SLICE_BYTES;
    const cacheBytes = opts.cacheBytes ?? EVENT_CACHE_BYTES;
    this.#cache = cacheBytes > 0 ? new EventJsonCache(cacheBytes) : null;
  }

  /**
   * Both lists of one page: waits its turn, reads both lists synchronously
   * (one statement each), then serialises them paced. The caller must keep
   * the tenant's file open until this resolves.
   */
  async page(read: HistoryReaders, q: HistoryRequest): Promise<{ messages: HistoryListPage; events: HistoryListPage }> {
    await this.#acquire();
    try {
      // The page that ended before this one gave its slot in the same turn; reading waits for a turn of its own.
      await this.#pause();
      const prefix = read.cacheKey !== undefined && this.#cache ? `${read.cacheKey}\u0000${q.partialText ? "t" : "f"}\u0000` : null;
      // Event seqs are gap-free from 1, so the newest events can be looked up in the cache by seq before any
      // row is read: a page of a history that other readers just read is served without reading or decoding.
      const e: ListState = { items: [], bytes: 0, firstSeq: null };
      const complete = prefix !== null && q.lastSeq !== undefined && this.#fromCache(prefix, Math.min(q.eventsBeforeSeq - 1, q.lastSeq), q.limit, e);
      // Read once it is this page's turn, so pages waiting for one hold no rows (both lists in one synchronous step).
      const messages = read.messages(q.messagesBeforeSeq, q.limit + 1);
      const events = complete ? [] : read.events(e.firstSeq ?? q.eventsBeforeSeq, q.limit - e.items.length + 1);
      const m = await this.#list(messages, q.limit, (x) => x, null, { items: [], bytes: 0, firstSeq: null });
      if (complete) {
        const hasMore = e.firstSeq! > 1;
        return { messages: m, events: { items: e.items.reverse(), hasMore, nextBeforeSeq: hasMore ? e.firstSeq : null } };
      }
      return { messages: m, events: await this.#list(events, q.limit, q.partialText ? (x) => x : withoutPartialText, prefix, e) };
    } finally {
      this.#release();
    }
  }

  /**
   * Takes cached events into `list`, newest first from seq `top`, until one is
   * not cached. True when that made the whole list: the row or byte budget is
   * spent, or seq 1 was reached.
   */
  #fromCache(prefix: string, top: number, limit: number, list: ListState): boolean {
    for (let seq = top; seq >= 1; seq--) {
      if (list.items.length >= limit) return true;
      const json = this.#cache!.get(prefix + seq);
      if (json === undefined) return false;
      if (list.items.length > 0 && list.bytes + json.length > this.#listBytes) return true;
      list.items.push(json);
      list.bytes += json.length;
      list.firstSeq = seq;
    }
    return list.items.length > 0;
  }

  /**
   * Adds to `list` the newest rows of `rows` (ascending, up to limit + 1 of
   * them, all older than what `list` holds) that fit the row and byte
   * budgets, serialised newest first so the budget keeps the newest.
   */
  async #list<T extends { seq: number }>(rows: (T | undefined)[], limit: number, project: (row: T) => T, cacheKey: string | null, list: ListState): Promise<HistoryListPage> {
    const items = list.items;
    let sinceYield = 0;
    let i = rows.length - 1;
    for (; i >= 0 && items.length < limit; i--) {
      const row = rows[i]!;
      const key = cacheKey === null ? null : cacheKey + row.seq;
      let json = key === null ? undefined : this.#cache!.get(key);
      if (json === undefined) {
        json = Buffer.from(JSON.stringify(project(row)), "utf8");
        if (key !== null) this.#cache!.set(key, json);
        sinceYield += json.length;
      } else {
        sinceYield += CACHED_ROW_WEIGHT;
      }
      const size = json.length;
      if (items.length > 0 && list.bytes + size > this.#listBytes) break;
      items.push(json);
      list.firstSeq = row.seq;
      list.bytes += size;
      // Drop the row: its text, flattened by stringify, need not live until the page is sent.
      rows[i] = undefined;
      if (sinceYield >= this.#sliceBytes) {
        sinceYield = 0;
        await this.#pause();
      }
    }
    items.reverse();
    const hasMore = i >= 0;
    return { items, hasMore, nextBeforeSeq: hasMore ? list.firstSeq : null };
  }

  async #acquire(): Promise<void> {
    if (this.#running < this.#max) {
      this.#running++;
      return;
    }
    await new Promise<void>((resolve) => this.#queue.push(resolve));
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#running--;
  }
}
