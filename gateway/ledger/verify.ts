/**
 * Full verification of a stored ledger (DESIGN §4, `medgate ledger verify`): replays the chain
 * from genesis and checks everything a block commits to, naming the FIRST bad block.
 *
 * Per block, in height order: the header decodes and is signed by an authority key of the
 * chain (external_aad = chain id); height and `prev` follow the block before; time does not go
 * back; the stored transactions match txCount and txRoot; every transaction passes `apply`
 * with the block's time and height; the log checkpoint grows, and its root equals the root
 * recomputed by streaming the stored leaf hashes, in order, through a CompactRange; every
 * stored perfect node equals the node recomputed from the leaves; every stored reading hashes
 * to its leaf; a stored state snapshot equals the replayed state. Genesis: its one transaction
 * is the genesis config it is signed over, and the initial state comes from that config.
 * Leaves after the last checkpoint are checked the same way (reported without a height).
 *
 * Everything is read by sequential LevelDB iterators, one per keyspace, so memory stays
 * O(log n) and each key is read once.
 */

import { hash as nodeHash } from 'node:crypto';
import { GENESIS_PREV, type SignedBlock, txRootOf, verifyBlock } from '../../firmware-ts/protocol/block.js';
import { equalBytes, toHex } from '../../firmware-ts/protocol/bytes.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { CompactRange, EMPTY_ROOT } from '../../firmware-ts/protocol/merkle/index.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import { BlockStore, parseChainKey } from './blocks.js';
import { type DataDirOptions, type LedgerDb, openDataDir } from './data-dir.js';
import { decodeGenesisBytes, genesisState } from './genesis.js';
import { decodeU64, HASH_BYTES, KeyPrefix, META, metaKey, recordKey } from './keys.js';
import { createStateMachine, type StateMachine } from './state/apply.js';
import { encodeState } from './state/encode.js';
import type { State } from './state/state.js';

export interface VerifyOptions {
  readonly backend?: Ed25519Backend;
  /**
   * Pinned authority public keys: blocks must be signed by one of them (and the genesis
   * config must name them all). Default: the authorities the genesis config names.
   */
  readonly authorities?: readonly Uint8Array[];
  readonly dataDir?: DataDirOptions;
}

export interface VerifyFailure {
  /** The first bad block; null when the fault is outside every block (tip pointer, unanchored leaves). */
  readonly height: number | null;
  readonly code: string;
  readonly message: string;
  /** The code of the underlying refusal (signature, state rule, decoder), when there is one. */
  readonly causeCode?: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly chain?: string;
  /** Blocks, transactions (genesis config excluded), leaves, readings and nodes checked. */
  readonly blocks: number;
  readonly txs: number;
  readonly leaves: number;
  readonly readings: number;
  readonly nodes: number;
  /** Wall time: in all, replaying transactions, and streaming leaves (nodes and readings included). */
  readonly ms: { readonly total: number; readonly txs: number; readonly leaves: number };
  readonly tip?: { readonly height: number; readonly hash: string; readonly logSize: number };
  readonly failure?: VerifyFailure;
}

/** Opens `dir` (taking its lock) and verifies it. */
export async function verifyLedgerDir(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const dataDir = await openDataDir(dir, options.dataDir);
  try {
    return await verifyStore(dataDir.db, options);
  } finally {
    await dataDir.close();
  }
}

/** A failure of the stored chain, tied to a block. */
class ChainFault extends MedgateError {
  readonly height: number | null;
  constructor(height: number | null, code: string, message: string, cause?: unknown) {
    super(code, message, cause === undefined ? {} : { cause });
    this.height = height;
  }
}

const fault = (height: number | null, code: string, message: string, cause?: unknown) =>
  new ChainFault(height, code, message, cause);

/** Verifies the ledger in an open database. Never throws for a bad chain: see `failure`. */
export async function verifyStore(db: LedgerDb, options: VerifyOptions = {}): Promise<VerifyReport> {
  const run = new Verification(db, options.backend ?? nodeBackend, options.authorities);
  try {
    await run.run();
    return run.report();
  } catch (err) {
    if (!(err instanceof ChainFault)) throw err;
    const cause = (err as { cause?: unknown }).cause;
    const causeCode = isMedgateError(cause) ? cause.code : undefined;
    const failure: VerifyFailure = {
      height: err.height,
      code: err.code,
      message: err.message,
      ...(causeCode === undefined ? {} : { causeCode }),
    };
    return { ...run.report(), ok: false, failure };
  } finally {
    await run.close();
  }
}

