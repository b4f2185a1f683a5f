/**
 * Cuts blocks (DESIGN §4): every `intervalMs`, or at once when `maxTxPerBlock` transactions
 * wait; skipped when nothing changed (no transaction and the log size unchanged).
 *
 * A cut takes the waiting transactions, applies each with the block's own time and height
 * (refusals go back to their submitters with the state machine's code), takes the reading
 * log's DURABLE checkpoint (so a block never refers to a leaf a crash could lose), signs the
 * header and writes the block as one synced batch. Only then are the submitters told where
 * their transactions landed. At most one cut runs at a time.
 */

import {
  BLOCK_VERSION,
  type BlockHeader,
  type Checkpoint,
  type SignedBlock,
  signBlock,
  txRootOf,
} from '../../firmware-ts/protocol/block.js';
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';
import type { CoseSigner } from '../../firmware-ts/protocol/cose.js';
import { txId } from '../../firmware-ts/protocol/tx/sign.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { BlockStore } from './blocks.js';
import type { StateMachine } from './state/apply.js';
import type { Effect } from './state/effects.js';
import { encodeState } from './state/encode.js';
import type { State } from './state/state.js';
import type { PoolEntry, Speculation, TxPool } from './tx-pool.js';

/** The last block and the state after it. */
export interface ChainHead {
  readonly block: SignedBlock;
  readonly state: State;
}

/** What a cut produced, for listeners (the gateway acts on the effects). */
export interface ProducedBlock {
  readonly block: SignedBlock;
  readonly txs: readonly Uint8Array[];
  /** Effects of each transaction, in block order. */
  readonly effects: readonly (readonly Effect[])[];
}

export interface BlockProducerOptions {
  /** Cut every this many ms; 0 = only on demand and on count. */
  readonly intervalMs: number;
  /**
   * When > 0, an idle ledger still cuts an empty block once its last block is this old, so
   * devices keep learning a fresh signed time (DESIGN §5: freeze attacks are judged against the
   * newest block time a device saw) and rollouts whose not-before has passed open. 0 = never.
   */
  readonly heartbeatMs?: number;
  readonly maxTxPerBlock: number;
  /** Write a state snapshot with every block whose height is a multiple of this. */
  readonly snapshotEvery: number;
  readonly now: () => number;
  readonly onBlock?: (produced: ProducedBlock) => void;
  /** A timed or count-triggered cut failed (the submitters concerned got the error too). */
  readonly onError?: (error: Error) => void;
}

export interface BlockProducerDeps {
  readonly store: BlockStore;
  readonly log: { checkpoint(): Checkpoint };
  readonly pool: TxPool;
  readonly machine: StateMachine;
  readonly signer: CoseSigner;
}

export class BlockProducer {
  readonly #deps: BlockProducerDeps;
  readonly #options: BlockProducerOptions;
  #head: ChainHead;
  /** Settles after the last queued cut; cuts chain on it, so at most one runs. */
  #tail: Promise<unknown> = Promise.resolve();
  /** A cut queued behind the running one: further requests share it. */
  #queued: Promise<SignedBlock | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Set when a write failed and the disk could not say whether it landed: no more cuts. */
  #broken: MedgateError | undefined;

  constructor(deps: BlockProducerDeps, head: ChainHead, options: BlockProducerOptions) {
    this.#deps = deps;
    this.#head = head;
    this.#options = options;
  }

  get head(): ChainHead {
    return this.#head;
  }

