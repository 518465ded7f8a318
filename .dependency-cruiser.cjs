/**
 * The layering rules of STYLE.md, enforced by dependency-cruiser on the
 * resolved import graph of src/ (`npm run lint`): routes → services →
 * stores, with the event log and storage below every feature. Every import
 * counts however it is written (multi-line, `export … from`, `import type`),
 * except where a rule says type-only imports are allowed.
 * scripts/lint-env.ts checks the two rules that are not about imports.
 */
/** Files that are HTTP-facing: they may use hono. Everything else is hono-free. */
const HTTP_FACING = ["\\.routes\\.ts$", "^src/http/", "^src/app\\.ts$", "\\.schemas\\.ts$", "^src/meta/", "^src/sse/", "^src/docs/", "^src/main\\.ts$", "^src/server\\.ts$"];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "routes-not-to-data",
      comment: "routes talk to services, never to drizzle, SQLite, a store or the schema",
      severity: "error",
      from: { path: ["\\.routes\\.ts$", "^src/http/", "^src/app\\.ts$"] },
      to: { path: ["(^|/)node_modules/(drizzle-orm|better-sqlite3)/", "\\.store\\.ts$", "^src/storage/schema\\.ts$"] },
    },
    {
      name: "no-hono-below-routes",
      comment: "services, stores, the runtime, the event log and storage never import hono (wire schemas use @hono/zod-openapi's zod and may)",
      severity: "error",
      from: { path: "^src/", pathNot: HTTP_FACING },
      to: { path: "(^|/)node_modules/(hono|@hono/)", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "stores-are-the-bottom",
      comment: "stores never import a service, routes or the runtime",
      severity: "error",
      from: { path: "\\.store\\.ts$" },
      to: { path: ["\\.service\\.ts$", "\\.routes\\.ts$", "^src/runtime/"] },
    },
    {
      name: "schema-only-in-stores",
      comment: "only stores and src/storage import the tables: a table's rows are written by its store, which owns any cache of them (storage/repository.ts)",
      severity: "error",
      from: { path: "^src/", pathNot: ["\\.store\\.ts$", "^src/storage/"] },
      to: { path: "^src/storage/schema\\.ts$" },
    },
    {
      name: "storage-below-everything",
      comment: "src/storage knows no feature: it opens files, migrates them and holds statements",
      severity: "error",
      from: { path: "^src/storage/" },
      to: { path: "^src/", pathNot: "^src/storage/" },
    },
    {
      name: "event-log-knows-no-feature",
      comment: "src/events is the log of every stream kind: kinds register themselves, the log never imports a feature (a room's tables, its lifecycle, its routes)",
      severity: "error",
      from: { path: "^src/events/" },
      to: { path: "^src/", pathNot: ["^src/events/", "^src/storage/", "^src/sse/sse\\.types\\.ts$"] },
    },
    {
      name: "environment-only-in-main",
      comment: "only src/main.ts reads the environment and handles signals; importing node:process elsewhere would get round scripts/lint-env.ts",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/main\\.ts$" },
      to: { dependencyTypes: ["core"], path: "^(node:)?process$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports are part of the graph (they are still a layer reaching for another).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};
