/** GET /llm/providers and /llm/providers/models: what the operator enabled. Never secrets. */
import { createRoute, z } from "@hono/zod-openapi";
import { envelopeSchema, ok } from "../http/envelope.js";
import { bearerSecurity, errorResponses } from "../http/openapi-helpers.js";
import { createRouter } from "../http/router.js";
import type { LlmRuntime } from "../runtime/llm/llm.types.js";

const MODEL_EXAMPLE = {
  provider: "local",
  model: "echo",
  name: "Echo (built-in, deterministic)",
  api: "local-echo",
  context_window: null,
  max_tokens: null,
  cost: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
  tools: true,
};
const PROVIDER_EXAMPLE = { name: "local", api: "local-echo", base_url: null, key_configured: false, models: [MODEL_EXAMPLE] };

const ModelInfo = z
  .object({
    provider: z.string(),
    model: z.string(),
    name: z.string(),
    api: z.string(),
    context_window: z.number().nullable(),
    max_tokens: z.number().nullable(),
    cost: z.object({ input: z.number(), output: z.number(), cache_read: z.number(), cache_write: z.number() }).openapi({ description: "USD per million tokens." }),
    tools: z.boolean(),
  })
  .openapi("ModelInfo", { example: MODEL_EXAMPLE });

const ProviderInfo = z
  .object({ name: z.string(), api: z.string(), base_url: z.string().nullable(), key_configured: z.boolean(), models: z.array(ModelInfo) })
  .openapi("ProviderInfo", { example: PROVIDER_EXAMPLE });

export function providerRoutes(runtime: LlmRuntime) {
  const app = createRouter();
  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/providers",
      operationId: "listProviders",
      tags: ["providers"],
      summary: "List enabled providers",
      description: "Each provider the operator configured, plus the built-in `local` provider with its `echo` model, each with its models. Keys are never shown, only whether one is configured.",
      security: bearerSecurity,
      responses: { 200: { description: "Providers.", content: { "application/json": { schema: envelopeSchema(z.array(ProviderInfo)), example: ok([PROVIDER_EXAMPLE]) } } }, ...errorResponses([]) },
    }),
    (c) => c.json(ok(runtime.listProviders()), 200),
  );
  app.openapi(
    createRoute({
      method: "get",
      path: "/llm/providers/models",
      operationId: "listModels",
      tags: ["providers"],
      summary: "List enabled models",
      description: "Flat list of `{provider, model, ...}`; an actor's `provider`/`model` must be one of these, else renting is 400 UNKNOWN_MODEL.",
      security: bearerSecurity,
      responses: { 200: { description: "Models.", content: { "application/json": { schema: envelopeSchema(z.array(ModelInfo)), example: ok([MODEL_EXAMPLE]) } } }, ...errorResponses([]) },
    }),
    (c) => c.json(ok(runtime.listModels()), 200),
  );
  return app;
}
