/**
 * The block store: signed headers, their transactions, state snapshots and the tip pointer,
 * in the `b`, `t` and `s` keyspaces of the data directory's LevelDB (keys.ts).
 *
 * | key                              | value                                         |
 * | -------------------------------- | --------------------------------------------- |
 * | `b` ‖ height u64                 | signed header (COSE_Sign1 bytes)              |
 * | `t` ‖ height u64 ‖ index u32     | transaction COSE bytes (genesis: the config)  |
 * | `s` ‖ height u64                 | encodeState(state after the block)            |
 * | `m` ‖ "chain.tip"                | height u64 of the last block                  |
 *
 * A block is written as ONE batch with sync (header, transactions, tip, snapshot), so after a
 * crash the store holds whole blocks only and the tip names the last of them (DESIGN §4).
 */

import { decodeBlock, type SignedBlock } from '../../firmware-ts/protocol/block.js';
import { concatBytes } from '../../firmware-ts/protocol/bytes.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { LedgerDb } from './data-dir.js';
import { decodeU64, encodeU64, KeyPrefix, metaKey } from './keys.js';

/** Meta key of the tip pointer. */
export const TIP_KEY = metaKey('chain.tip');

export function blockKey(height: number): Uint8Array {
  return concatBytes(Uint8Array.of(KeyPrefix.block), encodeU64(height));
}

export function txKey(height: number, index: number): Uint8Array {
  const out = new Uint8Array(13);
  out[0] = KeyPrefix.tx;
  out.set(encodeU64(height), 1);
  new DataView(out.buffer).setUint32(9, index);
  return out;
}

export function snapshotKey(height: number): Uint8Array {
  return concatBytes(Uint8Array.of(KeyPrefix.state), encodeU64(height));
}

/** Height (and index, for `t` keys) of a key of this store; undefined for a malformed key. */
export function parseChainKey(
  key: Uint8Array,
): { prefix: number; height: number; index?: number } | undefined {
  const prefix = key[0];
  if (prefix === undefined) return undefined;
  const height = decodeU64(key.subarray(1, 9));
  if (height === undefined) return undefined;
  if (prefix === KeyPrefix.tx) {
    if (key.length !== 13) return undefined;
    return { prefix, height, index: new DataView(key.buffer, key.byteOffset).getUint32(9) };
  }
  return key.length === 9 ? { prefix, height } : undefined;
}

/** One block as written: its transactions in order, and optionally a state snapshot. */
export interface BlockWrite {
  readonly block: SignedBlock;
  readonly txs: readonly Uint8Array[];
  readonly snapshot?: Uint8Array;
}

function corrupt(message: string, cause?: unknown): MedgateError {
  return new MedgateError(GatewayErrorCode.LEDGER_CORRUPT, `chain: ${message}`, { cause });
}

export class BlockStore {
  readonly #db: LedgerDb;

  constructor(db: LedgerDb) {
    this.#db = db;
  }

  /** Height of the last block, from the tip pointer; undefined before genesis. */
  async tipHeight(): Promise<number | undefined> {
    const value = await this.#db.get(TIP_KEY);
    if (value === undefined) return undefined;
    const height = decodeU64(value);
    if (height === undefined) throw corrupt('the tip pointer is malformed');
    return height;
  }

  /** The raw signed header at `height`, or undefined. */
  async blockBytes(height: number): Promise<Uint8Array | undefined> {
    return this.#db.get(blockKey(height));
  }

  /** The decoded (not verified) header at `height`; MG_ERR_LEDGER_CORRUPT if absent or undecodable. */
  async block(height: number): Promise<SignedBlock> {
    const bytes = await this.blockBytes(height);
    if (bytes === undefined) throw corrupt(`block ${height} is missing`);
    try {
      return decodeBlock(bytes);
    } catch (cause) {
      throw corrupt(`block ${height} does not decode`, cause);
    }
  }

  /** The transactions of block `height`, in order. */
  async txs(height: number): Promise<Uint8Array[]> {
    return this.#db.values({ gte: txKey(height, 0), lte: txKey(height, 0xffff_ffff) }).all();
  }

  /** The newest snapshot at or below `maxHeight`. */
  async latestSnapshot(maxHeight: number): Promise<{ height: number; bytes: Uint8Array } | undefined> {
    const [entry] = await this.#db
      .iterator({ gte: snapshotKey(0), lte: snapshotKey(maxHeight), reverse: true, limit: 1 })
      .all();
    if (entry === undefined) return undefined;
    const parsed = parseChainKey(entry[0]);
    if (parsed === undefined) throw corrupt('a snapshot key is malformed');
    return { height: parsed.height, bytes: entry[1] };
  }

  /** Writes one block, its transactions, the tip and the snapshot as one synced batch. */
  async write({ block, txs, snapshot }: BlockWrite): Promise<void> {
    const { height } = block.header;
    const batch = this.#db.batch();
    batch.put(blockKey(height), block.bytes);
    for (let i = 0; i < txs.length; i++) batch.put(txKey(height, i), txs[i] as Uint8Array);
    if (snapshot !== undefined) batch.put(snapshotKey(height), snapshot);
    batch.put(TIP_KEY, encodeU64(height));
    await batch.write({ sync: true });
  }

  /**
   * The first height in [0, tip] whose block satisfies `pred`, where `pred` is monotone in the
   * height (false ... false true ... true), by binary search: O(log n) header reads. Log sizes
   * never decrease along the chain, so "log.size > i" and "log.size >= s" are such predicates.
   */
  async firstBlockWhere(
    tip: number,
    pred: (block: SignedBlock) => boolean,
  ): Promise<SignedBlock | undefined> {
    let lo = 0;
    let hi = tip + 1;
    let found: SignedBlock | undefined;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const block = await this.block(mid);
      if (pred(block)) {
        found = block;
        hi = mid;
      } else lo = mid + 1;
    }
    return found;
  }
}
