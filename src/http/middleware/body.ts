/**
 * Request bodies: read once, whole, before any handler sees them, within a
 * size limit and a time limit, and checked to be UTF-8 when they claim to be
 * JSON. Handlers and the idempotency middleware then read the cached bytes.
 *
 * - Larger than `maxBytes` (declared or as it arrives): 413 PAYLOAD_TOO_LARGE.
 * - Not complete within `timeoutMs` of the middleware starting to read: 408
 *   REQUEST_TIMEOUT. Without this an authenticated client could hold a
 *   request open for Node's default of 300 s by sending its body slowly.
 * - Not valid UTF-8 with a JSON content type: 400 VALIDATION_FAILED. A fetch
 *   body decoder would turn each bad byte into U+FFFD and store that.
 *
 * When the body was not read to its end (413 or 408) the answer carries
 * `Connection: close`: the rest of the body is still on the wire, so the
 * connection cannot carry another request, and a pooled client must know to
 * open a new one rather than see its next request fail.
 */
import { isUtf8 } from "node:buffer";
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../errors.js";
import type { AppEnv } from "../context.js";

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export interface BodyOptions {
  maxBytes: number;
  timeoutMs: number;
}

export function requestBody(opts: BodyOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const declared = raw.headers.get("content-length");
    if (declared !== null && !raw.headers.has("transfer-encoding") && Number(declared) > opts.maxBytes) throw tooLarge(opts.maxBytes);
    const bytes = await readWithin(raw.body, opts);
    if (JSON_TYPE.test(raw.headers.get("content-type") ?? "") && !isUtf8(bytes)) {
      throw new AppError("VALIDATION_FAILED", "request body is not valid UTF-8; send the JSON encoded as UTF-8", {
        details: [{ path: "(body)", message: "invalid UTF-8" }],
      });
    }
    // Every later reader (validators, idempotency) takes it from here.
    // (hono keeps the promise of each read in bodyCache, though its type names the value.)
    const buffer = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer;
    (c.req.bodyCache as { arrayBuffer?: Promise<ArrayBuffer> }).arrayBuffer = Promise.resolve(buffer);
    await next();
  };
}

function tooLarge(maxBytes: number): AppError {
  return new AppError("PAYLOAD_TOO_LARGE", `request body is larger than ${maxBytes} bytes`, { headers: { Connection: "close" } });
}

/** The whole body, or an AppError once it passes maxBytes or timeoutMs. A read left pending then is abandoned, not awaited. */
async function readWithin(body: ReadableStream<Uint8Array>, opts: BodyOptions): Promise<Uint8Array> {
  const reader = body.getReader();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), opts.timeoutMs);
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const read = reader.read();
      const next = await Promise.race([read, timedOut]);
      if (next === "timeout") {
        read.catch(() => undefined);
        throw new AppError("REQUEST_TIMEOUT", `the request body did not arrive within ${opts.timeoutMs} ms; send it whole, promptly`, {
          headers: { Connection: "close" },
        });
      }
      if (next.done) break;
      size += next.value.byteLength;
      if (size > opts.maxBytes) throw tooLarge(opts.maxBytes);
      chunks.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
