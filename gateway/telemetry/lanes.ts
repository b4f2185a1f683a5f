/**
 * Per-device turns in arrival order. Readings of one device are verified in parallel (the
 * pool batches them across workers, so they finish in any order), but DESIGN §3's seq rules
 * compare each reading with the ones before it: the seq decision of a reading must wait for
 * the decisions of every reading of that device that arrived earlier. A device's readings
 * arrive in publish order on its one connection, so arrival order is the device's order.
 *
 * Turns are numbered per key; turn k is `clear` once every turn before it has ended. A turn
 * that is clear when its holder gets there (the usual case) costs no promise: `wait` is made
 * only when asked for.
 */

export interface Turn {
  /** True once every earlier turn of the same key has ended. */
  readonly clear: boolean;
  /** Resolves once every earlier turn of the same key has ended. */
  readonly wait: Promise<void>;
  /** Ends this turn (idempotent). Call it exactly when the decision is made, or refused early. */
  readonly end: () => void;
}

interface Lane {
  /** Turns taken so far (the next turn's number). */
  taken: number;
  /** The lowest turn not ended: every turn below it has ended. */
  lowest: number;
  /** Turns above `lowest` that ended early (a refusal before their turn). */
  readonly endedEarly: Set<number>;
  /** Turn number → wake-up of a holder waiting for it. */
  readonly waiters: Map<number, () => void>;
}

export class Lanes {
  readonly #lanes = new Map<string, Lane>();

  /** Keys with a turn open. */
  get size(): number {
    return this.#lanes.size;
  }

  /** Takes the next turn of `key`. Synchronous, so the call order is the turn order. */
  enter(key: string): Turn {
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = { taken: 0, lowest: 0, endedEarly: new Set(), waiters: new Map() };
      this.#lanes.set(key, lane);
    }
    const current = lane;
    const index = current.taken++;
    let ended = false;
    let waiting: Promise<void> | undefined;
    return {
      get clear() {
        return current.lowest >= index;
      },
      get wait() {
        if (waiting === undefined) {
          waiting =
            current.lowest >= index
              ? Promise.resolve()
              : new Promise<void>((resolve) => current.waiters.set(index, resolve));
        }
        return waiting;
      },
      end: () => {
        if (ended) return;
        ended = true;
        if (index !== current.lowest) {
          current.endedEarly.add(index);
          return;
        }
        const from = current.lowest;
        current.lowest++;
        while (current.endedEarly.delete(current.lowest)) current.lowest++;
        // Turns from+1 .. lowest became clear.
        if (current.waiters.size > 0) {
          for (let k = from + 1; k <= current.lowest; k++) {
            const wake = current.waiters.get(k);
            if (wake !== undefined) {
              current.waiters.delete(k);
              wake();
            }
          }
        }
        // Every turn taken has ended: a new lane starts from turn 0.
        if (current.lowest === current.taken && this.#lanes.get(key) === current) this.#lanes.delete(key);
      },
    };
  }
}
