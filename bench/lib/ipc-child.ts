/** A tracked node child (running a .ts file through tsx's loader) driven by request/response messages over IPC. */
import path from "node:path";
import { ROOT, spawnTracked, stopChild } from "./proc.js";
import type { ChildProcess } from "node:child_process";

export class IpcChild {
  #next = 0;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private constructor(readonly child: ChildProcess) {
    child.on("message", (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
    child.on("exit", (code) => {
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`ipc child exited (${code})`));
      }
      this.#pending.clear();
    });
  }

  static start(script: string): IpcChild {
    const child = spawnTracked(process.execPath, ["--import", "tsx", path.join(ROOT, script)], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    return new IpcChild(child);
  }

  call<T>(message: Record<string, unknown>, timeoutMs: number): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`ipc ${String(message["cmd"])} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.send({ ...message, id });
    });
  }

  async stop(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    await stopChild(this.child, "SIGTERM", 3000);
  }
}

/**
 * The child's side of IpcChild: answers each request with `handle`'s result
 * (or its error), in the reply format `call` waits for, and exits when the
 * parent goes away. Import only from a child script: it listens on `process`.
 */
export function serveIpc<C extends { cmd: string }>(handle: (m: C) => Promise<unknown>): void {
  process.on("message", (m: C & { id: number }) => {
    void handle(m).then(
      (result) => process.send?.({ id: m.id, result }),
      (err: unknown) => process.send?.({ id: m.id, error: String(err) }),
    );
  });
  process.on("disconnect", () => process.exit(0));
}