  /** Where a transaction submitted now would be checked: the next block, at the clock's time. */
  speculation(): Speculation {
    const { header } = this.#head.block;
    return { time: Math.max(this.#options.now(), header.t), height: header.height + 1 };
  }

  /**
   * Starts the interval timer. It holds the process open only while transactions wait for a
   * block (their submitters are awaiting it); an idle ledger does not keep the process alive.
   */
  start(): void {
    if (this.#options.intervalMs <= 0 || this.#stopped) return;
    const tick = () => {
      this.#timer = undefined;
      this.cut()
        .catch((err: unknown) => this.#report(err))
        .finally(() => {
          if (!this.#stopped) this.#schedule(tick);
        });
    };
    this.#schedule(tick);
  }

  /** Called after a transaction was queued: cuts at once when a block's worth waits. */
  txAdded(): void {
    this.#timer?.ref();
    if (this.#deps.pool.size >= this.#options.maxTxPerBlock)
      this.cut().catch((err: unknown) => this.#report(err));
  }

  /** Cuts a block now (after any running cut). Resolves with it, or undefined when skipped. */
  cut(): Promise<SignedBlock | undefined> {
    if (this.#queued !== undefined) return this.#queued;
    const run = this.#tail.then(() => {
      this.#queued = undefined;
      return this.#cutNow();
    });
    this.#queued = run;
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Stops the timer and waits for the running cut. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#tail;
  }

  #schedule(tick: () => void): void {
    this.#timer = setTimeout(tick, this.#options.intervalMs);
    if (this.#deps.pool.size === 0) this.#timer.unref();
  }

  #report(err: unknown): void {
    this.#options.onError?.(err instanceof Error ? err : new Error(String(err)));
  }

  async #cutNow(): Promise<SignedBlock | undefined> {
    if (this.#broken !== undefined) throw this.#broken;
    const { store, log, pool, machine, signer } = this.#deps;
    const head = this.#head;
    const at = this.speculation();
    const entries = pool.take(this.#options.maxTxPerBlock);
    let state = head.state;
    const included: PoolEntry[] = [];
    const effects: (readonly Effect[])[] = [];
    let refused = false;
    for (const entry of entries) {
      try {
        const result = machine.apply(state, entry.bytes, at);
        state = result.state;
        included.push(entry);
        effects.push(result.effects);
      } catch (err) {
        refused = true;
        entry.reject(err as Error);
      }
    }
    // Durable size and root at one instant (ReadingLog.checkpoint): never a leaf still in flight.
    const checkpoint = log.checkpoint();
    const heartbeat = this.#options.heartbeatMs ?? 0;
    const due = heartbeat > 0 && at.time - head.block.header.t >= heartbeat;
    if (included.length === 0 && checkpoint.size === head.block.header.log.size && !due) {
      pool.settle(head.state, at, refused);
      return undefined;
    }
    const txs = included.map((e) => e.bytes);
    let block: SignedBlock;
    let snapshot: Uint8Array | undefined;
    try {
      const header: BlockHeader = {
        v: BLOCK_VERSION,
        chain: head.block.header.chain,
        height: at.height,
        prev: head.block.hash,
        t: at.time,
        txRoot: txRootOf(txs),
        txCount: txs.length,
        log: { size: checkpoint.size, root: checkpoint.root },
      };
      block = signBlock(header, signer);
      snapshot = at.height % this.#options.snapshotEvery === 0 ? encodeState(state) : undefined;
    } catch (err) {
      // Nothing was written: the transactions wait for the next cut.
      pool.settle(head.state, at, true, included);
      throw err;
    }
    try {
      await store.write(snapshot === undefined ? { block, txs } : { block, txs, snapshot });
    } catch (cause) {
      await this.#afterFailedWrite(block, cause, head, at, included);
    }
    this.#head = { block, state };
    included.forEach((entry, index) => {
      entry.resolve({ height: at.height, index, id: txId(entry.bytes) });
    });
    pool.settle(state, this.speculation(), refused);
    this.#options.onBlock?.({ block, txs, effects });
    if (pool.size >= this.#options.maxTxPerBlock && !this.#stopped) {
      this.cut().catch((err: unknown) => this.#report(err));
    }
    return block;
  }

  /**
   * A failed batch may or may not have reached the disk. If the block is there, the cut
   * succeeded after all (returns); if it is not, the transactions go back to the pool and
   * the error is thrown; if the disk cannot tell, the producer refuses every later cut.
   */
  async #afterFailedWrite(
    block: SignedBlock,
    cause: unknown,
    head: ChainHead,
    at: Speculation,
    included: readonly PoolEntry[],
  ): Promise<void> {
    let stored: Uint8Array | undefined;
    try {
      stored = await this.#deps.store.blockBytes(block.header.height);
    } catch (readError) {
      this.#broken = new MedgateError(
        GatewayErrorCode.LEDGER_WRITE_FAILED,
        'a block write failed and the store cannot be read back: reopen the ledger',
        { cause: readError },
      );
      for (const entry of included) entry.reject(this.#broken);
      this.#deps.pool.rejectAll(this.#broken);
      throw this.#broken;
    }
    if (stored !== undefined && equalBytes(stored, block.bytes)) return;
    this.#deps.pool.settle(head.state, at, true, included);
    throw new MedgateError(
      GatewayErrorCode.LEDGER_WRITE_FAILED,
      `block ${block.header.height} could not be written`,
      {
        cause,
      },
    );
  }
}
