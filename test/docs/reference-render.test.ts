/**
 * /reference really renders in a browser: headless Chromium loads the page
 * from a real listening server (loopback only), runs Swagger UI from the
 * locally served assets, and the dumped DOM shows the operations of
 * /openapi.json. Runs only where /usr/bin/chromium exists (Debian:
 * `apt-get install chromium`); CI machines without it skip this file.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/harness.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);

function dumpDom(url: string): Promise<{ code: number | null; dom: string; stderr: string }> {
  const profile = mkdtempSync(path.join(tmpdir(), "roomservice-chromium-"));
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    `--user-data-dir=${profile}`,
    // Give the page's scripts time to fetch /openapi.json and render before the DOM is dumped.
    "--virtual-time-budget=15000",
    "--dump-dom",
    url,
  ];
  return new Promise((resolve) => {
    const child = spawn(CHROMIUM, args, { stdio: ["ignore", "pipe", "pipe"] });
    let dom = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (dom += b.toString("utf8")));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      rmSync(profile, { recursive: true, force: true });
      resolve({ code, dom, stderr });
    });
  });
}

describe.runIf(hasChromium)("/reference in headless Chromium", () => {
  let t: TestServer;
  let http: ServerType;
  let base = "";

  beforeAll(async () => {
    t = await startTestServer();
    await new Promise<void>((resolve) => {
      http = serve({ fetch: t.server.app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
        base = `http://127.0.0.1:${info.port}`;
        resolve();
      });
    });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await t.close();
  });

  it("renders every operation of /openapi.json from locally served assets", { timeout: 90_000 }, async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    const { code, dom, stderr } = await dumpDom(`${base}/reference`);
    expect(code, stderr.slice(-2000)).toBe(0);
    // Swagger UI replaced the placeholder with its rendered document.
    expect(dom).toContain('class="swagger-ui"');
    expect(dom).toContain("roomservice");
    const rendered = [...dom.matchAll(/class="opblock-summary-path"[^>]*data-path="([^"]+)"/g)].map((m) => m[1]);
    for (const [p, item] of Object.entries(doc.paths)) {
      expect(rendered, `path ${p} rendered`).toContain(p);
      for (const op of Object.values(item)) expect(dom, `operation ${op.operationId} rendered`).toContain(op.operationId);
    }
  });
});

it.skipIf(hasChromium)("headless Chromium is not installed here: the /reference render check is skipped (apt-get install chromium)", () => {
  expect(existsSync(CHROMIUM)).toBe(false);
});
