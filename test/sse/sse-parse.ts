/**
 * A client-side SSE parser following the WHATWG event-stream algorithm, for
 * tests and clients: lines end in CRLF, LF or CR; a blank line dispatches; a
 * line starting with ":" is a comment; one space after the colon is dropped;
 * `data` lines join with "\n". A frame not yet ended by a blank line is held
 * back (a cut connection never yields a half frame).
 */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
  comment?: string;
}

export class SseParser {
  #buf = "";
  #skipLf = false;
  #first = true;
  #frame: SseFrame = {};
  #data: string[] | undefined;

  /** Feeds a chunk; returns the frames (and comments) it completed. */
  push(chunk: string): SseFrame[] {
    const out: SseFrame[] = [];
    let text = chunk;
    if (this.#first && text.length > 0) {
      this.#first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (this.#skipLf) {
        this.#skipLf = false;
        if (ch === "\n") continue;
      }
      if (ch === "\r" || ch === "\n") {
        if (ch === "\r") this.#skipLf = true;
        this.#line(this.#buf, out);
        this.#buf = "";
      } else {
        this.#buf += ch;
      }
    }
    return out;
  }

  #line(line: string, out: SseFrame[]): void {
    if (line === "") {
      if (this.#data !== undefined) this.#frame.data = this.#data.join("\n");
      if (Object.keys(this.#frame).length > 0) out.push(this.#frame);
      this.#frame = {};
      this.#data = undefined;
      return;
    }
    if (line.startsWith(":")) {
      out.push({ comment: line.slice(1).replace(/^ /, "") });
      return;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    switch (field) {
      case "data":
        (this.#data ??= []).push(value);
        break;
      case "event":
        this.#frame.event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#frame.id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.#frame.retry = Number(value);
        break;
      default:
        // unknown fields are ignored
        break;
    }
  }
}

/** Parses a whole body; an unterminated last frame is dropped. */
export function parseSseStream(text: string): SseFrame[] {
  return new SseParser().push(text);
}
