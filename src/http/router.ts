/**
 * The one router factory: every feature's routes are built on it, so every
 * route validates with the same hook and answers a failed validation with
 * 400 VALIDATION_FAILED listing each issue with its path.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { AppError } from "../errors.js";
import type { AppEnv } from "./context.js";

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    strict: false,
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message, code: i.code }));
        const where = result.target === "json" ? "body" : result.target;
        const first = issues[0];
        // "invalid body: purpose: ...", not "invalid body: body.purpose: ..." (the place is named once).
        const summary = first ? `${first.path === "(root)" ? "" : `${first.path}: `}${first.message}` : "not valid";
        throw new AppError("VALIDATION_FAILED", `invalid ${where}: ${summary}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`, {
          details: issues,
        });
      }
    },
  });
}

export type Router = ReturnType<typeof createRouter>;
