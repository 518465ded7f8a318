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
  opts: { hookDir?: string; cpuProfDir?: string; pollMs?: number; readyTimeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<ServerHandle> {
  const s = await spawnScript({
    name,
    script: "src/main.ts",
    env: { ...BENCH_ENV, ...env, DATA_DIR: dataDir },
    readyPath: "/health",
    ...(opts.hookDir ? { hookDir: opts.hookDir } : {}),
    ...(opts.cpuProfDir ? { cpuProfDir: path.join(opts.cpuProfDir, name) } : {}),
    ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
    ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
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
  stamp_tokens?: boolean;
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

/**
 * Plain English prose, written for this bench, that replies are cut from.
 * Storage compresses a finished turn, so the reply must compress the way a
 * model's answer does: numbered tokens ("w0001 w0002 ...") deflate to a
 * fraction of real text and would flatter the storage figure.
 */
const PROSE = `When you plan a small garden, start with the light. Watch the plot for a whole day and note where the shade falls in the morning, at noon and late in the afternoon. Most vegetables want six hours of direct sun; leafy greens and herbs such as parsley or mint will forgive you for less. Next, look at the soil. Dig a hole about a foot deep, fill it with water and time how long it takes to drain. If the water is still there after an hour, the ground is heavy clay and raised beds will save you a season of frustration. Mix in compost every spring rather than buying expensive fertiliser: it feeds the plants slowly, keeps moisture in dry weeks and makes the earth easier to work. Choose a handful of crops you actually like to eat, because a crowded bed of things nobody picks is a common beginner's mistake. Tomatoes, beans, lettuce and courgettes are generous and forgiving. Sow a little every two weeks instead of everything at once, so the harvest arrives in a steady stream and not in one overwhelming week. Water deeply and less often; a quick sprinkle each evening encourages shallow roots that wilt the moment summer turns hot. Keep a notebook of what you planted, when, and how it did. By the second year those notes are worth more than any guide, since they describe your own ground, your own weather and your own habits.`.split(" ");

/**
 * `n` words of English prose (about 5.5 characters each with the space): a
 * reply of n echo tokens. Past the end of PROSE the words come again in a
 * fixed shuffled order per pass, so a long reply does not repeat whole
 * sentences that deflate would turn into one back-reference.
 */
export function wordsReply(n: number): string {
  const words: string[] = [];
  let order = PROSE;
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % PROSE.length === 0) {
      order = [...PROSE];
      for (let j = order.length - 1; j > 0; j--) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const k = seed % (j + 1);
        [order[j], order[k]] = [order[k]!, order[j]!];
      }
    }
    words.push(order[i % PROSE.length]!);
  }
  return words.join(" ");
}
