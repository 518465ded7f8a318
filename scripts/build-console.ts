/**
 * Builds the browser console (console/, Preact + Vite) into dist/console,
 * which src/console/console.routes.ts serves at /console. `npm run build`
 * (and so `npm start`) runs it after tsc; it skips the work when the output
 * is newer than every source file, like tsc's incremental build.
 *
 *   node dist/scripts/build-console.js [--force]   (or: npx tsx scripts/build-console.ts)
 *
 * The e2e tests call buildConsole() with a temp folder, so they always test
 * what the sources build to now.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, found from this file (scripts/ under tsx, dist/scripts/ when compiled). */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "console", "index.html"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("cannot find the console sources (console/index.html) above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

export const CONSOLE_SOURCE = path.join(repoRoot(), "console");
export const CONSOLE_OUT = path.join(repoRoot(), "dist", "console");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** True when outDir holds a build at least as new as every console source and the lock file. */
export function consoleIsFresh(outDir = CONSOLE_OUT): boolean {
  const index = path.join(outDir, "index.html");
  if (!existsSync(index)) return false;
  const sources = Math.max(newestMtime(CONSOLE_SOURCE), statSync(path.join(repoRoot(), "package-lock.json")).mtimeMs);
  return statSync(index).mtimeMs >= sources;
}

/** Builds the console into outDir (emptied first). Vite is imported here only: it is a build-time dependency. */
export async function buildConsole(outDir = CONSOLE_OUT): Promise<void> {
  const { build } = await import("vite");
  await build({
    configFile: false,
    root: CONSOLE_SOURCE,
    base: "/console/",
    logLevel: "warn",
    clearScreen: false,
    publicDir: path.join(CONSOLE_SOURCE, "public"),
    oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
    build: {
      outDir,
      emptyOutDir: true,
      target: "es2022",
      sourcemap: false,
      // Everything the page needs is served by this app; nothing is inlined as data: URLs into scripts.
      assetsInlineLimit: 0,
      modulePreload: { polyfill: false },
      reportCompressedSize: false,
    },
  });
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]).replace(/\.ts$/, ".js") === fileURLToPath(import.meta.url).replace(/\.ts$/, ".js");
if (isMain) {
  const force = process.argv.includes("--force");
  if (!force && consoleIsFresh()) process.exit(0);
  buildConsole().catch((err: unknown) => {
    process.stderr.write(`console build failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
