/** Starting the real server (`tsx src/main.ts`) for the bench, and the few API calls every figure needs. */
import { execFile } from "node:child_process";
import path from "node:path";
import { expectStatus, request } from "./http.js";
import { ROOT, spawnScript, type Spawned, TSX } from "./proc.js";

/** Limits raised so the bench measures the service, not its quotas; the rate limiter is off. */
export const BENCH_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: "warn",
  RATE_LIMIT_RPS: "0",
  MAX_ACTIVE_TURNS_PER_TENANT: "5000",
  MAX_ACTIVE_TURNS: "5000",
  MAX_FOLLOWERS_PER_ROOM: "5000",
  MAX_FOLLOWERS_PER_TENANT: "10000",
  MAX_ROOMS_PER_TENANT: "100000",
  SHUTDOWN_GRACE_MS: "1000",
};

export interface ServerHandle extends Spawned {
  dataDir: string;
  hookDir: string | null;
}

export async function startRoomservice(
  name: string,
  dataDir: string,
  env: Record<string, string>,
  opts: { hookDir?: string; cpuProfDir?: string; pollMs?: number; readyTimeoutMs?: number } = {},
): Promise<ServerHandle> {
  const s = await spawnScript({
    name,
    script: "src/main.ts",
    env: { ...BENCH_ENV, ...env, DATA_DIR: dataDir },
    readyPath: "/health",
    ...(opts.hookDir ? { hookDir: opts.hookDir } : {}),
    ...(opts.cpuProfDir ? { cpuProfDir: path.join(opts.cpuProfDir, name) } : {}),
    ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
    ...(opts.readyTimeoutMs ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
  });
  return { ...s, dataDir, hookDir: opts.hookDir ?? null };
}

/** `tsx scripts/token.ts --tenant <t>` with the server's DATA_DIR: the project's own token tool. */
export function token(dataDir: string, tenant: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      TSX,
      [path.join(ROOT, "scripts/token.ts"), "--tenant", tenant, "--sub", "bench", "--access", "full", "--ttl", "7200"],
      { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn" }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`token for ${tenant}: ${err.message} ${stderr}`));
        else resolve(stdout.trim());
      },
    );
  });
}

export async function tokens(dataDir: string, tenants: readonly string[]): Promise<Record<string, string>> {
  const list = await Promise.all(tenants.map((t) => token(dataDir, t)));
  return Object.fromEntries(tenants.map((t, i) => [t, list[i]!]));
}

export interface EchoOptions {
  token_delay_ms: number;
  reply?: string;
}

export interface RentExtras {
  wake_policy?: Record<string, unknown>;
  done_policy?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
}

/** Rents a room whose one actor `a` is local/echo with these options; returns the room id. */
export async function rentEcho(base: string, tok: string, options: EchoOptions, extras: RentExtras = {}): Promise<string> {
  const res = await expectStatus(
    201,
    request(base, "POST", "/llm/room", { token: tok, body: { purpose: "bench", agents: [{ agent_id: "a", provider: "local", model: "echo", options }], ...extras } }),
    "rent",
  );
  return (res.body as { data: { id: string } }).data.id;
}

/** Posts a message that starts a turn; returns its turn id (the room must be at rest). */
export async function startTurn(base: string, tok: string, roomId: string, content = "hello"): Promise<string> {
  const res = await expectStatus(202, request(base, "POST", `/llm/room/${roomId}/messages`, { token: tok, body: { content } }), "post message");
  const msg = (res.body as { data: { status: string; turn_id: string | null } }).data;
  if (msg.status !== "running" || !msg.turn_id) throw new Error(`message did not start a turn: ${JSON.stringify(msg)}`);
  return msg.turn_id;
}

/** `n` space-separated words of about 5 characters: a reply of n echo tokens. */
export function wordsReply(n: number, prefix = "w"): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`).join(" ");
}