/**
 * RFC 9162 §2.1.1 leafHash(data) = SHA-256(0x00 ‖ data), as protocol/merkle's `leafHash`, on
 * node:crypto: the reading check hashes every stored reading, and OpenSSL is about 3 times
 * faster than the portable implementation here (docs: REFERENCE "Measured here").
 */
function readingLeafHash(data: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + data.length);
  input.set(data, 1);
  return nodeHash('sha256', input, 'buffer');
}

type Entry = [Uint8Array, Uint8Array];

/**
 * A forward-only LevelDB iterator with a look-ahead of one entry. Entries come in batches, and
 * the next batch is read while this one is consumed (one read in flight per iterator), so the
 * verifier rarely waits for the disk.
 */
class Cursor {
  static readonly BATCH = 2048;
  readonly #it: { nextv(size: number): Promise<Entry[]>; close(): Promise<void> };
  #buffer: Entry[] = [];
  #at = 0;
  #ahead: Promise<Entry[]> | undefined;
  #done = false;

  constructor(db: LedgerDb, gte: Uint8Array, lt: Uint8Array) {
    this.#it = db.iterator({ gte, lt });
  }

  /** The next entry without consuming it; undefined at the end. */
  async peek(): Promise<Entry | undefined> {
    if (this.#at < this.#buffer.length) return this.#buffer[this.#at];
    if (this.#done) return undefined;
    this.#buffer = await (this.#ahead ?? this.#it.nextv(Cursor.BATCH));
    this.#at = 0;
    if (this.#buffer.length === 0) {
      this.#done = true;
      this.#ahead = undefined;
    } else this.#ahead = this.#it.nextv(Cursor.BATCH);
    return this.#buffer[0];
  }

  async next(): Promise<Entry | undefined> {
    const entry = await this.peek();
    if (entry !== undefined) this.#at++;
    return entry;
  }

  async close(): Promise<void> {
    await this.#ahead?.catch(() => undefined);
    await this.#it.close();
  }
}

function prefixRange(prefix: number): [Uint8Array, Uint8Array] {
  return [Uint8Array.of(prefix), Uint8Array.of(prefix + 1)];
}

/** u64 index at the end of a key of `length` bytes; undefined if malformed. */
function indexOfKey(key: Uint8Array, length: number): number | undefined {
  return key.length === length ? decodeU64(key.subarray(length - 8)) : undefined;
}

class Verification {
  readonly #db: LedgerDb;
  readonly #store: BlockStore;
  readonly #backend: Ed25519Backend;
  readonly #pinned: readonly Uint8Array[] | undefined;
  readonly #machine: StateMachine;
  readonly #cursors: Cursor[] = [];
  #blocksCursor!: Cursor;
  #txCursor!: Cursor;
  #snapshotCursor!: Cursor;
  /** Leaf records (keys.ts): hashes ‖ reading, in index order. */
  #recordCursor!: Cursor;
  readonly #range = new CompactRange();
  #chain: string | undefined;
  #state: State | undefined;
  #prev: SignedBlock | undefined;
  #prunedBefore = 0;
  #logSize = 0;
  readonly #counts = { blocks: 0, txs: 0, leaves: 0, readings: 0, nodes: 0 };
  readonly #started = performance.now();
  readonly #ms = { txs: 0, leaves: 0 };

  constructor(db: LedgerDb, backend: Ed25519Backend, pinned: readonly Uint8Array[] | undefined) {
    this.#db = db;
    this.#store = new BlockStore(db);
    this.#backend = backend;
    this.#pinned = pinned;
    this.#machine = createStateMachine({ backend });
  }

  #cursor(gte: Uint8Array, lt: Uint8Array): Cursor {
    const cursor = new Cursor(this.#db, gte, lt);
    this.#cursors.push(cursor);
    return cursor;
  }

  async close(): Promise<void> {
    await Promise.all(this.#cursors.map((c) => c.close()));
  }

  report(): VerifyReport {
    const prev = this.#prev;
    return {
      ok: true,
      ...(this.#chain === undefined ? {} : { chain: this.#chain }),
      ...this.#counts,
      ms: {
        total: Math.round(performance.now() - this.#started),
        txs: Math.round(this.#ms.txs),
        leaves: Math.round(this.#ms.leaves),
      },
      ...(prev === undefined
        ? {}
        : { tip: { height: prev.header.height, hash: toHex(prev.hash), logSize: prev.header.log.size } }),
    };
  }

  async run(): Promise<void> {
    const tip = await this.#readTip();
    this.#logSize = (await this.#readMeta(META.logSize)) ?? 0;
    this.#prunedBefore = (await this.#readMeta(META.logPrunedBefore)) ?? 0;
    this.#blocksCursor = this.#cursor(...prefixRange(KeyPrefix.block));
    this.#txCursor = this.#cursor(...prefixRange(KeyPrefix.tx));
    this.#snapshotCursor = this.#cursor(...prefixRange(KeyPrefix.state));
    this.#recordCursor = this.#cursor(recordKey(0), prefixRange(KeyPrefix.node)[1]);

    for (let height = 0; ; height++) {
      const entry = await this.#blocksCursor.next();
      if (entry === undefined) {
        if (height <= tip)
          throw fault(height, GatewayErrorCode.CHAIN_BAD_BLOCK, `block ${height} is missing`);
        break;
      }
      const stored = parseChainKey(entry[0]);
      if (stored === undefined || stored.height !== height) {
        throw fault(height, GatewayErrorCode.CHAIN_BAD_BLOCK, `block ${height} is missing`);
      }
      if (height > tip) {
        throw fault(
          null,
          GatewayErrorCode.CHAIN_TIP,
          `the tip pointer names block ${tip}, but block ${height} exists`,
        );
      }
      await this.#verifyBlock(height, entry[1]);
    }
    // Leaves after the last checkpoint: durable and acknowledged, not yet in a block.
    await this.#timed('leaves', () => this.#leaves(this.#prev!.header.log.size, this.#logSize, null));
    const stray = await this.#txCursor.peek();
    if (stray !== undefined) {
      const at = parseChainKey(stray[0])?.height ?? null;
      throw fault(
        at,
        GatewayErrorCode.CHAIN_TX_MISMATCH,
        `a transaction is stored for block ${at} beyond its txCount`,
      );
    }
  }

  async #readTip(): Promise<number> {
    try {
      const tip = await this.#store.tipHeight();
      if (tip === undefined) {
        throw new MedgateError(
          GatewayErrorCode.LEDGER_NOT_INITIALIZED,
          'the data directory holds no genesis block',
        );
      }
      return tip;
    } catch (err) {
      if (isMedgateError(err, GatewayErrorCode.LEDGER_CORRUPT)) {
        throw fault(null, GatewayErrorCode.CHAIN_TIP, 'the tip pointer is malformed', err);
      }
      throw err;
    }
  }

  async #readMeta(name: string): Promise<number | undefined> {
    const value = await this.#db.get(metaKey(name));
    if (value === undefined) return undefined;
    const n = decodeU64(value);
    if (n === undefined)
      throw fault(null, GatewayErrorCode.CHAIN_CHECKPOINT, `meta key ${name} is malformed`);
    return n;
  }

  async #verifyBlock(height: number, bytes: Uint8Array): Promise<void> {
    const txs = await this.#txsOf(height);
    let block: SignedBlock;
    let state: State;
    if (height === 0) {
      ({ block, state } = this.#verifyGenesis(bytes, txs));
    } else {
      block = this.#signed(height, bytes);
      const prev = this.#prev!;
      const h = block.header;
      if (h.height !== height || !equalBytes(h.prev, prev.hash)) {
        throw fault(
          height,
          GatewayErrorCode.CHAIN_BROKEN_LINK,
          `block ${height} does not follow block ${height - 1}`,
        );
      }
      if (h.t < prev.header.t) {
        throw fault(
          height,
          GatewayErrorCode.CHAIN_TIME,
          `block ${height} is earlier than block ${height - 1}`,
        );
      }
      this.#checkTxRoot(height, block, txs);
      state = this.#state!;
      const at = { time: h.t, height };
      const applyStart = performance.now();
      for (let i = 0; i < txs.length; i++) {
        try {
          state = this.#machine.apply(state, txs[i] as Uint8Array, at).state;
        } catch (cause) {
          const code = isMedgateError(cause) ? `: ${cause.code}` : '';
          throw fault(
            height,
            GatewayErrorCode.CHAIN_TX_REFUSED,
            `block ${height} tx ${i} is refused${code}`,
            cause,
          );
        }
      }
      this.#ms.txs += performance.now() - applyStart;
      this.#counts.txs += txs.length;
      await this.#checkpoint(block);
    }
    await this.#checkSnapshot(height, state);
    this.#state = state;
    this.#prev = block;
    this.#counts.blocks++;
  }

  #verifyGenesis(bytes: Uint8Array, txs: readonly Uint8Array[]): { block: SignedBlock; state: State } {
    const bad = (message: string, cause?: unknown) =>
      fault(0, GatewayErrorCode.CHAIN_GENESIS, message, cause);
    if (txs.length !== 1) throw bad(`the genesis block must hold exactly one config, found ${txs.length}`);
    const configBytes = txs[0] as Uint8Array;
    let config: ReturnType<typeof decodeGenesisBytes>;
    try {
      config = decodeGenesisBytes(configBytes);
    } catch (cause) {
      throw bad('the genesis config does not decode', cause);
    }
    this.#chain = config.chain;
    if (this.#pinned !== undefined) {
      for (const pub of this.#pinned) {
        if (!config.authorities.some((a) => equalBytes(a, pub))) {
          throw fault(
            0,
            GatewayErrorCode.CHAIN_BAD_BLOCK,
            'the genesis config does not name the pinned authority key',
          );
        }
      }
    }
    const block = this.#signed(0, bytes, config.authorities);
    const h = block.header;
    this.#checkTxRoot(0, block, txs);
    if (h.height !== 0 || !equalBytes(h.prev, GENESIS_PREV))
      throw bad('the genesis block must have height 0 and zero prev');
    if (h.log.size !== 0 || !equalBytes(h.log.root, EMPTY_ROOT))
      throw bad('the genesis block must checkpoint the empty log');
    let state: State;
    try {
      state = genesisState(config, h.t);
    } catch (cause) {
      throw bad('the genesis config is inconsistent', cause);
    }
    return { block, state };
  }

  /** Decodes and verifies a header with the chain's (or the pinned) authority keys. */
  #signed(height: number, bytes: Uint8Array, genesisAuthorities?: readonly Uint8Array[]): SignedBlock {
    const authorities = this.#pinned ?? genesisAuthorities ?? this.#state!.authorities;
    try {
      return verifyBlock(bytes, { authorities, chain: this.#chain! }, this.#backend);
    } catch (cause) {
      const code = isMedgateError(cause) ? `: ${cause.code}` : '';
      throw fault(
        height,
        GatewayErrorCode.CHAIN_BAD_BLOCK,
        `block ${height} header is invalid${code}`,
        cause,
      );
    }
  }

  #checkTxRoot(height: number, block: SignedBlock, txs: readonly Uint8Array[]): void {
    if (txs.length !== block.header.txCount || !equalBytes(txRootOf(txs), block.header.txRoot)) {
      throw fault(
        height,
        GatewayErrorCode.CHAIN_TX_MISMATCH,
        `block ${height}: the ${txs.length} stored transactions do not match txCount ${block.header.txCount} and txRoot`,
      );
    }
  }

  /** The stored transactions of block `height`: every `t` key up to it (earlier ones are strays). */
  async #txsOf(height: number): Promise<Uint8Array[]> {
    const txs: Uint8Array[] = [];
    for (;;) {
      const entry = await this.#txCursor.peek();
      if (entry === undefined) break;
      const key = parseChainKey(entry[0]);
      if (key === undefined || key.height < height) {
        const at = key?.height ?? height;
        throw fault(
          at,
          GatewayErrorCode.CHAIN_TX_MISMATCH,
          `block ${at}: a stored transaction key is out of place`,
        );
      }
      if (key.height > height) break;
      if (key.index !== txs.length) {
        throw fault(
          height,
          GatewayErrorCode.CHAIN_TX_MISMATCH,
          `block ${height}: transaction ${txs.length} is missing`,
        );
      }
      txs.push(entry[1]);
      await this.#txCursor.next();
    }
    return txs;
  }

  async #checkpoint(block: SignedBlock): Promise<void> {
    const { height, log } = block.header;
    const before = this.#prev!.header.log.size;
    if (log.size < before) {
      throw fault(
        height,
        GatewayErrorCode.CHAIN_CHECKPOINT,
        `block ${height}: the log shrank from ${before} to ${log.size}`,
      );
    }
    if (log.size > this.#logSize) {
      throw fault(
        height,
        GatewayErrorCode.CHAIN_CHECKPOINT,
        `block ${height} checkpoints ${log.size} leaves; the log holds ${this.#logSize}`,
      );
    }
    await this.#timed('leaves', () => this.#leaves(before, log.size, height));
    if (!equalBytes(this.#range.root(), log.root)) {
      throw fault(
        height,
        GatewayErrorCode.CHAIN_CHECKPOINT,
        `block ${height}: the log root at size ${log.size} differs`,
      );
    }
  }

  /**
   * Streams leaves [from, to) through the compact range. Each leaf record must hold the leaf
   * hash, then exactly the nodes its append completes, as recomputed, then its reading.
   */
  async #leaves(from: number, to: number, height: number | null): Promise<void> {
    const where = (i: number) =>
      height === null ? `leaf ${i} (after the last block)` : `block ${height}: leaf ${i}`;
    for (let i = from; i < to; i++) {
      const entry = await this.#recordCursor.next();
      if (entry === undefined || indexOfKey(entry[0], 10) !== i || entry[1].length < HASH_BYTES) {
        throw fault(height, GatewayErrorCode.CHAIN_CHECKPOINT, `${where(i)} is missing or malformed`);
      }
      const record = entry[1];
      const completed = this.#range.append(record.subarray(0, HASH_BYTES));
      const hashes = HASH_BYTES * completed.length;
      if (record.length < hashes) {
        throw fault(height, GatewayErrorCode.CHAIN_NODE_MISMATCH, `${where(i)}: stored nodes are missing`);
      }
      for (let k = 1; k < completed.length; k++) {
        const { id, hash: computed } = completed[k]!;
        if (!equalBytes(record.subarray(HASH_BYTES * k, HASH_BYTES * (k + 1)), computed)) {
          throw fault(
            height,
            GatewayErrorCode.CHAIN_NODE_MISMATCH,
            `${where(i)}: stored node (level ${id.level}, index ${id.index}) differs from the leaves`,
          );
        }
        this.#counts.nodes++;
      }
      this.#reading(i, record, hashes, height, where);
      this.#counts.leaves++;
    }
  }

  async #timed(what: 'leaves', run: () => Promise<void>): Promise<void> {
    const start = performance.now();
    try {
      await run();
    } finally {
      this.#ms[what] += performance.now() - start;
    }
  }

  /**
   * The reading in leaf record `record` (after its `hashes` bytes) must hash to its leaf hash: always at or above
   * the pruning point (none left counts as the empty reading, which does not hash to the
   * leaf), and below it while bytes are left (a prune cut short by a crash).
   */
  #reading(
    i: number,
    record: Uint8Array,
    hashes: number,
    height: number | null,
    where: (i: number) => string,
  ): void {
    if (i < this.#prunedBefore && record.length === hashes) return;
    const reading = record.subarray(hashes);
    if (!equalBytes(readingLeafHash(reading), record.subarray(0, HASH_BYTES))) {
      const what = reading.length === 0 ? 'is missing' : 'does not hash to its leaf';
      throw fault(height, GatewayErrorCode.CHAIN_READING_MISMATCH, `${where(i)}: the reading ${what}`);
    }
    this.#counts.readings++;
  }

  async #checkSnapshot(height: number, state: State): Promise<void> {
    const entry = await this.#snapshotCursor.peek();
    if (entry === undefined) return;
    const key = parseChainKey(entry[0]);
    if (key === undefined || key.height < height) {
      throw fault(
        key?.height ?? height,
        GatewayErrorCode.CHAIN_SNAPSHOT_MISMATCH,
        'a snapshot key is out of place',
      );
    }
    if (key.height > height) return;
    await this.#snapshotCursor.next();
    if (!equalBytes(entry[1], encodeState(state))) {
      throw fault(
        height,
        GatewayErrorCode.CHAIN_SNAPSHOT_MISMATCH,
        `block ${height}: the state snapshot differs`,
      );
    }
  }
}
