/**
 * Per-tenant request rate: a token bucket per tenant, refilled continuously.
 * One tenant flooding spends only its own bucket, so another tenant's
 * requests are untouched. Over the limit: 429 RATE_LIMITED with Retry-After.
 */
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../errors.js";
import type { AppEnv } from "../context.js";

interface Bucket {
  tokens: number;
  at: number;
}

export function rateLimit(opts: { rps: number; burst: number; now?: () => number; maxTracked?: number }): MiddlewareHandler<AppEnv> {
  const now = opts.now ?? Date.now;
  const buckets = new Map<string, Bucket>();
  const maxTracked = opts.maxTracked ?? 100_000;
  return async (c, next) => {
    if (opts.rps <= 0) return next();
    const tenant = c.get("principal").tenant;
    const t = now();
    let b = buckets.get(tenant);
    if (!b) {
      if (buckets.size >= maxTracked) {
        // Forget the oldest bucket: a full bucket is the same as none.
        buckets.delete(buckets.keys().next().value as string);
      }
      b = { tokens: opts.burst, at: t };
      buckets.set(tenant, b);
    }
    b.tokens = Math.min(opts.burst, b.tokens + ((t - b.at) / 1000) * opts.rps);
    b.at = t;
    if (b.tokens < 1) {
      const waitS = (1 - b.tokens) / opts.rps;
      throw new AppError("RATE_LIMITED", `this tenant is over ${opts.rps} requests per second; slow down and retry after Retry-After`, { retryAfterS: waitS });
    }
    b.tokens -= 1;
    await next();
  };
}
