/**
 * Device publishes handed to a handler and not yet answered. Graceful stop (issue 4) waits
 * until none is left, so every reading already being stored gets its PUBACK before the broker
 * closes.
 */
export class Inflight {
  #count = 0;
  #waiters: Array<() => void> = [];

  get size(): number {
    return this.#count;
  }

  /** Counts one; call the returned function exactly once when it is answered. */
  begin(): () => void {
    this.#count++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#count--;
      if (this.#count === 0) for (const wake of this.#waiters.splice(0)) wake();
    };
  }

  /** Resolves once nothing is in flight, or after `timeoutMs` (true: drained, false: timed out). */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(wake);
    });
  }
}
