/** A small, strict SSE reader for tests: frames parsed from a real response body. */
export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

export function parseFrames(text: string): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const block of text.split(/\n\n/)) {
    if (block.trim() === "") continue;
    const f: SseFrame = {};
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) f.comment = line.slice(1).trim();
      else {
        const i = line.indexOf(":");
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "data") f.data = f.data === undefined ? value : `${f.data}\n${value}`;
        else if (field === "id" || field === "event" || field === "retry") f[field] = value;
      }
    }
    frames.push(f);
  }
  return frames;
}

/** Reads an SSE body incrementally, handing each complete event frame (with data) to `onEvent`; resolves when the body ends. */
export async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (ev: any, frame: SseFrame) => boolean | void): Promise<{ frames: SseFrame[] }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const frames: SseFrame[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let idx: number;
      while ((idx = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, idx + 2);
        buf = buf.slice(idx + 2);
        for (const f of parseFrames(block)) {
          frames.push(f);
          if (f.data !== undefined && f.event !== undefined) {
            if (onEvent(JSON.parse(f.data), f) === false) {
              await reader.cancel();
              return { frames };
            }
          }
        }
      }
    }
  } catch (err) {
    if ((err as Error).name !== "AbortError") throw err;
  }
  return { frames };
}
