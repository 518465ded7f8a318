/**
 * The composition root: reads the environment, opens storage, recovers,
 * listens, and turns SIGTERM/SIGINT into a graceful drain. Nothing else in
 * the codebase reads process.env or installs signal handlers.
 */
import { serve } from "@hono/node-server";
import { ConfigError, loadConfig } from "./config.js";
import { createServer } from "./server.js";
import { DataDirLockedError } from "./storage/service-db.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`roomservice: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let server;
  try {
    server = await createServer(config, { secretsEnv: process.env });
  } catch (err) {
    if (err instanceof DataDirLockedError) {
      process.stderr.write(`roomservice: ${err.message}\n`);
      process.exit(3);
    }
    throw err;
  }
  const { log } = server;
  const http = serve({ fetch: server.app.fetch, hostname: config.host, port: config.port }, (info) => {
    server.readiness.listening();
    log.info({ url: `http://${info.address.includes(":") ? `[${info.address}]` : info.address}:${info.port}`, data_dir: config.dataDir }, "listening");
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, grace_ms: config.lifecycle.shutdownGraceMs }, "shutting down: draining turns");
    void server
      .shutdown(config.lifecycle.shutdownGraceMs)
      .then(
        () =>
          new Promise<void>((resolve) => {
            http.close(() => resolve());
            // Followers' SSE streams never end on their own; cut them so close() can finish.
            (http as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      )
      .then(() => {
        log.info("stopped");
        process.exit(0);
      })
      .catch((err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      });
    // Open SSE streams would hold http.close() forever; they end with the process.
    setTimeout(() => process.exit(0), config.lifecycle.shutdownGraceMs + 5000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

void main().catch((err) => {
  process.stderr.write(`roomservice: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
