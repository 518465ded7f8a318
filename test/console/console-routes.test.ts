/**
 * /console is served by the app itself from the built folder: the page with
 * a strict Content-Security-Policy and no caching, hashed assets cached for
 * good, nothing outside the folder reachable, and a clear answer with the
 * command to run when the console was never built. No browser needed: the
 * folder here is written by the test, not by Vite.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createServer, type Server } from "../../src/server.js";

const INDEX = '<!doctype html><html><head><script type="module" src="/console/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>';

async function serverWith(consoleDir: string): Promise<{ server: Server; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-console-"));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent" });
  return { server: await createServer(config, { log: pino({ level: "silent" }), consoleDir }), dataDir };
}

describe("/console with a built console", () => {
  let dir: string;
  let s: { server: Server; dataDir: string };
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "roomservice-console-dist-"));
    mkdirSync(path.join(dir, "assets"));
    writeFileSync(path.join(dir, "index.html"), INDEX);
    writeFileSync(path.join(dir, "assets", "index-abc123.js"), "document.title='x';");
    writeFileSync(path.join(dir, "assets", "index-abc123.css"), "body{margin:0}");
    writeFileSync(path.join(dir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    // Next to the folder: must never be reachable through it.
    writeFileSync(path.join(path.dirname(dir), "console-secret.json"), "{}");
    s = await serverWith(dir);
  });
  afterAll(async () => {
    await s.server.shutdown(1000);
    rmSync(s.dataDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(["/console", "/console/"])("GET %s is the page, public, never cached, under a CSP that allows only this origin", async (url) => {
    const res = await s.server.app.request(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("serves hashed assets with their type, cached as immutable; root files without a long cache", async () => {
    const js = await s.server.app.request("/console/assets/index-abc123.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await js.text()).toBe("document.title='x';");
    const css = await s.server.app.request("/console/assets/index-abc123.css");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const icon = await s.server.app.request("/console/favicon.svg");
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toBe("image/svg+xml");
    expect(icon.headers.get("cache-control")).toBe("no-cache");
  });

  it("answers 404 in the envelope for anything that is not a plain file of the folder", async () => {
    for (const url of [
      "/console/assets/missing.js",
      "/console/assets/..%2F..%2Fconsole-secret.json",
      "/console/..%2Fconsole-secret.json",
      "/console/assets/.hidden.js",
      "/console/assets/index-abc123.exe",
      "/console/index.html",
      "/console/assets/sub/index-abc123.js",
    ]) {
      const res = await s.server.app.request(url);
      expect(res.status, url).toBe(404);
      const body = (await res.json()) as { success: boolean; code: string };
      expect(body, url).toMatchObject({ success: false, code: "NOT_FOUND" });
    }
  });
});

describe("/console when the console was never built", () => {
  let s: { server: Server; dataDir: string };
  beforeAll(async () => {
    s = await serverWith(path.join(tmpdir(), "roomservice-no-such-console-build"));
  });
  afterAll(async () => {
    await s.server.shutdown(1000);
    rmSync(s.dataDir, { recursive: true, force: true });
  });

  it("is a 404 NOT_FOUND whose message names the command that builds it", async () => {
    const res = await s.server.app.request("/console");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toBe("NOT_FOUND");
    expect(body.message).toContain("`npm run build`");
    expect(body.message).not.toContain(tmpdir());
  });
});
