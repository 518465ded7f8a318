/**
 * The composition root: reads the environment, listens, opens storage,
 * recovers, and turns SIGTERM/SIGINT into a graceful drain. Nothing else in
 * the codebase reads process.env or installs signal handlers.
 *
 * The port is bound first: a server that cannot listen (port in use, no
 * permission) must fail with one line naming PORT/HOST before it takes the
 * DATA_DIR lock or recovers anything. Requests that arrive while storage is
 * still opening wait for it.
 */
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createServer, type Server } from "./server.js";
import { DataDirLockedError } from "./storage/service-db.js";

type Fetch = (req: Request, env: unknown) => Response | Promise<Response>;

function fail(message: string, code: number): never {
  process.stderr.write(`roomservice: ${message}\n`);
  process.exit(code);
}

/** Why listening failed, in the words of the variables that decide it. */
function listenFailure(err: NodeJS.ErrnoException, config: Config): string {
  const where = `${config.host}:${config.port} (HOST=${config.host}, PORT=${config.port})`;
  switch (err.code) {
    case "EADDRINUSE":
      return `cannot listen on ${where}: the address is already in use by another process; stop it or set PORT to a free port`;
    case "EACCES":
      return `cannot listen on ${where}: permission denied; ports below 1024 need privileges, so set PORT to 1024 or above`;
    case "EADDRNOTAVAIL":
      return `cannot listen on ${where}: HOST is not an address of this machine; set HOST to one of its addresses (or 0.0.0.0)`;
    default:
      return `cannot listen on ${where}: ${err.code ?? err.message}; check HOST and PORT`;
  }
}

function listen(http: HttpServer, config: Config): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(config.port, config.host, () => {
      http.off("error", reject);
      resolve(http.address() as AddressInfo);
    });
  });
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }

  // Until the app exists, a request waits for it; then every request goes straight to it.
  let ready!: (app: Fetch) => void;
  const appReady = new Promise<Fetch>((resolve) => (ready = resolve));
  let fetch: Fetch = (req, env) => appReady.then((app) => app(req, env));
  // HTTP/1 (no createServer option): the node:http Server.
  const http = createAdaptorServer({ fetch: (req, env) => fetch(req, env), hostname: config.host }) as HttpServer;
  // Node's own backstop for a request that never completes (the app answers a slow body with 408 first).
  http.requestTimeout = config.bodyTimeoutMs + 10_000;

  let address: AddressInfo;
  try {
    address = await listen(http, config);
  } catch (err) {
    fail(listenFailure(err as NodeJS.ErrnoException, config), 4);
  }

  let server: Server;
  try {
    server = await createServer(config, { secretsEnv: process.env });
  } catch (err) {
    http.close();
    if (err instanceof DataDirLockedError) fail(err.message, 3);
    throw err;
  }
  const { log } = server;
  const app: Fetch = server.app.fetch;
  fetch = app;
  ready(app);
  log.info({ url: `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`, data_dir: config.dataDir }, "listening");

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
            // Followers were ended after their last stored event (server.shutdown); cut whatever is left.
            http.closeAllConnections();
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
    // A connection that never closes would hold http.close() forever; it ends with the process.
    setTimeout(() => process.exit(0), config.lifecycle.shutdownGraceMs + 5000).unref();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

void main().catch((err) => {
  process.stderr.write(`roomservice: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
