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
 * where the cost is, is paced here. Memory is bounded by `maxConcurrent`
 * pages being built plus, per connection, the one page it is being sent.
 */
import type { RoomEvent } from "../events/event.types.js";
import type { MessageRecord } from "./room.dto.js";
import { withoutPartialText } from "./room.event-view.js";

/** Bytes of JSON per list of a page (the newest rows that fit, at least one). */
export const LIST_BYTES = 512 * 1024;
/** Bytes serialised between two pauses: a fraction of a millisecond of work. */
export const SLICE_BYTES = 32 * 1024;

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
}

export interface HistoryRequest {
  limit: number;
  messagesBeforeSeq: number;
  eventsBeforeSeq: number;
  partialText: boolean;
}

export interface HistoryPagerOptions {
  /** Pages built at once; the rest wait their turn. Default 4. */
  maxConcurrent?: number;
  /** Lets other work run; default: until the next event-loop turn's I/O has been handled. */
  pause?: () => Promise<void>;
  listBytes?: number;
  sliceBytes?: number;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class HistoryPager {
  readonly #max: number;
  readonly #pause: () => Promise<void>;
  readonly #listBytes: number;
  readonly #sliceBytes: number;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  constructor(opts: HistoryPagerOptions = {}) {
    this.#max = opts.maxConcurrent ?? 4;
    this.#pause = opts.pause ?? nextTurn;
    this.#listBytes = opts.listBytes ?? LIST_BYTES;
    this.#sliceBytes = opts.sliceBytes ?? SLICE_BYTES;
  }

  /**
   * Both lists of one page: waits its turn, reads both lists synchronously
   * (one statement each), then serialises them paced. The caller must keep
   * the tenant's file open until this resolves.
   */
  async page(read: HistoryReaders, q: HistoryRequest): Promise<{ messages: HistoryListPage; events: HistoryListPage }> {
    await this.#acquire();
    try {
      // Read once it is this page's turn, so pages waiting for one hold no rows.
      const messages = read.messages(q.messagesBeforeSeq, q.limit + 1);
      const events = read.events(q.eventsBeforeSeq, q.limit + 1);
      const m = await this.#list(messages, q.limit, (x) => x);
      const e = await this.#list(events, q.limit, q.partialText ? (x) => x : withoutPartialText);
      return { messages: m, events: e };
    } finally {
      this.#release();
    }
  }

  /**
   * The newest rows of `rows` (ascending, up to limit + 1 of them) that fit
   * the byte budget, serialised newest first so the budget keeps the newest.
   */
  async #list<T extends { seq: number }>(rows: (T | undefined)[], limit: number, project: (row: T) => T): Promise<HistoryListPage> {
    const items: Buffer[] = [];
    let bytes = 0;
    let sinceYield = 0;
    let firstSeq: number | null = null;
    let i = rows.length - 1;
    const oldest = Math.max(0, rows.length - limit);
    for (; i >= oldest; i--) {
      const row = rows[i]!;
      const json = Buffer.from(JSON.stringify(project(row)), "utf8");
      const size = json.length;
      if (items.length > 0 && bytes + size > this.#listBytes) break;
      items.push(json);
      firstSeq = row.seq;
      bytes += size;
      sinceYield += size;
      // Drop the row: its text, flattened by stringify, need not live until the page is sent.
      rows[i] = undefined;
      if (sinceYield >= this.#sliceBytes) {
        sinceYield = 0;
        await this.#pause();
      }
    }
    items.reverse();
    const hasMore = i >= 0;
    return { items, hasMore, nextBeforeSeq: hasMore ? firstSeq : null };
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
