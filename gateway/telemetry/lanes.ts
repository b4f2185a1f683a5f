/**
 * Per-device turns in arrival order. Readings of one device are verified in parallel (the
 * pool batches them across workers, so they finish in any order), but DESIGN §3's seq rules
 * compare each reading with the ones before it: the seq decision of a reading must wait for
 * the decisions of every reading of that device that arrived earlier. A device's readings
 * arrive in publish order on its one connection, so arrival order is the device's order.
 */

export interface Turn {
  /** Resolves once every earlier turn of the same key has ended. */
  readonly wait: Promise<void>;
  /** Ends this turn (idempotent). Call it exactly when the decision is made, or refused early. */
  end(): void;
}

interface Lane {
  tail: Promise<void>;
  /** Turns taken and not ended. */
  open: number;
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
      lane = { tail: Promise.resolve(), open: 0 };
      this.#lanes.set(key, lane);
    }
    const current = lane;
    current.open++;
    const wait = current.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The next turn waits for every earlier one and this one, even if this one ends first.
    current.tail = wait.then(() => mine);
    let ended = false;
    return {
      wait,
      end: () => {
        if (ended) return;
        ended = true;
        release();
        current.open--;
        // Every turn taken has ended: a new lane can start from a resolved tail.
        if (current.open === 0 && this.#lanes.get(key) === current) this.#lanes.delete(key);
      },
    };
  }
}
