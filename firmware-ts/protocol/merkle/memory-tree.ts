/**
 * An in-memory Merkle tree that stores what a ledger stores: every perfect subtree, level by
 * level, as CompactRange completes it. Proofs and roots for any earlier size come from those
 * nodes through the proof plans. For tests, the demo and the device simulator.
 */
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { CompactRange } from './compact-range.js';
import { consistencyProof } from './consistency.js';
import { HASH_SIZE } from './hash.js';
import { inclusionProof } from './inclusion.js';
import { checkSize, type NodeId } from './node-id.js';
import { rootOf } from './proof-plan.js';

/** The hashes of one level, packed in one growing buffer (a Uint8Array per node costs ~4x). */
class HashArray {
  #bytes = new Uint8Array(HASH_SIZE * 16);
  length = 0;

  push(hash: Uint8Array): void {
    if ((this.length + 1) * HASH_SIZE > this.#bytes.length) {
      const bigger = new Uint8Array(this.#bytes.length * 2);
      bigger.set(this.#bytes);
      this.#bytes = bigger;
    }
    this.#bytes.set(hash, this.length * HASH_SIZE);
    this.length++;
  }

  get(index: number): Uint8Array {
    return this.#bytes.slice(index * HASH_SIZE, (index + 1) * HASH_SIZE);
  }
}

export class MemoryTree {
  readonly #range = new CompactRange();
  readonly #levels: HashArray[] = [];

  /** The number of leaves. */
  get size(): number {
    return this.#range.size;
  }

  /** Appends a leaf hash (leafHash(data)) and returns its index. */
  append(leafHash: Uint8Array): number {
    const index = this.#range.size;
    for (const { id, hash } of this.#range.append(leafHash)) {
      let level = this.#levels[id.level];
      if (level === undefined) {
        level = new HashArray();
        this.#levels.push(level);
      }
      level.push(hash);
    }
    return index;
  }

  /** The hash of a stored perfect subtree; refuses nodes that are not complete yet. */
  readonly getNode = (id: NodeId): Uint8Array => {
    const level = this.#levels[id.level];
    if (level === undefined || !Number.isSafeInteger(id.index) || id.index < 0 || id.index >= level.length) {
      throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_INDEX, 'no such perfect subtree in the tree', {
        field: 'id',
        got: `${id.level}/${id.index}`,
        want: level === undefined ? 'a lower level' : `index < ${level.length}`,
      });
    }
    return level.get(id.index);
  };

  /** MTH of the first `size` leaves (default: all). Requires 0 <= size <= this.size. */
  root(size: number = this.size): Uint8Array {
    return rootOf(this.#checkSize(size, 'size'), this.getNode);
  }

  /** Inclusion proof of leaf `index` in the tree of the first `size` leaves. Requires index < size <= this.size. */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    return inclusionProof(index, this.#checkSize(size, 'size'), this.getNode);
  }

  /** Consistency proof between the first size1 and size2 leaves. Requires 0 < size1 <= size2 <= this.size. */
  consistencyProof(size1: number, size2: number = this.size): Uint8Array[] {
    return consistencyProof(size1, this.#checkSize(size2, 'size2'), this.getNode);
  }

  #checkSize(size: number, field: string): number {
    const n = checkSize(size, field);
    if (n > this.size) {
      throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_SIZE, `${field} is beyond the tree`, {
        field,
        got: n,
        want: `<= ${this.size}`,
      });
    }
    return n;
  }
}
