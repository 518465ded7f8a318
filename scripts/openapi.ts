/**
 * npm run openapi [-- --check]
 *
 * Builds the real app on a throwaway DATA_DIR and writes what it serves at
 * GET /openapi.json and GET /llms.txt to openapi/openapi.json and llms.txt,
 * and the configuration table of README.md from the config schema.
 * With --check it writes nothing and exits 1 if a committed file differs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { loadConfig } from "../src/config.js";
import { ARTIFACT_PATHS, renderArtifacts } from "../src/docs/docs.artifacts.js";
import { withConfigTable } from "../src/docs/docs.config.js";
import { createServer } from "../src/server.js";
import { packageRoot } from "../src/storage/paths.js";

async function run(): Promise<number> {
  const { values } = parseArgs({ options: { check: { type: "boolean", default: false } }, strict: true });
  const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-openapi-"));
  try {
    const server = await createServer(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent" }), { log: pino({ level: "silent" }) });
    try {
      const root = packageRoot();
      const files: Record<string, string> = { ...(await renderArtifacts(server.app)), "README.md": withConfigTable(readFileSync(path.join(root, "README.md"), "utf8")) };
      let stale = 0;
      for (const rel of [...ARTIFACT_PATHS, "README.md"]) {
        const file = path.join(root, rel);
        let current: string | null = null;
        try {
          current = readFileSync(file, "utf8");
        } catch {
          current = null;
        }
        if (current === files[rel]) {
          process.stdout.write(`${rel}: up to date\n`);
        } else if (values.check) {
          stale++;
          process.stderr.write(`${rel}: differs from the code; run \`npm run openapi\` and commit the result\n`);
        } else {
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, files[rel]!);
          process.stdout.write(`${rel}: written\n`);
        }
      }
      return stale > 0 ? 1 : 0;
    } finally {
      await server.shutdown(1000);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

run().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`openapi: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
