/**
 * Spawns the real server (src/main.ts) on a free port and a given DATA_DIR.
 * Node runs the TypeScript itself through tsx's loader (`node --import tsx`),
 * so the child *is* the server: SIGKILL and SIGTERM reach it directly instead
 * of a wrapper process that might die first and leave the server orphaned.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const NODE_ARGS = ["--import", "tsx"];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  port: number;
  base: string;
  output: () => string;
  exited: Promise<number | null>;
}

export function runScript(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...NODE_ARGS, path.join(ROOT, script), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

export async function spawnServer(env: Record<string, string>, opts: { waitHealthy?: boolean } = {}): Promise<Spawned> {
  const port = env["PORT"] ? Number(env["PORT"]) : await freePort();
  const child = spawn(process.execPath, [...NODE_ARGS, path.join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: { ...process.env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const spawned: Spawned = { child, port, base: `http://127.0.0.1:${port}`, output: () => out, exited };
  if (opts.waitHealthy !== false) {
    // Generous: the server starts through tsx, which compiles on a loaded 2-core CI box in well over the usual second.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}): ${out}`);
      try {
        const res = await fetch(`${spawned.base}/health`);
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`server did not become healthy: ${out}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return spawned;
}

/** One JSON call to a spawned server with a bearer token: the status and the parsed envelope. */
export async function callJson(s: Spawned, token: string, method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${s.base}${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}
