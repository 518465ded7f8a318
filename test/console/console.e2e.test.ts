/**
 * The console in a real browser: Debian's Chromium, driven by
 * playwright-core, against the real server listening on 127.0.0.1 with a
 * temp DATA_DIR and the console built from console/ by Vite for this run.
 *
 * What a person relies on: signing in shows who they are; renting from the
 * form makes the room they asked for; an answer appears token by token
 * without moving the page; Interrupt stops a slow turn; a dropped event
 * stream says "reconnecting" and resumes with no text lost or doubled;
 * Release ends the room; a read-only token is offered no button that would
 * change anything; thousands of events stay responsive; a factory run made
 * from a markdown prompt fills its board and completes live through the
 * run's event feed, a gated run completes from the verdict form; the factory
 * pages say plainly when the server has no factory. Every request the page makes
 * goes to this server (offline: no CDN).
 *
 * Screenshots of each main view, at laptop and phone widths, go to
 * test-output/console/ (gitignored). Runs only where /usr/bin/chromium
 * exists (`apt-get install chromium`; .ci/run installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { serve } from "@hono/node-server";
import pino from "pino";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConsole } from "../../scripts/build-console.js";
import type { Access } from "../../src/auth/principal.js";
import { signToken } from "../../src/auth/tokens.js";
import { loadConfig } from "../../src/config.js";
import { createServer, type Server } from "../../src/server.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
const ROOT = path.resolve(import.meta.dirname, "../..");
const SHOTS = path.join(ROOT, "test-output", "console");
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const WAIT = 30_000;

/** In-page probes, installed before the console loads: every text the streaming bubble shows, every feed state, and layout shifts. */
const PROBES = `(() => {
  const w = window;
  w.__snaps = [];
  w.__feed = [];
  w.__cls = 0;
  w.__shifts = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.hadRecentInput) continue;
        w.__cls += e.value;
        const where = (n) => { const el = n && (n.nodeType === 1 ? n : n.parentElement); const t = el && el.closest("[data-testid]"); return (n ? n.nodeName : "?") + " in " + (t ? t.getAttribute("data-testid") : el ? el.className : "?"); };
        w.__shifts.push({ value: e.value, sources: (e.sources || []).map((s) => where(s.node) + " " + JSON.stringify([s.previousRect.x, s.previousRect.y, s.previousRect.width, s.previousRect.height, s.currentRect.x, s.currentRect.y, s.currentRect.width, s.currentRect.height])) });
      }
    }).observe({ type: "layout-shift", buffered: true });
  } catch (e) {}
  const last = new Map();
  const record = () => {
    for (const el of document.querySelectorAll('[data-testid="stream"][data-state="streaming"]')) {
      const turn = el.getAttribute("data-turn-id");
      const text = el.querySelector('[data-testid="stream-text"]').textContent;
      if (last.get(turn) !== text) { last.set(turn, text); w.__snaps.push({ turn, text }); }
    }
    const feed = document.querySelector('[data-testid="feed"]');
    if (feed) { const s = feed.getAttribute("data-feed"); if (w.__feed[w.__feed.length - 1] !== s) w.__feed.push(s); }
  };
  new MutationObserver(record).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})();`;

const words = (n: number, seed: string) => Array.from({ length: n }, (_, i) => `${seed}${i}`).join(" ");

