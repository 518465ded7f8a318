/**
 * Child processes and temp dirs of one bench run. Everything started here is
 * tracked and ended (by its own process group id) on exit, on a signal, on an
 * uncaught error and on the global timeout, and every temp dir is removed, so
 * a failed or interrupted run leaves nothing behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const HOOK = path.join(ROOT, "bench", "server-hook.mjs");

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let keepTemp = false;

export function setKeepTemp(keep: boolean): void {
  keepTemp = keep;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A temp dir removed when the bench exits (unless --keep). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `roomservice-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Spawns a tracked child in its own process group, so ending it also ends what it started (tsx runs the script in a grandchild). */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** SIGKILLs every tracked child's process group (a phase that timed out). */
export function killChildren(): void {
  for (const child of [...children]) killGroup(child, "SIGKILL");
  children.clear();
}

/** Synchronous, idempotent: safe in an `exit` handler. */
export function cleanupAll(): void {
  killChildren();
  if (!keepTemp) {
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
    tempDirs.clear();
  }
}

/**
 * Ends a child: SIGTERM to `termPid` (default: the child itself), or another
 * signal to its process group; then SIGKILL to the group after `graceMs`.
 * Resolves with the exit code.
 */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 8000, termPid?: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  if (signal === "SIGTERM" && child.pid !== undefined) {
    // The script itself, not tsx's wrapper: the wrapper SIGKILLs a script whose event loop does not
    // answer its relayed signal within ~60 ms (a busy server), which would skip the graceful drain.
    try {
      process.kill(termPid ?? child.pid, signal);
    } catch {
      // gone
    }
  } else killGroup(child, signal);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), graceMs)))]);
  clearTimeout(timer);
  if (code === "timeout") {
    killGroup(child, "SIGKILL");
    return await exited;
  }
  return code;
}

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

/** One GET with a fresh connection; resolves with the status, or 0 on a connection error. */
export function probe(url: string, timeoutMs = 1000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", () => resolve(0));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

/** Direct children of a pid (Linux /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const f = `/proc/${pid}/task/${tid}/children`;
      if (!existsSync(f)) continue;
      for (const p of readFileSync(f, "utf8").trim().split(/\s+/)) if (p) out.push(Number(p));
    }
  } catch {
    // process gone
  }
  return out;
}

/** The node process that runs the script: under a tsx wrapper its only child, else the pid itself. */
export function scriptPid(pid: number, wrapped: boolean): number {
  if (!wrapped) return pid;
  const kids = childPids(pid);
  return kids.length > 0 ? kids[0]! : pid;
}

/** Resident set size in bytes, from /proc/<pid>/status VmRSS. */
export function readRss(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** User+system CPU seconds a process has used so far (/proc/<pid>/stat, 100 ticks/s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface Spawned {
  name: string;
  child: ChildProcess;
  port: number;
  base: string;
  /** performance.now() right before spawn and at the first 200 from the ready path. */
  spawnedAt: number;
  readyAt: number;
  output: () => string;
  /** The node process running the script (not the tsx wrapper). */
  pid: () => number;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** How a script is run: through tsx (`tsx <file>.ts`, as the brief and `npm run dev` do) or as compiled JS on node (lib/compiled.ts). */
export type Runner = { kind: "tsx" } | { kind: "node"; root: string };

let defaultRunner: Runner = { kind: "tsx" };
export function setRunner(r: Runner): void {
  defaultRunner = r;
}
export function runner(): Runner {
  return defaultRunner;
}

export interface SpawnScriptOptions {
  name: string;
  /** Default: the runner set with setRunner (tsx unless --runner node). */
  runner?: Runner;
  script: string;
  env: Record<string, string>;
  readyPath: string;
  /** Load bench/server-hook.mjs (GC on SIGUSR2) into the script's process; its files go here. */
  hookDir?: string;
  /** Write a V8 CPU profile of the script's process here (node --cpu-prof, written at exit). */
  cpuProfDir?: string;
  /** Flags for node itself, before the script (those NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  pollMs?: number;
}

/** Starts `tsx <script>` on a free port and waits until readyPath answers 200. */
export async function spawnScript(o: SpawnScriptOptions): Promise<Spawned> {
  const port = await freePort();
  const nodeOptions = [process.env["NODE_OPTIONS"] ?? ""];
  if (o.hookDir) nodeOptions.push(`--import=${pathToFileURL(HOOK).href}`);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOST: "127.0.0.1",
    PORT: String(port),
    ...o.env,
    NODE_OPTIONS: nodeOptions.filter(Boolean).join(" "),
  };
  if (o.hookDir) env["BENCH_HOOK_DIR"] = o.hookDir;
  let out = "";
  const spawnedAt = performance.now();
  // --cpu-prof is not allowed in NODE_OPTIONS; tsx hands node flags given before the script to node.
  const nodeArgs = [...(o.nodeArgs ?? []), ...(o.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${o.cpuProfDir}`] : [])];
  const run = o.runner ?? defaultRunner;
  const [command, file] = run.kind === "tsx" ? [TSX, path.join(ROOT, o.script)] : [process.execPath, path.join(run.root, "dist", o.script.replace(/\.ts$/, ".js"))];
  const child = spawnTracked(command, [...nodeArgs, file], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  let readyAt = 0;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${o.name} exited before it was ready (${child.exitCode ?? child.signalCode}): ${out.slice(-2000)}`);
    if ((await probe(base + o.readyPath, 1000)) === 200) {
      readyAt = performance.now();
      break;
    }
    if (Date.now() > deadline) {
      await stopChild(child, "SIGKILL");
      throw new Error(`${o.name} did not answer ${o.readyPath} within ${o.readyTimeoutMs ?? 30_000} ms: ${out.slice(-2000)}`);
    }
    await sleep(o.pollMs ?? 5);
  }
  let realPid = 0;
  return {
    name: o.name,
    child,
    port,
    base,
    spawnedAt,
    readyAt,
    output: () => out,
    pid: () => (realPid ||= scriptPid(child.pid!, run.kind === "tsx")),
    stop: (signal = "SIGTERM") => stopChild(child, signal, 8000, child.exitCode === null ? scriptPid(child.pid!, run.kind === "tsx") : undefined),
  };
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

const signalsSent = new Map<number, number>();

/**
 * Asks the hooked process (bench/server-hook.mjs) to run a full GC twice,
 * waits for its answer, then reads its VmRSS. The hook numbers its answers
 * per signal received; signals are sent one at a time, so none coalesce.
 */
export async function gcAndMeasure(s: Spawned, hookDir: string, settleMs = 200, answerTimeoutMs = 10_000): Promise<MemorySample> {
  await sleep(settleMs);
  const pid = s.pid();
  const n = (signalsSent.get(pid) ?? 0) + 1;
  signalsSent.set(pid, n);
  process.kill(pid, "SIGUSR2");
  const file = path.join(hookDir, `gc-${pid}-${n}.json`);
  const deadline = Date.now() + answerTimeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${s.name}: no GC answer from pid ${pid} (is bench/server-hook.mjs loaded?)`);
    await sleep(10);
  }
  const heap = JSON.parse(readFileSync(file, "utf8")) as { heapUsed: number; heapTotal: number; external: number };
  return { rss: readRss(pid), heapUsed: heap.heapUsed, heapTotal: heap.heapTotal, external: heap.external };
}
