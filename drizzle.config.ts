import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes SQL migrations for the per-tenant schema into
// migrations/; the service applies them to each tenant file on first use.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/schema.ts",
  out: "./migrations",
});