describe.runIf(hasChromium)("the console in headless Chromium", () => {
  let server: Server;
  let http: HttpServer;
  let base = "";
  let dataDir = "";
  let consoleDir = "";
  let profile = "";
  let context: BrowserContext;
  let page: Page;
  let full = "";
  let read = "";
  /** Open sockets of /events requests, and the Last-Event-ID each request carried. */
  const sseSockets = new Set<Socket>();
  const sseRequests: { url: string; lastEventId: string | undefined }[] = [];
  const offsite: string[] = [];
  let roomId = "";

  async function api<T = any>(method: string, url: string, body?: unknown, token = full): Promise<{ status: number; body: T }> {
    const res = await server.app.request(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  async function newPage(viewport = LAPTOP): Promise<Page> {
    const p = await context.newPage();
    await p.setViewportSize(viewport);
    await p.addInitScript({ content: PROBES });
    p.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) offsite.push(r.url());
    });
    return p;
  }

  async function signIn(p: Page, token: string) {
    await p.goto(`${base}/console`);
    await p.locator("#token").fill(token);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.locator('[data-testid="identity"]').waitFor({ timeout: WAIT });
  }

  const shot = (p: Page, name: string) => p.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const evaluate = <T>(p: Page, expr: string) => p.evaluate(expr) as Promise<T>;
  const snapsOf = (p: Page, turn: string) => evaluate<{ turn: string; text: string }[]>(p, "window.__snaps").then((s) => s.filter((x) => x.turn === turn).map((x) => x.text));

  /** Sends `content` from the composer; resolves with the turn id once its answer is streaming in the page. */
  async function sendAndAwaitStream(p: Page, content: string): Promise<string> {
    await p.locator("#composer-text").fill(content);
    await p.locator('[data-testid="send"]').click();
    const stream = p.locator('[data-testid="stream"][data-state="streaming"]');
    await stream.waitFor({ timeout: WAIT });
    const turn = (await stream.getAttribute("data-turn-id")) ?? "";
    expect(turn).not.toBe("");
    return turn;
  }

  /**
   * Polls an expression in the page until it is truthy, with a deadline. (Playwright's waitForFunction
   * evaluates string predicates with eval, which the console's Content-Security-Policy rightly blocks.)
   */
  async function waitUntil(p: Page, expr: string, what: string) {
    const deadline = Date.now() + WAIT;
    while (!(await evaluate<boolean>(p, `Boolean(${expr})`))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await p.waitForTimeout(50);
    }
  }

  const awaitSnaps = (p: Page, turn: string, n: number) => waitUntil(p, `window.__snaps.filter((s) => s.turn === ${JSON.stringify(turn)}).length >= ${n}`, `${n} streamed texts of turn ${turn}`);

  /** The turn's stored answer: `output`, or `partial` when the turn did not complete. */
  async function outputOf(turn: string): Promise<{ kind: string; content: string; metadata: Record<string, unknown> }> {
    const h = await api<{ data: { messages: { kind: string; author_kind: string; turn_id: string | null; content: string; metadata: Record<string, unknown> }[] } }>("GET", `/llm/room/${roomId}/history`);
    const out = h.body.data.messages.filter((m) => m.author_kind === "agent" && m.turn_id === turn);
    expect(out).toHaveLength(1);
    return out[0]!;
  }

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    consoleDir = mkdtempSync(path.join(tmpdir(), "roomservice-console-build-"));
    await buildConsole(consoleDir);
    dataDir = mkdtempSync(path.join(tmpdir(), "roomservice-console-e2e-"));
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent", ECHO_TOKEN_DELAY_MS: "0", RATE_LIMIT_RPS: "0" });
    server = await createServer(config, { log: pino({ level: "silent" }), consoleDir });
    const settings = { issuer: config.auth.issuer, audience: config.auth.audience };
    const token = (sub: string, access: Access) => signToken(server.signingKey, settings, { tenant: "acme", sub, access, ttlS: 3600 });
    full = await token("alice", "full");
    read = await token("bob", "read");
    await new Promise<void>((resolve) => {
      http = serve({ fetch: server.app.fetch, hostname: "127.0.0.1", port: 0 }, (info) => {
        base = `http://127.0.0.1:${info.port}`;
        resolve();
      }) as HttpServer;
    });
    http.on("request", (req: IncomingMessage) => {
      if (!req.url?.includes("/events")) return;
      const lastEventId = req.headers["last-event-id"];
      sseRequests.push({ url: req.url, lastEventId: typeof lastEventId === "string" ? lastEventId : undefined });
      sseSockets.add(req.socket);
      req.socket.once("close", () => sseSockets.delete(req.socket));
    });
    profile = mkdtempSync(path.join(tmpdir(), "roomservice-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
      viewport: LAPTOP,
    });
    page = await newPage();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.shutdown(2000);
    http?.closeAllConnections();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    for (const dir of [dataDir, consoleDir, profile]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a pasted text that is not a token, then signs in and shows tenant, subject and access", { timeout: 90_000 }, async () => {
    await page.goto(`${base}/console`);
    await shot(page, "sign-in-laptop");
    await page.locator("#token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.locator(".error-box").textContent()).resolves.toContain("not a JWT");
    expect(await evaluate<string | null>(page, `sessionStorage.getItem("roomservice.console.token")`)).toBeNull();

    await page.locator("#token").fill(`Bearer ${full}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator('[data-testid="identity"]').waitFor({ timeout: WAIT });
    expect(await page.locator('[data-testid="tenant"]').textContent()).toBe("acme");
    expect(await page.locator('[data-testid="subject"]').textContent()).toBe("alice");
    expect(await page.locator('[data-testid="access"]').textContent()).toBe("full");
    // Kept in this tab's session storage, never in the address.
    expect(await evaluate<string | null>(page, `sessionStorage.getItem("roomservice.console.token")`)).toBe(full);
    expect(await evaluate<number>(page, "localStorage.length")).toBe(0);
    expect(page.url()).not.toContain(full.slice(0, 20));
    await page.getByText("No rooms match.").waitFor({ timeout: WAIT });
    // A reload keeps the tab signed in (session storage), and the server is asked again who the token is.
    await page.reload();
    await page.locator('[data-testid="identity"]').waitFor({ timeout: WAIT });
    expect(await page.locator('[data-testid="tenant"]').textContent()).toBe("acme");
  });

  it("rents a room from the form with the actor options it was given", { timeout: 90_000 }, async () => {
    await page.locator('[data-testid="rent-link"]').click();
    await page.locator("#rent-name").fill("streaming demo");
    await page.locator("#rent-purpose").fill("watch an answer arrive");
    await page.locator("#actor-model-0").selectOption("local/echo");
    await page.locator("#actor-options-0").fill('{"token_delay_ms": 150}');
    await page.getByRole("checkbox", { name: "calculator" }).check();
    await shot(page, "rent-laptop");
    await page.getByRole("button", { name: "Rent", exact: true }).click();
    await page.locator('[data-testid="room-view"]').waitFor({ timeout: WAIT });
    roomId = decodeURIComponent(new URL(page.url()).hash.replace("#/rooms/", ""));
    const room = await api<{ data: { metadata: { name: string }; purpose: string; actors: { provider: string; model: string; options: Record<string, unknown> }[]; tool_policy: { allowed_tools: string[] } } }>("GET", `/llm/room/${roomId}`);
    expect(room.status).toBe(200);
    expect(room.body.data.metadata.name).toBe("streaming demo");
    expect(room.body.data.purpose).toBe("watch an answer arrive");
    expect(room.body.data.actors[0]).toMatchObject({ provider: "local", model: "echo", options: { token_delay_ms: 150 } });
    expect(room.body.data.tool_policy.allowed_tools).toEqual(["calculator"]);
    await page.locator('[data-testid="feed"][data-feed="live"]').waitFor({ timeout: WAIT });
    expect(await page.locator("#room-title").textContent()).toBe("streaming demo");
  });

  it("shows the answer token by token as it streams, without moving the page, and it equals the stored answer", { timeout: 90_000 }, async () => {
    const prompt = `Please stream ${words(24, "w")}`;
    const turn = await sendAndAwaitStream(page, prompt);
    await awaitSnaps(page, turn, 3);
    const composerBefore = await page.locator('[data-testid="composer"]').boundingBox();
    const headBefore = await page.locator(".room-head").boundingBox();
    await evaluate(page, "(window.__cls = 0, window.__shifts = [], 0)");
    await awaitSnaps(page, turn, 8);
    await shot(page, "room-streaming-laptop");
    await page.locator('[data-testid="turn-status"][data-turn-status="completed"]').waitFor({ timeout: WAIT });

    const stored = await outputOf(turn);
    expect(stored.content).toContain("w23");
    const snaps = await snapsOf(page, turn);
    // Token by token: many distinct texts, each one a strict prefix of the next and of the stored answer.
    expect(snaps.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < snaps.length; i++) {
      expect(snaps[i]!.length).toBeGreaterThan(snaps[i - 1]!.length);
      expect(snaps[i]!.startsWith(snaps[i - 1]!)).toBe(true);
    }
    for (const s of snaps) expect(stored.content.startsWith(s)).toBe(true);
    // The streamed text, delta by delta, equals the stored answer; the transcript shows the stored one.
    const answer = page.locator(`[data-testid="message-agent"][data-turn-id="${turn}"]`);
    expect(await answer.getAttribute("data-stream-check")).toBe("match");
    expect(await answer.locator(".text").textContent()).toBe(stored.content);
    // Nothing outside the transcript moved while the answer streamed in.
    expect(await evaluate<number>(page, "window.__cls"), JSON.stringify(await evaluate(page, "window.__shifts"))).toBe(0);
    expect(await page.locator('[data-testid="composer"]').boundingBox()).toEqual(composerBefore);
    expect(await page.locator(".room-head").boundingBox()).toEqual(headBefore);
    // Usage and turn status come from the room record.
    expect(await page.locator('[data-testid="usage"]').textContent()).not.toContain(" 0 tok");
  });

  it("interrupts a slow turn: it stops streaming and ends interrupted, keeping the partial text", { timeout: 90_000 }, async () => {
    const turn = await sendAndAwaitStream(page, `A long one ${words(120, "x")}`);
    await awaitSnaps(page, turn, 3);
    await page.locator('[data-testid="interrupt"]').click();
    await page.locator('[data-testid="turn-status"][data-turn-status="interrupted"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="room-view"][data-room-status="idle"]').waitFor({ timeout: WAIT });
    const stored = await outputOf(turn);
    expect(stored.kind).toBe("partial");
    expect(stored.metadata).toMatchObject({ partial: true, turn_status: "interrupted" });
    expect(stored.content).not.toContain("x119");
    // The streamed text gives way to the stored partial answer, marked as such, and the two agree.
    const answer = page.locator(`[data-testid="message-agent"][data-turn-id="${turn}"]`);
    expect(await answer.locator(".tag.warn").first().textContent()).toContain("interrupted");
    expect(await answer.locator(".text").textContent()).toBe(stored.content);
    expect(await answer.getAttribute("data-stream-check")).toBe("match");
    expect(await page.locator(`[data-testid="stream"][data-turn-id="${turn}"]`).count()).toBe(0);
    expect(await page.locator('[data-testid="interrupt"]').isDisabled()).toBe(true);
  });

  it("resumes a dropped event stream with Last-Event-ID, says it is reconnecting, and loses or doubles no text", { timeout: 120_000 }, async () => {
    const before = sseRequests.length;
    const turn = await sendAndAwaitStream(page, `Survive the drop ${words(30, "y")}`);
    await awaitSnaps(page, turn, 4);
    await shot(page, "room-streaming-history-laptop");
    const shownBefore = Number(await page.locator('[data-testid="event-count"]').getAttribute("data-last"));
    expect(sseSockets.size).toBeGreaterThan(0);
    for (const s of sseSockets) s.destroy();
    await page.locator('[data-testid="feed"][data-feed="reconnecting"]').waitFor({ timeout: WAIT });
    await shot(page, "room-reconnecting-laptop");
    await page.locator('[data-testid="feed"][data-feed="live"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="turn-status"][data-turn-status="completed"]').waitFor({ timeout: WAIT });

    // The page asked to resume right after the last event it had.
    const resumed = sseRequests.slice(before);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    const resumeId = Number(resumed[resumed.length - 1]!.lastEventId);
    expect(resumeId).toBeGreaterThanOrEqual(shownBefore);
    expect(await evaluate<string[]>(page, "window.__feed")).toEqual(expect.arrayContaining(["live", "reconnecting"]));

    const stored = await outputOf(turn);
    const snaps = await snapsOf(page, turn);
    for (let i = 1; i < snaps.length; i++) expect(snaps[i]!.startsWith(snaps[i - 1]!)).toBe(true);
    const answer = page.locator(`[data-testid="message-agent"][data-turn-id="${turn}"]`);
    expect(await answer.getAttribute("data-stream-check")).toBe("match");
    expect(await page.locator('[data-testid="stream"]').count()).toBe(0);

    // Every event once, none missing: the log holds a gap-free run of seqs up to the server's last one.
    const history = await api<{ meta: { last_seq: number } }>("GET", `/llm/room/${roomId}/history?limit=1`);
    const count = page.locator('[data-testid="event-count"]');
    await page.locator(`[data-testid="event-count"][data-last="${history.body.meta.last_seq}"]`).waitFor({ timeout: WAIT });
    const [n, first, last, gaps] = await Promise.all(["data-count", "data-first", "data-last", "data-gaps"].map((a) => count.getAttribute(a).then(Number)));
    expect(gaps).toBe(0);
    expect(first).toBe(1);
    expect(n).toBe(last! - first! + 1);
  });

  it("releases the room after a confirmation; the feed ends and the composer closes", { timeout: 90_000 }, async () => {
    await page.locator('[data-testid="release"]').click();
    await page.locator('[data-testid="release-confirm"]').click();
    await page.locator('[data-testid="room-view"][data-room-status="released"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="feed"][data-feed="ended"]').waitFor({ timeout: WAIT });
    expect(await page.locator("#composer-text").isDisabled()).toBe(true);
    expect(await page.locator('[data-testid="release"]').isDisabled()).toBe(true);
    const room = await api<{ data: { status: string } }>("GET", `/llm/room/${roomId}`);
    expect(room.body.data.status).toBe("released");
  });

  it("in a room with several actors, sends to the actor chosen in the composer", { timeout: 90_000 }, async () => {
    const rid = (await api<{ data: { id: string } }>("POST", "/llm/room", { metadata: { name: "duo" }, agents: [{ agent_id: "assistant" }, { agent_id: "critic" }] })).body.data.id;
    await page.goto(`${base}/console#/rooms/${rid}`);
    await page.locator('[data-testid="feed"][data-feed="live"]').waitFor({ timeout: WAIT });
    await page.getByLabel("Answer by").selectOption("critic");
    await page.getByRole("checkbox", { name: "@assistant" }).check();
    await page.locator("#composer-text").fill("critic, your view?");
    await page.locator('[data-testid="send"]').click();
    const answer = page.locator('[data-testid="message-agent"]');
    await answer.waitFor({ timeout: WAIT });
    expect(await answer.locator("header b").textContent()).toBe("critic");
    const h = await api<{ data: { messages: { kind: string; actor_key: string | null; metadata: Record<string, unknown> }[]; events: { event_type: string; agent_key: string | null }[] } }>("GET", `/llm/room/${rid}/history`);
    expect(h.body.data.messages[0]).toMatchObject({ kind: "message", actor_key: "critic", metadata: { mentions: ["assistant"] } });
    expect(h.body.data.events.find((e) => e.event_type === "agent:turn_start")?.agent_key).toBe("critic");
  });

  it("wakes a manual room: the queued message's turn runs", { timeout: 90_000 }, async () => {
    const rid = (await api<{ data: { id: string } }>("POST", "/llm/room", { metadata: { name: "manual" }, wake_policy: { mode: "manual" } })).body.data.id;
    await page.goto(`${base}/console#/rooms/${rid}`);
    await page.locator('[data-testid="feed"][data-feed="live"]').waitFor({ timeout: WAIT });
    await page.locator("#composer-text").fill("wait for the wake");
    await page.locator('[data-testid="send"]').click();
    await page.locator('[data-testid="message-user"] .tag', { hasText: "queued" }).waitFor({ timeout: WAIT });
    expect(await page.locator('[data-testid="message-agent"]').count()).toBe(0);
    await page.locator('[data-testid="wake"]').click();
    await page.locator('[data-testid="message-agent"]').waitFor({ timeout: WAIT });
    expect(await page.locator('[data-testid="message-agent"] .text').textContent()).toContain("wait for the wake");
    await page.locator('[data-testid="turn-status"][data-turn-status="completed"]').waitFor({ timeout: WAIT });
  });

  it("lays the room out for a phone: one pane at a time, reachable by tabs", { timeout: 90_000 }, async () => {
    const phone = await newPage(PHONE);
    await signIn(phone, full);
    await phone.goto(`${base}/console#/rooms`);
    await phone.locator('[data-testid="rent-link"]').waitFor({ timeout: WAIT });
    await shot(phone, "rooms-phone");
    // A released room is hidden by default; the status filter shows it.
    await phone.getByRole("checkbox", { name: "released" }).check();
    await phone.locator(`tr[data-room-id="${roomId}"]`).waitFor({ timeout: WAIT });
    await phone.locator(`tr[data-room-id="${roomId}"] a`).click();
    await phone.locator('[data-testid="room-view"]').waitFor({ timeout: WAIT });
    await phone.locator('[data-testid="message-agent"]').first().waitFor({ timeout: WAIT });
    expect(await phone.locator('[data-testid="transcript"]').isVisible()).toBe(true);
    expect(await phone.locator('[data-testid="event-list"]').isVisible()).toBe(false);
    const width = await evaluate<number>(phone, "document.documentElement.scrollWidth");
    expect(width).toBeLessThanOrEqual(PHONE.width);
    await shot(phone, "room-chat-phone");
    await phone.getByRole("tab", { name: "Events" }).click();
    expect(await phone.locator('[data-testid="event-list"]').isVisible()).toBe(true);
    expect(await phone.locator('[data-testid="transcript"]').isVisible()).toBe(false);
    await shot(phone, "room-events-phone");
    await phone.getByRole("tab", { name: "Details" }).click();
    expect(await phone.locator('[data-testid="room-details"]').isVisible()).toBe(true);
    await shot(phone, "room-details-phone");
    await phone.close();
  });

  it("offers a read-only token no button that changes anything", { timeout: 90_000 }, async () => {
    const rid = (await api<{ data: { id: string } }>("POST", "/llm/room", { metadata: { name: "watched" } })).body.data.id;
    await api("POST", `/llm/room/${rid}/messages`, { content: "hello from alice" });
    const viewer = await newPage(PHONE);
    await signIn(viewer, read);
    expect(await viewer.locator('[data-testid="access"]').textContent()).toBe("read");
    expect(await viewer.locator('[data-testid="subject"]').textContent()).toBe("bob");
    await viewer.locator(`tr[data-room-id="${rid}"]`).waitFor({ timeout: WAIT });
    expect(await viewer.locator('[data-testid="rent-link"]').count()).toBe(0);
    await viewer.locator(`tr[data-room-id="${rid}"] a`).click();
    await viewer.locator('[data-testid="message-user"]').first().waitFor({ timeout: WAIT });
    await viewer.getByRole("tab", { name: "Details" }).click();
    await viewer.getByText("Read-only token: watching only.").waitFor({ timeout: WAIT });
    for (const id of ["composer", "send", "interrupt", "wake", "release", "controls"]) expect(await viewer.locator(`[data-testid="${id}"]`).count(), id).toBe(0);
    await shot(viewer, "room-readonly-phone");
    // The rent form itself says why it is not offered.
    await viewer.goto(`${base}/console#/rooms/new`);
    await viewer.getByText("Renting needs a token with access full").waitFor({ timeout: WAIT });
    await viewer.close();
  });

  it("renders a room with thousands of events by what is visible, pages back to seq 1, and walks the log by keyboard", { timeout: 120_000 }, async () => {
    const rid = (await api<{ data: { id: string } }>("POST", "/llm/room", { metadata: { name: "busy" } })).body.data.id;
    for (let i = 0; i < 2000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => api("POST", `/llm/room/${rid}/messages`, { kind: "note", content: `note ${i + j}` })));
      expect(batch.map((r) => r.status)).toEqual(Array(50).fill(201));
    }
    await page.goto(`${base}/console#/rooms/${rid}`);
    const count = page.locator('[data-testid="event-count"]');
    await page.locator('[data-testid="event-count"][data-count="1000"]').waitFor({ timeout: WAIT });
    expect(await count.getAttribute("data-last")).toBe("2001");
    const events = page.locator('[data-testid="event-list"]');
    const transcript = page.locator('[data-testid="transcript"]');
    expect(Number(await transcript.getAttribute("data-total"))).toBe(1000);
    expect(Number(await events.getAttribute("data-rendered"))).toBeLessThan(100);
    expect(Number(await transcript.getAttribute("data-rendered"))).toBeLessThan(100);
    expect(await page.locator('[data-testid="event-list"] [role="option"]').count()).toBeLessThan(100);
    // The newest note is in view at the end of the transcript.
    await page.getByText("note 1999", { exact: true }).waitFor({ timeout: WAIT });

    await page.locator('[data-testid="load-older"]').click();
    await page.locator('[data-testid="event-count"][data-count="2000"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="load-older"]').click();
    await page.locator('[data-testid="event-count"][data-count="2001"]').waitFor({ timeout: WAIT });
    expect(await count.getAttribute("data-first")).toBe("1");
    expect(await page.locator('[data-testid="load-older"]').count()).toBe(0);
    expect(Number(await events.getAttribute("data-rendered"))).toBeLessThan(100);

    await events.focus();
    await page.keyboard.press("Home");
    await page.locator('[data-testid="event-detail"]').getByText('"seq": 1,').waitFor({ timeout: WAIT });
    expect(await page.locator("#ev-1").getAttribute("aria-selected")).toBe("true");
    await page.keyboard.press("ArrowDown");
    await page.locator('[data-testid="event-detail"]').getByText('"seq": 2,').waitFor({ timeout: WAIT });
    await page.keyboard.press("End");
    await page.locator('[data-testid="event-detail"]').getByText('"seq": 2001,').waitFor({ timeout: WAIT });
    // The list scrolls the selected row into view and renders it on the next frame: wait for that, then check it is the selection.
    await page.locator("#ev-2001").waitFor({ state: "visible", timeout: WAIT });
    expect(await page.locator("#ev-2001").getAttribute("aria-selected")).toBe("true");
    await shot(page, "room-many-events-laptop");
  });

  it("lists rooms newest first, a page at a time, and filters them by status", { timeout: 90_000 }, async () => {
    for (let i = 0; i < 21; i++) expect((await api("POST", "/llm/room", { metadata: { name: `page room ${i}` }, purpose: `paging ${i}` })).status).toBe(201);
    const listed = (await api<{ data: unknown[] }>("GET", "/llm/room?limit=200")).body.data.length;
    expect(listed).toBeGreaterThan(20);
    await page.goto(`${base}/console#/rooms`);
    const rows = page.locator('[data-testid="rooms-table"] tbody tr');
    await page.getByText("page room 20", { exact: true }).waitFor({ timeout: WAIT });
    expect(await rows.count()).toBe(20);
    expect(await rows.first().locator("a").textContent()).toBe("page room 20");
    await shot(page, "rooms-laptop");
    await page.getByRole("button", { name: "Next →" }).click();
    await page.getByText("Page 2").waitFor({ timeout: WAIT });
    await page.locator('[data-testid="rooms-table"] tbody tr a', { hasText: "page room 20" }).waitFor({ state: "detached", timeout: WAIT });
    expect(await rows.count()).toBe(listed - 20);
    expect(await page.getByRole("button", { name: "Next →" }).isDisabled()).toBe(true);
    await page.getByRole("button", { name: "← Previous" }).click();
    await page.getByText("page room 20", { exact: true }).waitFor({ timeout: WAIT });
    // Only released rooms: the one released above, and nothing else.
    for (const s of ["rented", "active", "idle", "sleeping", "releasing", "failed"]) await page.getByRole("checkbox", { name: s, exact: true }).uncheck();
    await page.getByRole("checkbox", { name: "released", exact: true }).check();
    await page.locator(`tr[data-room-id="${roomId}"]`).waitFor({ timeout: WAIT });
    await page.getByText("page room 20", { exact: true }).waitFor({ state: "detached", timeout: WAIT });
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('[data-status]').getAttribute("data-status")).toBe("released");
  });

  /** The factory flows' own page, signed in with the full token (so each can run alone with -t). */
  let factoryTab: Page | null = null;
  async function factoryPage(): Promise<Page> {
    if (!factoryTab) {
      factoryTab = await newPage();
      await signIn(factoryTab, full);
    }
    return factoryTab;
  }

  /** Records, in the page, every run status the run view shows and every status each board issue shows, in order. */
  const RUN_RECORDER = `(() => {
    window.__runStatuses = [];
    window.__issueStatuses = {};
    const rec = () => {
      const v = document.querySelector('[data-testid="run-view"]')?.getAttribute("data-run-status");
      if (v && window.__runStatuses[window.__runStatuses.length - 1] !== v) window.__runStatuses.push(v);
      for (const el of document.querySelectorAll('[data-testid="board-issue"]')) {
        const seen = (window.__issueStatuses[el.getAttribute("data-issue-id")] ??= []);
        const st = el.getAttribute("data-status");
        if (seen[seen.length - 1] !== st) seen.push(st);
      }
    };
    new MutationObserver(rec).observe(document.body, { subtree: true, childList: true, attributes: true });
    rec();
    return true;
  })()`;

  const POEMS = ["# Poems", "", "## Draft", "", "- Write a haiku about tea", '  - mentions "tea"', "- Write a haiku about rain", '  - mentions "rain"', "", "## Review", "", "- Compare the two haiku (depends on: Write a haiku about tea, Write a haiku about rain)", ""].join("\n");

  it("creates a run from a markdown prompt, starts it, and watches the board fill and the run complete live", { timeout: 120_000 }, async () => {
    const page = await factoryPage();
    await page.goto(`${base}/console#/runs`);
    await page.locator('[data-testid="new-run"]').click();
    await page.locator("#run-title").fill("Poems");
    await page.locator("#run-content").fill(POEMS);
    await page.getByLabel("Start it at once").uncheck();
    await page.getByRole("button", { name: "Create run" }).click();
    const view = page.locator('[data-testid="run-view"]');
    await page.locator('[data-testid="run-view"][data-run-status="pending"]').waitFor({ timeout: WAIT });
    const runId = decodeURIComponent(new URL(page.url()).hash.replace("#/runs/", ""));
    const created = await api<{ data: { title: string; status: string; source: { format: string; content: string } } }>("GET", `/llm/factory/runs/${runId}`);
    expect(created.body.data).toMatchObject({ title: "Poems", status: "pending", source: { format: "markdown", content: POEMS } });
    expect(await page.locator('[data-testid="board-issue"]').count()).toBe(0);
    await page.locator('[data-testid="feed"][data-feed="live"]').waitFor({ timeout: WAIT });
    expect(await evaluate<boolean>(page, RUN_RECORDER)).toBe(true);

    await page.locator('[data-testid="run-start"]').click();
    await page.locator('[data-testid="run-view"][data-run-status="completed"]').waitFor({ timeout: WAIT });
    // The same document saw every change (the recorder would be gone after a reload): pending, then on to completed.
    const statuses = await evaluate<string[]>(page, "window.__runStatuses");
    expect(statuses[0]).toBe("pending");
    expect(statuses[statuses.length - 1]).toBe("completed");
    expect(sseRequests.some((r) => r.url.startsWith(`/llm/factory/runs/${runId}/events`))).toBe(true);
    await page.locator('[data-testid="run-events"] li', { hasText: "run:finished" }).waitFor({ timeout: WAIT });
    await page.locator('[data-testid="feed"][data-feed="ended"]').waitFor({ timeout: WAIT });

    // The board: two stages in order, three issues, all passed, each linking to the room it ran in.
    const issues = (await api<{ data: { id: string; title: string; status: string; assigned_room_id: string | null; stage_id: string }[] }>("GET", `/llm/factory/runs/${runId}/issues`)).body.data;
    expect(issues).toHaveLength(3);
    const stages = page.locator('[data-testid="board-stage"]');
    expect(await stages.count()).toBe(2);
    expect(await stages.locator("header b").allTextContents()).toEqual(["Draft", "Review"]);
    expect(await stages.evaluateAll((els) => els.map((e) => e.getAttribute("data-status")))).toEqual(["passed", "passed"]);
    const cards = page.locator('[data-testid="board-issue"]');
    expect(await cards.count()).toBe(3);
    for (const issue of issues) {
      const card = page.locator(`[data-testid="board-issue"][data-issue-id="${issue.id}"]`);
      expect(await card.getAttribute("data-status")).toBe("passed");
      expect(issue.assigned_room_id).toBeTruthy();
      expect(await card.locator("a").getAttribute("href")).toBe(`#/rooms/${issue.assigned_room_id}`);
      // Every issue was on the board before it passed, and its last status shown is passed.
      const seen = await evaluate<string[]>(page, `window.__issueStatuses[${JSON.stringify(issue.id)}]`);
      expect(seen[seen.length - 1]).toBe("passed");
    }
    // The compare issue sits in the Review column, below nothing else there; it names what it waits for.
    // Each tea/rain issue shows its criterion's verdict from the check.
    for (const [title, criterion] of [["Write a haiku about tea", 'mentions "tea"'], ["Write a haiku about rain", 'mentions "rain"']] as const) {
      const v = page.locator('[data-testid="board-issue"]', { hasText: title }).locator('[data-testid="issue-verdicts"] li');
      expect(await v.count()).toBe(1);
      expect(await v.locator("[data-status]").getAttribute("data-status")).toBe("pass");
      expect(await v.textContent()).toContain(criterion);
    }
    await expect(stages.nth(1).locator('[data-testid="board-issue"]').textContent()).resolves.toContain("after Write a haiku about tea, Write a haiku about rain");

    // Verification, gates, artifacts and the review bundle.
    await expect(page.locator('[data-testid="verification"]').textContent()).resolves.toContain("passed");
    const gates = (await page.locator('[data-testid="gates"]').textContent()) ?? "";
    for (const g of ["all_issues_passed: pass", "verification_passed: pass", "token_budget: pass"]) expect(gates.replace(/\s+/g, " ")).toContain(g);
    const artifacts = (await api<{ data: { artifact_type: string }[] }>("GET", `/llm/factory/runs/${runId}/artifacts`)).body.data;
    expect(artifacts.length).toBeGreaterThan(0);
    await expect(page.locator("#artifacts-title").textContent()).resolves.toBe(`Artifacts (${artifacts.length})`);
    expect(await page.locator(".run details summary b").allTextContents()).toEqual(artifacts.map((a) => a.artifact_type));
    await page.locator('[data-testid="review"]').waitFor({ timeout: WAIT });
    const review = (await api<{ data: { plan_summary: string } }>("GET", `/llm/factory/runs/${runId}/review`)).body.data;
    await expect(page.locator('[data-testid="review"] > p').first().textContent()).resolves.toBe(review.plan_summary);
    // A finished run offers no button that changes it.
    for (const b of ["run-start", "run-advance", "run-cancel"]) {
      const n = page.locator(`[data-testid="${b}"]`);
      if ((await n.count()) > 0) expect(await n.isDisabled()).toBe(true);
    }
    await shot(page, "run-completed-laptop");
    await page.setViewportSize(PHONE);
    await shot(page, "run-completed-phone");
    await page.setViewportSize(LAPTOP);

    // The runs list shows it; an issue's link opens the room it ran in.
    await page.goto(`${base}/console#/runs`);
    const row = page.locator('[data-testid="runs-table"] tr', { hasText: "Poems" });
    await row.waitFor({ timeout: WAIT });
    await expect(row.locator("[data-status]").getAttribute("data-status")).resolves.toBe("completed");
    await row.locator("a").click();
    await view.waitFor({ timeout: WAIT });
    const first = issues[0]!;
    await page.locator(`[data-testid="board-issue"][data-issue-id="${first.id}"] a`).click();
    await page.locator('[data-testid="room-view"]').waitFor({ timeout: WAIT });
    expect(decodeURIComponent(new URL(page.url()).hash)).toBe(`#/rooms/${first.assigned_room_id}`);
  });

  it("leaves a run gated on a criterion no rule decides, and completes it when the verdict button records pass", { timeout: 120_000 }, async () => {
    const made = await api<{ data: { id: string } }>("POST", "/llm/factory/runs", { title: "Slogan", source: { kind: "prompt", format: "markdown", content: "# Taste\n\n- Write a slogan\n  - is delightful\n" } });
    expect(made.status).toBe(201);
    const runId = made.body.data.id;
    const page = await factoryPage();
    await page.goto(`${base}/console#/runs/${runId}`);
    await page.locator('[data-testid="feed"][data-feed="live"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="run-start"]').click();
    await page.locator('[data-testid="run-view"][data-run-status="gated"]').waitFor({ timeout: WAIT });
    await page.locator('[data-testid="gates"]', { hasText: "needs_review" }).waitFor({ timeout: WAIT });
    expect(((await page.locator('[data-testid="gates"]').textContent()) ?? "").replace(/\s+/g, " ")).toContain("verification_passed: needs_review");
    await page.locator('[data-testid="review"]').waitFor({ timeout: WAIT });
    const verdict = page.locator('[data-testid="issue-verdicts"] li');
    expect(await verdict.locator("[data-status]").getAttribute("data-status")).toBe("needs_review");
    expect(await verdict.textContent()).toContain("is delightful");
    await shot(page, "run-gated-laptop");

    // A read-only token watches the same run with no button.
    const other = await newPage();
    await signIn(other, read);
    await other.goto(`${base}/console#/runs/${runId}`);
    await other.locator('[data-testid="run-view"][data-run-status="gated"]').waitFor({ timeout: WAIT });
    await other.locator(".readonly-note").waitFor({ timeout: WAIT });
    expect(await other.locator('[data-testid="run-controls"]').count()).toBe(0);
    expect(await other.locator("button", { hasText: "Record verdict" }).count()).toBe(0);

    const form = page.getByRole("form", { name: "Record a gate verdict" });
    await form.locator('input[list="gate-names"]').fill("verification_passed");
    await form.locator("select").selectOption("pass");
    await form.locator("textarea").fill("a person liked it");
    await form.getByRole("button", { name: "Record verdict" }).click();
    await page.locator('[data-testid="run-view"][data-run-status="completed"]').waitFor({ timeout: WAIT });
    // The watcher's page follows through its own feed.
    await other.locator('[data-testid="run-view"][data-run-status="completed"]').waitFor({ timeout: WAIT });
    await other.close();
    const status = (await api<{ data: { status: string; latest_gate_verdicts: Record<string, string> } }>("GET", `/llm/factory/runs/${runId}/status`)).body.data;
    expect(status).toMatchObject({ status: "completed", latest_gate_verdicts: { verification_passed: "pass" } });
    await shot(page, "run-approved-laptop");
  });

  it("says plainly that the factory is not available when GET /llm/factory/runs is 404", { timeout: 60_000 }, async () => {
    const p = await newPage();
    await signIn(p, full);
    // A server without the factory answers the app's catch-all 404 NOT_FOUND for every factory path.
    await p.route("**/llm/factory/**", (route) =>
      route.fulfill({ status: 404, contentType: "application/json", body: JSON.stringify({ success: false, error: "Not Found", code: "NOT_FOUND", message: "No route GET /llm/factory/runs" }) }),
    );
    await p.goto(`${base}/console#/runs`);
    await p.locator('[data-testid="factory-unavailable"]').waitFor({ timeout: WAIT });
    expect(await p.locator('[data-testid="factory-unavailable"] h2').textContent()).toBe("Factory not available on this server");
    await shot(p, "factory-unavailable-laptop");
    await p.goto(`${base}/console#/runs/3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d`);
    await p.locator('[data-testid="factory-unavailable"]').waitFor({ timeout: WAIT });
    await p.close();
  });

  it("loaded everything from this server: no request left 127.0.0.1", () => {
    expect(offsite).toEqual([]);
  });
});

it.skipIf(hasChromium)("headless Chromium is not installed here: the console e2e tests are skipped (apt-get install chromium)", () => {
  expect(existsSync(CHROMIUM)).toBe(false);
});
