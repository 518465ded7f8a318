/**
 * Bearer authentication and tenancy: the verified token names the tenant, and
 * the request receives that tenant's database handle and nothing else, held
 * open until the request has finished.
 * `read` tokens may only GET/HEAD (writes need `edit`); a route that needs
 * more says so with `requireAccess`/`requireOperator`, whose refusal names it.
 */
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { accessAllows, type Access } from "../../auth/principal.js";
import { MINT_HINT, type TokenVerifier } from "../../auth/tokens.js";
import { AppError } from "../../errors.js";
import type { TenantDatabases } from "../../storage/tenant-db.js";
import type { AppEnv } from "../context.js";

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

/** The route guards made here; a write by a `read` token on a route without one is refused by `authenticate` itself. */
const guards = new WeakSet<MiddlewareHandler<AppEnv>>();

export function authenticate(verify: TokenVerifier, tenants: TenantDatabases): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) throw new AppError("AUTH_REQUIRED", `send Authorization: Bearer <token>; get a token with ${MINT_HINT}`);
    const m = BEARER.exec(header);
    if (!m) throw new AppError("AUTH_INVALID", "Authorization must be `Bearer <token>`");
    if (m[1]!.length > 8192) throw new AppError("AUTH_INVALID", "token is too long");
    const principal = await verify(m[1]!);
    c.set("principal", principal);
    const method = c.req.method;
    // A read token may only read. Writes need edit unless the route's own guard (requireAccess, requireOperator)
    // names more; that guard then answers, so the refusal names what the route needs (only read tokens writing
    // pay for the lookup).
    if (principal.access === "read" && method !== "GET" && method !== "HEAD" && !matchedRoutes(c).some((r) => guards.has(r.handler as MiddlewareHandler<AppEnv>))) {
      throw new AppError("FORBIDDEN", "this route needs a token with access edit or higher; this one has read, which may only GET", {
        details: { required_access: "edit", token_access: "read" },
      });
    }
    // The request holds its tenant's file until it has finished (body read, writes done), so the idle closer
    // cannot close it under the request; a streamed response holds it on its own (RoomService.openEventStream).
    const tdb = tenants.acquire(principal.tenant);
    c.set("tenantDb", tdb);
    try {
      await next();
    } finally {
      tenants.release(tdb);
    }
  };
}

/** Route guard: the verb needs access `need` or higher (only worth adding above `edit`, which every write needs). */
export function requireAccess(need: Access): MiddlewareHandler<AppEnv> {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
    const principal = c.get("principal");
    if (!accessAllows(principal.access, need)) {
      throw new AppError("FORBIDDEN", `this route needs a token with access ${need} or higher; this one has ${principal.access}`, {
        details: { required_access: need, token_access: principal.access },
      });
    }
    await next();
  };
  guards.add(guard);
  return guard;
}

/** Route guard of the operator routes: an operator token, whatever its access level (a tenant's `root` is not one). */
export function requireOperator(): MiddlewareHandler<AppEnv> {
  const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!c.get("principal").operator) {
      throw new AppError(
        "FORBIDDEN",
        "this route needs an operator token, which tenant tokens (even access root) are not; the operator mints one with `npm run -s token -- --operator` (run in the repository, with DATA_DIR set as the server has it)",
        { details: { required_access: "operator" } },
      );
    }
    await next();
  };
  guards.add(guard);
  return guard;
}
