/**
 * Transactions waiting for the next block. A submission is checked at once against the
 * speculative state (the committed state plus every transaction already waiting), so a bad
 * transaction is refused to its submitter with the state machine's code instead of silently
 * vanishing at the next cut. The block producer applies each one again, authoritatively, with
 * the block's own time and height; only what passes there goes into the block.
 */
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { StateMachine } from './state/apply.js';
import type { State } from './state/state.js';

/** Where a transaction landed: its block, its index in the block, and its id (SHA-256 of the bytes). */
export interface TxPosition {
  readonly height: number;
  readonly index: number;
  readonly id: Uint8Array;
}

export interface PoolEntry {
  readonly bytes: Uint8Array;
  resolve(position: TxPosition): void;
  reject(error: Error): void;
}

export interface Speculation {
  /** Time to check submissions at (the producer's clock). */
  readonly time: number;
  /** Height of the block the transactions would go into. */
  readonly height: number;
}

export class TxPool {
  readonly #machine: StateMachine;
  readonly #maxPending: number;
  #entries: PoolEntry[] = [];
  /** Committed state with every waiting transaction applied. */
  #speculative: State;

  constructor(machine: StateMachine, committed: State, maxPending: number) {
    this.#machine = machine;
    this.#speculative = committed;
    this.#maxPending = maxPending;
  }

  get size(): number {
    return this.#entries.length;
  }

  /**
   * Checks `bytes` against the speculative state and queues it. Returns the promise the
   * producer settles once the transaction is in a durable block (or refused at the cut).
   * Rejects at once with the state machine's code, or MG_ERR_TX_POOL_FULL.
   */
  add(bytes: Uint8Array, at: Speculation): Promise<TxPosition> {
    if (this.#entries.length >= this.#maxPending) {
      return Promise.reject(
        new MedgateError(
          GatewayErrorCode.TX_POOL_FULL,
          `${this.#maxPending} transactions are already waiting`,
          {
            got: this.#entries.length,
            want: this.#maxPending,
          },
        ),
      );
    }
    let next: State;
    // The speculative state may already be stamped later than `at` (a clock that stepped back).
    const ctx = {
      time: Math.max(at.time, this.#speculative.time),
      height: Math.max(at.height, this.#speculative.height),
    };
    try {
      next = this.#machine.apply(this.#speculative, bytes, ctx).state;
    } catch (err) {
      return Promise.reject(err);
    }
    this.#speculative = next;
    return new Promise<TxPosition>((resolve, reject) => {
      this.#entries.push({ bytes, resolve, reject });
    });
  }

  /** Removes and returns the first `max` waiting entries, in submission order. */
  take(max: number): PoolEntry[] {
    return this.#entries.splice(0, max);
  }

  /**
   * After a cut: `committed` is the new committed state, `back` the entries taken but to be
   * tried again (a failed write), `rebuild` whether the speculative state is off (an entry was
   * refused at the cut, or put back). Without a rebuild the speculative state is kept: it
   * already holds the included transactions and the waiting ones, and re-checking thousands
   * of waiting signatures after every block would cost O(n) per block. With one, waiting
   * entries that no longer apply are refused now, with the state machine's code.
   */
  settle(committed: State, at: Speculation, rebuild: boolean, back: readonly PoolEntry[] = []): void {
    const entries = [...back, ...this.#entries];
    if (entries.length === 0) {
      this.#speculative = committed;
      this.#entries = [];
      return;
    }
    if (!rebuild && back.length === 0) return;
    this.#entries = [];
    let state = committed;
    for (const entry of entries) {
      try {
        state = this.#machine.apply(state, entry.bytes, at).state;
        this.#entries.push(entry);
      } catch (err) {
        entry.reject(err as Error);
      }
    }
    this.#speculative = state;
  }

  /** Refuses every waiting entry (the ledger is closing or broken). */
  rejectAll(error: Error): void {
    const entries = this.#entries;
    this.#entries = [];
    for (const entry of entries) entry.reject(error);
  }
}
