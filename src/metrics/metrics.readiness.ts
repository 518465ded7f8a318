/**
 * Readiness, for a load balancer: whether to send this process work. Not
 * ready until the listener is up and the boot-time recovery pass has run
 * over every tenant file on disk (each file is recovered when that pass, or
 * a request, first opens it); not ready again from the moment shutdown
 * begins, while turns drain. Liveness (`/health`) is a different question.
 */
export type ReadinessState = "starting" | "ready" | "draining";

export class Readiness {
  #listening = false;
  #recovered = false;

  constructor(private readonly draining: () => boolean) {}

  /** The HTTP listener is bound (main.ts calls it from serve's callback). */
  listening(): void {
    this.#listening = true;
  }

  /** The boot-time recovery pass has opened (and so recovered) every tenant file it found. */
  recovered(): void {
    this.#recovered = true;
  }

  get state(): ReadinessState {
    if (this.draining()) return "draining";
    return this.#listening && this.#recovered ? "ready" : "starting";
  }

  get detail(): { listening: boolean; recovered: boolean } {
    return { listening: this.#listening, recovered: this.#recovered };
  }
}
