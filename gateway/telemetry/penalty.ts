/**
 * A client that keeps failing is slowed, then cut off for a while (issue 4). This module only
 * decides; the broker acts on the decision (delays its acknowledgements by `delayMs`, closes
 * the connection and refuses reconnects while `bannedUntil` lies ahead).
 *
 * Each principal has a failure score that every refusal raises by one and that time lowers by
 * one per `forgiveMs` (a leaky bucket), so a device with an occasional bad reading is never
 * punished and a flood is. From `failuresBeforeSlowdown` the decision is `slow`, with a delay
 * that doubles per further failure up to `slowMaxMs`; at twice that score the principal is
 * banned for `banMs` (0: slow down only), after which its score restarts at the slowdown
 * threshold, so a client that resumes failing is banned again quickly.
 */
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { MedgateError } from '../errors.js';

export type PenaltyDecision = 'ok' | 'slow' | 'ban';

export interface PenaltyOptions {
  /** Failures (net of forgiveness) before `slow` (config `limits.failuresBeforeSlowdown`). */
  readonly failuresBeforeSlowdown: number;
  /** Length of a ban in ms; 0 = never ban (config `limits.banMs`). */
  readonly banMs: number;
  /** One failure is forgiven per this many ms. Default 10 s. */
  readonly forgiveMs?: number;
  /** Delay at the slowdown threshold. Default 100 ms. */
  readonly slowBaseMs?: number;
  /** Longest delay. Default 5 s. */
  readonly slowMaxMs?: number;
  /** Principals remembered; beyond, the least recently failing are forgotten. Default 100,000. */
  readonly maxTracked?: number;
  readonly now?: () => number;
}

export const PENALTY_DEFAULTS = Object.freeze({
  forgiveMs: 10_000,
  slowBaseMs: 100,
  slowMaxMs: 5_000,
  maxTracked: 100_000,
});

interface Entry {
  score: number;
  /** When `score` was last brought up to date. */
  at: number;
  bannedUntil: number;
}

function intOption(value: number, name: string, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be an integer >= ${min}`, {
      field: name,
      got: value,
    });
  }
  return value;
}

export class Penalty {
  readonly #threshold: number;
  readonly #banMs: number;
  readonly #forgiveMs: number;
  readonly #slowBaseMs: number;
  readonly #slowMaxMs: number;
  readonly #maxTracked: number;
  readonly #now: () => number;
  /** Insertion order = order of the last failure (a record is re-inserted on each). */
  readonly #records = new Map<string, Entry>();

  constructor(options: PenaltyOptions) {
    this.#threshold = intOption(options.failuresBeforeSlowdown, 'failuresBeforeSlowdown', 1);
    this.#banMs = intOption(options.banMs, 'banMs', 0);
    this.#forgiveMs = intOption(options.forgiveMs ?? PENALTY_DEFAULTS.forgiveMs, 'forgiveMs', 1);
    this.#slowBaseMs = intOption(options.slowBaseMs ?? PENALTY_DEFAULTS.slowBaseMs, 'slowBaseMs', 0);
    this.#slowMaxMs = intOption(options.slowMaxMs ?? PENALTY_DEFAULTS.slowMaxMs, 'slowMaxMs', 0);
    this.#maxTracked = intOption(options.maxTracked ?? PENALTY_DEFAULTS.maxTracked, 'maxTracked', 1);
    this.#now = options.now ?? Date.now;
  }

  /** Principals with a record. */
  get size(): number {
    return this.#records.size;
  }

  /** Records one failure of `principal` and returns what the broker should do now. */
  onRefusal(principal: string): PenaltyDecision {
    const now = this.#now();
    const record = this.#current(principal, now) ?? { score: 0, at: now, bannedUntil: 0 };
    this.#records.delete(principal);
    this.#records.set(principal, record);
    this.#evict();
    if (record.bannedUntil > now) return 'ban';
    record.score += 1;
    if (this.#banMs > 0 && record.score >= 2 * this.#threshold) {
      record.bannedUntil = now + this.#banMs;
      record.score = this.#threshold;
      return 'ban';
    }
    return record.score >= this.#threshold ? 'slow' : 'ok';
  }

  /** The decision for `principal` now, without recording anything. */
  status(principal: string): PenaltyDecision {
    const now = this.#now();
    const record = this.#current(principal, now);
    if (record === undefined) return 'ok';
    if (record.bannedUntil > now) return 'ban';
    return record.score >= this.#threshold ? 'slow' : 'ok';
  }

  /** How long the broker should hold this principal's next acknowledgement (0 unless slowed). */
  delayMs(principal: string): number {
    const record = this.#current(principal, this.#now());
    if (record === undefined || record.score < this.#threshold) return 0;
    const doublings = Math.min(30, Math.floor(record.score) - this.#threshold);
    return Math.min(this.#slowMaxMs, this.#slowBaseMs * 2 ** doublings);
  }

  /** End of the principal's ban (ms), if it is banned now. */
  bannedUntil(principal: string): number | undefined {
    const now = this.#now();
    const until = this.#records.get(principal)?.bannedUntil ?? 0;
    return until > now ? until : undefined;
  }

  /** Forgets `principal` (an admin lifted the penalty). */
  forgive(principal: string): void {
    this.#records.delete(principal);
  }

  /** The record with its score decayed to `now`; expired, harmless records are dropped. */
  #current(principal: string, now: number): Entry | undefined {
    const record = this.#records.get(principal);
    if (record === undefined) return undefined;
    const forgiven = Math.max(0, now - record.at) / this.#forgiveMs;
    record.score = Math.max(0, record.score - forgiven);
    record.at = now;
    if (record.score === 0 && record.bannedUntil <= now) {
      this.#records.delete(principal);
      return undefined;
    }
    return record;
  }

  /** Bounded memory: drop the principals whose last failure is oldest. */
  #evict(): void {
    for (const key of this.#records.keys()) {
      if (this.#records.size <= this.#maxTracked) return;
      this.#records.delete(key);
    }
  }
}
