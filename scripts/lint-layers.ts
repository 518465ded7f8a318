/**
 * The layering rule, enforced: routes → services → stores.
 *  - *.routes.ts and src/http/** never import drizzle, better-sqlite3, a store or src/storage.
 *  - services, stores, lifecycle, runtime, events, storage, auth never import hono.
 *  - stores never import a service, routes or runtime.
 *  - only src/main.ts reads process.env or installs signal handlers.
 * Exits 1 listing each violation with file and line.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const src = path.join(root, "src");

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : [];
  });
}

interface Rule {
  applies: (rel: string) => boolean;
  forbids: (spec: string, resolved: string, typeOnly: boolean) => boolean;
  why: string;
}

const isRoutes = (rel: string) => rel.endsWith(".routes.ts") || rel.startsWith("http/") || rel === "app.ts";
const isStore = (rel: string) => rel.endsWith(".store.ts");
// Wire schemas (*.schemas.ts) use @hono/zod-openapi's zod: they are shared by routes (validation, OpenAPI) and services (types).
const honoFree = (rel: string) =>
  !isRoutes(rel) && !rel.endsWith(".schemas.ts") && !rel.startsWith("meta/") && !rel.startsWith("sse/") && rel !== "main.ts" && rel !== "server.ts" && !rel.startsWith("docs/");

const rules: Rule[] = [
  {
    applies: isRoutes,
    forbids: (spec, resolved) => /^(drizzle-orm|better-sqlite3)/.test(spec) || resolved.endsWith(".store.ts") || resolved.includes("/storage/schema"),
    why: "routes talk to services, never to drizzle, SQLite or a store",
  },
  {
    applies: honoFree,
    forbids: (spec, _resolved, typeOnly) => !typeOnly && /^(hono|@hono\/)/.test(spec),
    why: "services, stores and the runtime never import hono",
  },
  {
    applies: isStore,
    forbids: (_spec, resolved) => resolved.endsWith(".service.ts") || resolved.endsWith(".routes.ts") || resolved.includes("/runtime/"),
    why: "stores are the bottom layer",
  },
];

const violations: string[] = [];
for (const file of walk(src)) {
  const rel = path.relative(src, file).split(path.sep).join("/");
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const m = /^\s*(?:import|export)\s[^"']*?from\s+["']([^"']+)["']/.exec(line) ?? /^\s*import\s+["']([^"']+)["']/.exec(line);
    if (m) {
      const spec = m[1]!;
      const resolved = spec.startsWith(".") ? path.resolve(path.dirname(file), spec).replace(/\.js$/, ".ts") : spec;
      const typeOnly = /^\s*(?:import|export)\s+type\s/.test(line);
      for (const r of rules) if (r.applies(rel) && r.forbids(spec, resolved, typeOnly)) violations.push(`src/${rel}:${i + 1}: imports ${spec}: ${r.why}`);
    }
    if (rel !== "main.ts" && /process\.env\b/.test(line) && !line.trim().startsWith("//") && !line.trim().startsWith("*")) {
      violations.push(`src/${rel}:${i + 1}: reads process.env: only src/main.ts reads the environment`);
    }
    if (rel !== "main.ts" && /process\.on\(\s*["']SIG/.test(line)) violations.push(`src/${rel}:${i + 1}: installs a signal handler: only src/main.ts does`);
  });
}

if (violations.length > 0) {
  process.stderr.write(`layering violations:\n${violations.join("\n")}\n`);
  process.exit(1);
}
process.stdout.write(`layers ok (${walk(src).length} files)\n`);
