/**
 * In-memory copy of the upper levels of the reading log's tree, for proofs. Stored perfect
 * nodes never change, so entries never go stale. Each cached level is one packed array
 * (32 bytes a node, no per-entry objects), filled as nodes are written or read.
 *
 * The levels cached are those at or above `minLevel`, raised as the tree grows so that the
 * arrays stay within `budgetBytes`: levels >= m of an n-leaf tree hold fewer than
 * n·64/2^m bytes. A 1M-leaf log with the default 32 MiB keeps every level but the leaves.
 */
const HASH = 32;

export class NodeCache {
  readonly #floor: number;
  readonly #budget: number;
  #minLevel: number;
  #hashes: Uint8Array[] = [];
  #present: Uint8Array[] = [];

  constructor(minLevel: number, budgetBytes: number) {
    this.#floor = minLevel;
    this.#budget = budgetBytes;
    this.#minLevel = budgetBytes > 0 ? minLevel : Number.POSITIVE_INFINITY;
  }

  /** Follows the tree size: drops the lowest levels once they would exceed the budget. */
  grow(size: number): void {
    if (this.#budget <= 0) return;
    const need = Math.ceil(Math.log2(Math.max(1, (size * 2 * HASH) / this.#budget)));
    const min = Math.max(this.#floor, need);
    for (let level = this.#minLevel; level < min; level++) {
      this.#hashes[level] = new Uint8Array(0);
      this.#present[level] = new Uint8Array(0);
    }
    this.#minLevel = Math.max(this.#minLevel, min);
  }

  holds(level: number): boolean {
    return level >= this.#minLevel;
  }

  get(level: number, index: number): Uint8Array | undefined {
    if (level < this.#minLevel) return undefined;
    const present = this.#present[level];
    if (present === undefined || index >= present.length * 8) return undefined;
    if (((present[index >>> 3] as number) & (1 << (index & 7))) === 0) return undefined;
    return (this.#hashes[level] as Uint8Array).subarray(index * HASH, (index + 1) * HASH);
  }

  set(level: number, index: number, hash: Uint8Array): void {
    if (level < this.#minLevel) return;
    let present = this.#present[level];
    if (present === undefined || index >= present.length * 8) present = this.#widen(level, index);
    (this.#hashes[level] as Uint8Array).set(hash, index * HASH);
    present[index >>> 3] = (present[index >>> 3] as number) | (1 << (index & 7));
  }

  /** Grows a level's arrays to hold `index` (by a quarter more, in whole bytes of the bitmap). */
  #widen(level: number, index: number): Uint8Array {
    const oldPresent = this.#present[level] ?? new Uint8Array(0);
    const width = Math.max(index + 1, Math.ceil(oldPresent.length * 8 * 1.25), 64);
    const present = new Uint8Array(Math.ceil(width / 8));
    present.set(oldPresent);
    const hashes = new Uint8Array(present.length * 8 * HASH);
    hashes.set(this.#hashes[level] ?? new Uint8Array(0));
    this.#present[level] = present;
    this.#hashes[level] = hashes;
    return present;
  }
}
