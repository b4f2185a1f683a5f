/**
 * Connect-token nonces already used (DESIGN §3: a CONNECT whose nonce was seen is refused).
 *
 * A nonce needs remembering only while its token could still pass the time check: until
 * `t + skewMs`. After that the clock refuses a replay on its own. So each entry expires at
 * `t + skewMs`, and the cache is bounded by `limits.nonceCacheSize`. When it is full of live
 * nonces it refuses to record another (the caller answers "server unavailable") instead of
 * forgetting one that could then be replayed: fail closed.
 */

export type NonceVerdict = 'fresh' | 'seen' | 'full';

/**
 * The key of a connect token's nonce: principal and nonce, so that principals never collide.
 * MQTT (credentials.ts) and HTTP (http/auth.ts) claim the same key in one shared cache
 * (server.ts), so a token serves one use on either protocol.
 */
export function connectNonceKey(principal: string, nonce: Uint8Array): string {
  return `${principal}:${Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('hex')}`;
}

export class NonceCache {
  readonly #capacity: number;
  /** key → expiry (ms). Map order is insertion order, which is roughly expiry order. */
  readonly #entries = new Map<string, number>();

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be >= 1');
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records `key` (principal and nonce) until `expires`. 'seen' if it is remembered and not
   * expired; 'full' if the cache holds `capacity` live entries (nothing recorded).
   */
  claim(key: string, expires: number, now: number): NonceVerdict {
    this.#sweep(now, 16);
    const known = this.#entries.get(key);
    if (known !== undefined && known > now) return 'seen';
    if (known === undefined && this.#entries.size >= this.#capacity) {
      // Entries are not strictly in expiry order: look at all of them once before giving up.
      this.#sweep(now, Number.POSITIVE_INFINITY, true);
      if (this.#entries.size >= this.#capacity) return 'full';
    }
    this.#entries.delete(key);
    this.#entries.set(key, expires);
    return 'fresh';
  }

  /** Drops expired entries from the front (at most `budget`), or everywhere with `all`. */
  #sweep(now: number, budget: number, all = false): void {
    let looked = 0;
    for (const [key, expiry] of this.#entries) {
      if (looked++ >= budget) return;
      if (expiry <= now) this.#entries.delete(key);
      else if (!all) return;
    }
  }
}
