/** What a request carries through the middleware chain. */
import type { Logger } from "pino";
import type { Principal } from "../auth/principal.js";
import type { TenantDb } from "../storage/tenant-db.js";

export interface AppEnv {
  Variables: {
    requestId: string;
    /** The service logger (not a per-request child): a line about the request names `req_id` itself. */
    log: Logger;
    principal: Principal;
    tenantDb: TenantDb;
  };
}
