/**
 * The console's one HTTP client: same origin, the pasted token as a Bearer
 * header, the contract's envelope unwrapped. A 401 signs the user out (the
 * token is expired or revoked); every other failure is an ApiError carrying
 * the server's code and message, which the views show as they are.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface Ok<T> {
  data: T;
  meta: Record<string, unknown> | undefined;
}

export interface ApiOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  query?: Record<string, string | number | undefined | null>;
}

export interface Api {
  get<T>(path: string, opts?: ApiOptions): Promise<Ok<T>>;
  post<T>(path: string, body?: unknown, opts?: ApiOptions): Promise<Ok<T>>;
  patch<T>(path: string, body: unknown, opts?: ApiOptions): Promise<Ok<T>>;
  /** The Authorization header value, for the event streams (they read the body themselves). */
  authorization(): string;
  /** Called with the server's message when a call answers 401. */
  unauthorized(message: string): void;
}

function withQuery(path: string, query: ApiOptions["query"]): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
}

/** Reads an error answer: the envelope when there is one, else the status line. */
export async function errorFrom(res: Response): Promise<ApiError> {
  const retry = Number(res.headers.get("retry-after"));
  const retryAfterS = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (body && typeof body === "object" && "code" in body) {
    const b = body as { code: unknown; message?: unknown; error?: unknown; details?: unknown };
    return new ApiError(res.status, String(b.code), String(b.message ?? b.error ?? `HTTP ${res.status}`), b.details, retryAfterS);
  }
  return new ApiError(res.status, `HTTP_${res.status}`, `the server answered ${res.status} ${res.statusText}`.trim(), undefined, retryAfterS);
}

export function createApi(token: () => string, onUnauthorized: (message: string) => void): Api {
  const authorization = () => `Bearer ${token()}`;
  async function call<T>(method: string, path: string, body: unknown, opts: ApiOptions = {}): Promise<Ok<T>> {
    const headers: Record<string, string> = { Accept: "application/json", Authorization: authorization(), ...opts.headers };
    const init: RequestInit = { method, headers, cache: "no-store" };
    if (opts.signal) init.signal = opts.signal;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(withQuery(path, opts.query), init);
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw new ApiError(0, "NETWORK", "the server cannot be reached; check that it is running, then try again");
    }
    if (!res.ok) {
      const err = await errorFrom(res);
      if (res.status === 401) onUnauthorized(err.message);
      throw err;
    }
    const json = (await res.json()) as { data: T; meta?: Record<string, unknown> };
    return { data: json.data, meta: json.meta };
  }
  return {
    get: (path, opts) => call("GET", path, undefined, opts),
    post: (path, body, opts) => call("POST", path, body ?? {}, opts),
    patch: (path, body, opts) => call("PATCH", path, body, opts),
    authorization,
    unauthorized: onUnauthorized,
  };
}

/** A fresh Idempotency-Key for one user action. */
export function idempotencyKey(): string {
  return `console-${crypto.randomUUID()}`;
}
