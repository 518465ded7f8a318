/** Wire schemas of GET /llm/room/:id/usage and GET /llm/usage. */
import { z } from "@hono/zod-openapi";
import { Budget } from "../room/room.schemas.js";

const ROOM_ID = "0b6f3c1e-4d0a-4a57-9a57-0e3b5f7c2d11";

const usageFields = {
  input: z.number().int().openapi({ description: "Input tokens, as the provider counted them." }),
  output: z.number().int().openapi({ description: "Output tokens." }),
  totalTokens: z.number().int().openapi({ description: "Input + output (what `budget.max_tokens` counts)." }),
  cost: z.object({ total: z.number().openapi({ description: "US dollars at the model catalogue's prices; `local/echo` is free." }) }),
};

const countFields = {
  turns: z.number().int().openapi({ description: "Turns that ended (whatever their status)." }),
  summaries: z.number().int().openapi({ description: "Summaries written by a model (the `local/echo` digest calls no model and is not counted)." }),
};

export const UsageLine = z.object({ ...usageFields, ...countFields }).openapi("UsageLine");

const LINE = { input: 26, output: 18, totalTokens: 44, cost: { total: 0.00021 }, turns: 2, summaries: 0 };
export const ROOM_USAGE_EXAMPLE = {
  room_id: ROOM_ID,
  totals: { input: 39, output: 27, totalTokens: 66, cost: { total: 0.00021 }, turns: 3, summaries: 0 },
  by_actor: [
    { agent_id: "planner", ...LINE },
    { agent_id: "critic", input: 13, output: 9, totalTokens: 22, cost: { total: 0 }, turns: 1, summaries: 0 },
  ],
  by_model: [
    { provider: "openrouter", model: "openai/gpt-4o-mini", ...LINE },
    { provider: "local", model: "echo", input: 13, output: 9, totalTokens: 22, cost: { total: 0 }, turns: 1, summaries: 0 },
  ],
  budget: { max_tokens: 20000, max_cost_usd: null },
  budget_exceeded: null,
};

export const RoomUsage = z
  .object({
    room_id: z.string(),
    totals: UsageLine.openapi({ description: "Everything the room used; its tokens and cost equal the room record's `usage`." }),
    by_actor: z.array(z.object({ agent_id: z.string(), ...usageFields, ...countFields })).openapi({ description: "Per actor (`agent_id`), in the order each first used a model; sums to `totals`. An actor removed from the roster keeps its line." }),
    by_model: z
      .array(
        z.object({
          provider: z.string().nullable().openapi({ description: "Null only for turns that ended before this server kept usage per call, by an actor no longer in the roster." }),
          model: z.string().nullable(),
          ...usageFields,
          ...countFields,
        }),
      )
      .openapi({ description: "Per provider and model, in the order each was first used; sums to `totals`." }),
    budget: Budget.nullable(),
    budget_exceeded: z.enum(["max_tokens", "max_cost_usd"]).nullable(),
  })
  .openapi("RoomUsage", { example: ROOM_USAGE_EXAMPLE });

const MODEL_DAY = z.object({
  provider: z.string().nullable().openapi({ description: "Null for tokens counted before this server kept usage per model (older versions)." }),
  model: z.string().nullable(),
  ...usageFields,
});

export const TENANT_USAGE_EXAMPLE = {
  from: "2026-01-04",
  to: "2026-01-05",
  totals: { input: 52, output: 36, totalTokens: 88, cost: { total: 0.00021 } },
  days: [
    {
      day: "2026-01-05",
      input: 52,
      output: 36,
      totalTokens: 88,
      cost: { total: 0.00021 },
      by_model: [
        { provider: "local", model: "echo", input: 26, output: 18, totalTokens: 44, cost: { total: 0 } },
        { provider: "openrouter", model: "openai/gpt-4o-mini", input: 26, output: 18, totalTokens: 44, cost: { total: 0.00021 } },
      ],
    },
  ],
};

export const TenantUsage = z
  .object({
    from: z.string(),
    to: z.string(),
    totals: z.object(usageFields),
    days: z
      .array(z.object({ day: z.string().openapi({ description: "UTC day, `YYYY-MM-DD`." }), ...usageFields, by_model: z.array(MODEL_DAY) }))
      .openapi({ description: "Days with any usage, ascending; days without usage are left out." }),
  })
  .openapi("TenantUsage", { example: TENANT_USAGE_EXAMPLE });

/** Longest range GET /llm/usage answers, in days. */
export const MAX_USAGE_DAYS = 366;

const isoDay = (what: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, `${what} must be a UTC day as YYYY-MM-DD, e.g. 2026-01-05`)
    .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00.000Z`)) && new Date(`${s}T00:00:00.000Z`).toISOString().startsWith(s), `${what} is not a calendar day`)
    .optional();

export const TenantUsageQuery = z.object({
  from: isoDay("from").openapi({ description: "First UTC day, `YYYY-MM-DD` (inclusive). Default: 29 days before `to`.", example: "2026-01-01" }),
  to: isoDay("to").openapi({ description: `Last UTC day, \`YYYY-MM-DD\` (inclusive). Default: today (UTC). At most ${MAX_USAGE_DAYS} days after \`from\`.`, example: "2026-01-31" }),
});
