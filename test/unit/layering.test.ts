/**
 * `npm run lint` enforces the layering with dependency-cruiser
 * (.dependency-cruiser.cjs) and the composition-root rules with
 * scripts/lint-env.ts. Each is run here, as lint runs it, on a small project
 * written to a temp dir: deliberately wrong imports (multi-line ones
 * included, which the old line-by-line check let through) must fail it,
 * naming the rule and the file, and the same project without them must pass.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/process.js";

/** Each case spawns a tool that loads TypeScript: seconds on a busy 2-core machine. */
const SLOW = 90_000;
const work = mkdtempSync(path.join(tmpdir(), "roomservice-layers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A project dir with `files` under it, resolving packages from this repo's node_modules. */
function project(name: string, files: Record<string, string>): string {
  const dir = path.join(work, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
  writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", strict: true } }));
  return dir;
}

interface Violation {
  rule: string;
  from: string;
  to: string;
}

/** Runs dependency-cruiser with the repo's config and its default report, as `npm run lint:layers` does. */
function cruise(dir: string): { code: number | null; violations: Violation[]; output: string } {
  const bin = path.join(ROOT, "node_modules", "dependency-cruiser", "bin", "dependency-cruise.mjs");
  const r = spawnSync(process.execPath, [bin, "src", "--config", path.join(ROOT, ".dependency-cruiser.cjs")], { cwd: dir, encoding: "utf8" });
  const output = `${r.stdout}${r.stderr}`;
  const violations = [...output.matchAll(/^\s*error (\S+): (\S+) → (\S+)$/gm)]
    .map(([, rule, from, to]) => ({ rule: rule!, from: from!, to: to!.replace(/^.*node_modules\//, "node_modules/") }))
    .sort((a, b) => `${a.rule} ${a.from} ${a.to}`.localeCompare(`${b.rule} ${b.from} ${b.to}`));
  return { code: r.status, violations, output };
}

/** A small project in this service's layout; `wrong` adds the bad imports. */
function layout(wrong: boolean): Record<string, string> {
  return {
    "src/storage/schema.ts": "export const rooms = { name: 'rooms' };\n",
    "src/room/room.store.ts": 'import { rooms } from "../storage/schema.js";\nexport const findRoom = () => rooms;\n',
    "src/room/room.service.ts": wrong
      ? // a service importing hono's runtime, in a multi-line import (a type-only one is allowed)
        'import type { Context } from "hono";\nimport {\n  Hono,\n} from "hono";\nimport { findRoom } from "./room.store.js";\nexport const app = new Hono();\nexport type C = Context;\nexport const get = () => findRoom();\n'
      : 'import type { Context } from "hono";\nimport { findRoom } from "./room.store.js";\nexport type C = Context;\nexport const get = () => findRoom();\n',
    "src/room/room.routes.ts": wrong
      ? // a route reaching past its service, to a store and to drizzle, both through multi-line imports
        'import {\n  findRoom,\n} from "./room.store.js";\nimport {\n  eq,\n} from "drizzle-orm";\nimport { get } from "./room.service.js";\nexport const routes = [findRoom, eq, get];\n'
      : 'import { get } from "./room.service.js";\nexport const routes = [get];\n',
    "src/events/event.log.ts": wrong
      ? // the generic log reading a room's table
        'export {\n  findRoom,\n} from "../room/room.store.js";\n'
      : 'export const log = [];\n',
    "src/runtime/worker.ts": wrong ? 'import { env } from "node:process";\nexport const level = env["LOG_LEVEL"];\n' : "export const level = 'info';\n",
    "src/main.ts": 'import { env } from "node:process";\nexport const level = env["LOG_LEVEL"];\n',
  };
}

describe("the layering check (dependency-cruiser)", () => {
  it("rejects wrong imports however they are written, naming the rule and the file", () => {
    const r = cruise(project("wrong", layout(true)));
    expect(r.code, r.output).toBe(5);
    expect(r.violations).toEqual([
      { rule: "environment-only-in-main", from: "src/runtime/worker.ts", to: "process" },
      { rule: "event-log-knows-no-feature", from: "src/events/event.log.ts", to: "src/room/room.store.ts" },
      { rule: "no-hono-below-routes", from: "src/room/room.service.ts", to: expect.stringMatching(/^node_modules\/hono\//) },
      { rule: "routes-not-to-data", from: "src/room/room.routes.ts", to: expect.stringMatching(/^node_modules\/drizzle-orm\//) },
      { rule: "routes-not-to-data", from: "src/room/room.routes.ts", to: "src/room/room.store.ts" },
    ]);
  }, SLOW);

  it("passes the same project without them", () => {
    const r = cruise(project("right", layout(false)));
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain("no dependency violations found");
  }, SLOW);
});

describe("the composition-root check (scripts/lint-env.ts)", () => {
  const run = (dir: string) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts", "lint-env.ts"), path.join(dir, "src")], { cwd: ROOT, encoding: "utf8" });

  it("rejects reading process.env or handling a signal outside src/main.ts, across lines and brackets", () => {
    const dir = project("env-wrong", {
      "src/main.ts": 'process.on("SIGTERM", () => undefined);\nexport const port = process.env["PORT"];\n',
      "src/config.ts": 'export const port = process\n  .env.PORT;\nexport const host = process["env"]["HOST"];\n// process.env in a comment is not a read\nexport const s = "process.env";\n',
      "src/runtime/drain.ts": 'export function drain(): void {\n  process.once(\n    "SIGINT",\n    () => undefined,\n  );\n  process.on("exit", () => undefined);\n}\n',
    });
    const r = run(dir);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n").slice(1).sort()).toEqual([
      "src/config.ts:1: reads process.env: only src/main.ts reads the environment",
      "src/config.ts:3: reads process.env: only src/main.ts reads the environment",
      "src/runtime/drain.ts:2: installs a signal handler: only src/main.ts does",
    ]);
  }, SLOW);

  it("passes when only src/main.ts does", () => {
    const r = run(project("env-right", { "src/main.ts": 'process.on("SIGTERM", () => undefined);\nexport const port = process.env["PORT"];\n', "src/config.ts": "export const port = 8787;\n" }));
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("environment and signals ok (2 files)");
  }, SLOW);
});
