/**
 * An incremental parser of `text/event-stream` (the WHATWG "event stream
 * interpretation"): feed it decoded text in whatever pieces the network
 * delivers, get back complete frames. Pure: no DOM, no timers, so the
 * console and the unit tests share it.
 */
export interface SseFrame {
  /** The frame's own `id:` field, or null when it had none. */
  id: string | null;
  /** `event:` field; "message" when absent. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

export class SseParser {
  #buf = "";
  #data: string[] = [];
  #event = "";
  #id: string | null = null;
  /** The last `id:` seen (persists across frames, as the spec's last event ID buffer). */
  lastEventId: string | null = null;
  /** The last valid `retry:` hint, in ms. */
  retryMs: number | null = null;
  /** Comment lines (`: ping`) seen so far: heartbeats. */
  comments = 0;

  /** Consumes a chunk; returns the frames it completed, in order. */
  push(chunk: string): SseFrame[] {
    const frames: SseFrame[] = [];
    this.#buf += chunk;
    let start = 0;
    for (;;) {
      const nl = this.#nextBreak(start);
      if (nl === -1) break;
      const line = this.#buf.slice(start, nl.at);
      start = nl.at + nl.len;
      const frame = this.#line(line);
      if (frame) frames.push(frame);
    }
    this.#buf = this.#buf.slice(start);
    return frames;
  }

  /** The next line break at or after `from`; a lone trailing "\r" waits for the next chunk (it may be "\r\n"). */
  #nextBreak(from: number): { at: number; len: number } | -1 {
    const buf = this.#buf;
    for (let i = from; i < buf.length; i++) {
      const ch = buf.charCodeAt(i);
      if (ch === 10) return { at: i, len: 1 };
      if (ch === 13) {
        if (i + 1 === buf.length) return -1;
        return { at: i, len: buf.charCodeAt(i + 1) === 10 ? 2 : 1 };
      }
    }
    return -1;
  }

  #line(line: string): SseFrame | null {
    if (line === "") return this.#dispatch();
    if (line.charCodeAt(0) === 58 /* ':' */) {
      this.comments++;
      return null;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "data":
        this.#data.push(value);
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        if (!value.includes("\u0000")) {
          this.#id = value;
          this.lastEventId = value;
        }
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break;
    }
    return null;
  }

  #dispatch(): SseFrame | null {
    const frame = this.#data.length > 0 ? { id: this.#id, event: this.#event || "message", data: this.#data.join("\n") } : null;
    this.#data = [];
    this.#event = "";
    this.#id = null;
    return frame;
  }
}
