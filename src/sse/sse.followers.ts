/**
 * The open event streams of one server, so that stopping it can end them
 * gracefully: on SIGTERM the drained turns' last events are committed and
 * published first, then every follower is asked to send what is durable and
 * end its body cleanly, and only then are connections closed. Cutting the
 * sockets straight away lost those last events for followers whose frames
 * were still queued or in the socket's buffer.
 */
export interface ClosableStream {
  /** Send what is durable now, then end cleanly (SseFeed.close). */
  close(): void;
  /** Give up on it: release it now, sending nothing more. */
  stop(): void;
}

export class SseFollowers {
  readonly #open = new Set<ClosableStream>();
  #idle: (() => void)[] = [];

  /**
   * Tracks a stream until the returned `done` is called, which its sink does
   * once the body is over and flushed (or the client left). Idempotent.
   */
  add(stream: ClosableStream): () => void {
    this.#open.add(stream);
    return () => {
      if (!this.#open.delete(stream) || this.#open.size > 0) return;
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    };
  }

  get size(): number {
    return this.#open.size;
  }

  /**
   * Ends every open stream after what is durable, and resolves when all are
   * over; those still open after `timeoutMs` (a reader that stopped reading)
   * are stopped. Resolves with how many had to be stopped.
   */
  async closeAll(timeoutMs: number): Promise<number> {
    for (const stream of [...this.#open]) stream.close();
    if (this.#open.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      new Promise<false>((resolve) => this.#idle.push(() => resolve(false))),
      new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return 0;
    const late = [...this.#open];
    for (const stream of late) stream.stop();
    this.#open.clear();
    return late.length;
  }
}
