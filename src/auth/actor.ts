/**
 * Who a service verb acts for. A `user` is a caller with a verified token;
 * `system` is the service itself (recovery, a sweep, the factory supervisor),
 * which calls the same verbs instead of faking a token. Every service verb
 * checks the access it needs as its first line (`authorize`), so the HTTP
 * middleware is a fast pre-check, not the only guard.
 */
import { AppError } from "../errors.js";
import { accessAllows, type Access, type Principal } from "./principal.js";

export type Actor = { readonly kind: "user"; readonly principal: Principal } | { readonly kind: "system"; readonly reason: string };

export function userActor(principal: Principal): Actor {
  return { kind: "user", principal };
}

/** The service acting on its own behalf; `reason` says why (it is logged and recorded as the author). */
export function systemActor(reason: string): Actor {
  return { kind: "system", reason };
}

/**
 * Refuses a user whose token is below `need` or names another tenant than
 * the file the verb was handed (403 FORBIDDEN). The system actor is always
 * allowed: it only ever runs the service's own rules.
 */
export function authorize(actor: Actor, tenant: string, need: Access): void {
  if (actor.kind === "system") return;
  const p = actor.principal;
  if (p.tenant !== tenant) throw new AppError("FORBIDDEN", "this token belongs to another tenant");
  if (!accessAllows(p.access, need)) {
    throw new AppError("FORBIDDEN", `this route needs a token with access ${need} or higher; this one has ${p.access}`, {
      details: { required_access: need, token_access: p.access },
    });
  }
}

/** The id recorded as a row's author: the token's subject, or `system:<reason>`. */
export function actorId(actor: Actor): string {
  return actor.kind === "user" ? actor.principal.sub : `system:${actor.reason}`;
}
