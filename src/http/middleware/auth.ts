/**
 * Bearer authentication and tenancy: the verified token names the tenant, and
 * the request receives that tenant's database handle and nothing else, held
 * open until the request has finished.
 * `read` tokens may only GET/HEAD; other levels are checked per route.
 */
import type { MiddlewareHandler } from "hono";
import { accessAllows, type Access } from "../../auth/principal.js";
import type { TokenVerifier } from "../../auth/tokens.js";
import { AppError } from "../../errors.js";
import type { TenantDatabases } from "../../storage/tenant-db.js";
import type { AppEnv } from "../context.js";

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

export function authenticate(verify: TokenVerifier, tenants: TenantDatabases): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) throw new AppError("AUTH_REQUIRED", "send Authorization: Bearer <token>; get one with `npm run token -- --tenant <name>`");
    const m = BEARER.exec(header);
    if (!m) throw new AppError("AUTH_INVALID", "Authorization must be `Bearer <token>`");
    if (m[1]!.length > 8192) throw new AppError("AUTH_INVALID", "token is too long");
    const principal = await verify(m[1]!);
    c.set("principal", principal);
    const method = c.req.method;
    if (principal.access === "read" && method !== "GET" && method !== "HEAD") {
      throw new AppError("FORBIDDEN", "this token has read access; a token with access edit or higher is needed to change anything");
    }
    // The request holds its tenant's file until it has finished (body read, writes done), so the idle closer
    // cannot close it under the request; a streamed response holds it on its own (RoomService.openEventStream).
    const lease = tenants.lease(principal.tenant);
    c.set("tenantDb", lease.handle);
    try {
      await next();
    } finally {
      lease.release();
    }
  };
}

/** Route guard for verbs that need more than `edit`. */
export function requireAccess(need: Access): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const principal = c.get("principal");
    if (!accessAllows(principal.access, need)) {
      throw new AppError("FORBIDDEN", `this verb needs a token with access ${need} or higher (this one has ${principal.access})`);
    }
    await next();
  };
}
