/**
 * Incremental append with O(log n) state: the right border of perfect subtrees of the tree
 * [0, size), as transparency-dev/merkle compact/range.go (`Range` with begin = 0). Each append
 * reports the perfect nodes it completes, so a store can keep exactly those and build any later
 * proof or root from them (proof-plan.ts).
 */
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { checkHash, nodeHash } from './hash.js';
import { checkSize, MAX_TREE_SIZE, type NodeId, popCount } from './node-id.js';
import { rootFromNodes, rootIds } from './proof-plan.js';

/** A perfect subtree and its hash, as a store keeps it. */
export interface StoredNode {
  readonly id: NodeId;
  readonly hash: Uint8Array;
}

export class CompactRange {
  #size = 0;
  /** Hashes of rootIds(size), left to right: the largest subtree first, one per set bit. */
  #border: Uint8Array[] = [];

  /**
   * Restores the range of the first `size` leaves from the hashes of rootIds(size), in that
   * order (for example read back from a store). Requires 0 <= size < 2^53.
   */
  static fromNodes(size: number, hashes: readonly Uint8Array[]): CompactRange {
    const n = checkSize(size, 'size');
    const want = popCount(n);
    if (!Array.isArray(hashes) || hashes.length !== want) {
      throw new MedgateError(
        ProtocolErrorCode.BAD_ARGUMENT,
        `a range of size ${n} has ${want} border hashes`,
        {
          field: 'hashes',
          got: Array.isArray(hashes) ? hashes.length : typeof hashes,
          want,
        },
      );
    }
    const range = new CompactRange();
    range.#border = hashes.map((h, i) => new Uint8Array(checkHash(h, `hashes[${i}]`)));
    range.#size = n;
    return range;
  }

  /** The number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** The border nodes (rootIds(size)) with copies of their hashes: what fromNodes takes back. */
  border(): StoredNode[] {
    const ids = rootIds(this.#size);
    return ids.map((id, i) => ({ id, hash: new Uint8Array(this.#border[i] as Uint8Array) }));
  }

  /**
   * Appends one leaf hash (leafHash(data), not the data). Returns the perfect nodes this append
   * completes, lowest first: the leaf itself at level 0, then each parent that became perfect.
   */
  append(leafHash: Uint8Array): StoredNode[] {
    // Copies (new Uint8Array, not slice: a Node Buffer's slice is a view) keep callers' bytes out.
    let hash: Uint8Array = new Uint8Array(checkHash(leafHash, 'leafHash'));
    if (this.#size >= MAX_TREE_SIZE) {
      throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_SIZE, 'the tree is full', {
        field: 'size',
        got: this.#size,
        want: `< ${MAX_TREE_SIZE}`,
      });
    }
    let id: NodeId = { level: 0, index: this.#size };
    const completed: StoredNode[] = [{ id, hash: new Uint8Array(hash) }];
    // Each trailing one bit of the old size is a border subtree of the same height as the new
    // node on its right: merge them into their parent (range.go appendImpl with begin = 0).
    while (id.index % 2 === 1) {
      hash = nodeHash(this.#border.pop() as Uint8Array, hash);
      id = { level: id.level + 1, index: (id.index - 1) / 2 };
      completed.push({ id, hash: new Uint8Array(hash) });
    }
    this.#border.push(hash);
    this.#size++;
    return completed;
  }

  /** An independent copy, for appending tentatively (for example before a batch is durable). */
  clone(): CompactRange {
    const copy = new CompactRange();
    copy.#border = this.#border.map((h) => new Uint8Array(h));
    copy.#size = this.#size;
    return copy;
  }

  /** MTH of the leaves appended so far (RFC 9162 §2.1.1); the empty tree's root when size = 0. */
  root(): Uint8Array {
    return rootFromNodes(this.#border);
  }
}
