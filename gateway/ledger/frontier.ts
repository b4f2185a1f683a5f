/**
 * The append path of the reading log with node:crypto SHA-256: RFC 9162 §2.1.1 leaf and node
 * hashes, and the right border of perfect subtrees that an append extends. Same algorithm as
 * protocol/merkle's CompactRange (transparency-dev compact/range.go with begin = 0), which is
 * portable (noble) and 2 to 3 times slower per hash; the tests check both give the same nodes
 * and roots. Restoring, roots and proofs still use protocol/merkle.
 */
import { hash } from 'node:crypto';
import { rootFromNodes } from '../../firmware-ts/protocol/merkle/index.js';

/** A perfect subtree completed by an append: level 0 is the leaf itself. */
export interface CompletedNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

let scratch = new Uint8Array(1024);
const nodeInput = new Uint8Array(65);

/**
 * SHA-256 of `input` as a new Uint8Array. node:crypto hands the digest over as a 'binary'
 * (latin1: one char a byte) string, copied here: a short string costs far less to make and
 * collect than the Buffer it would otherwise allocate for every hash (about 0.6 against
 * 1.2 µs a hash on the 2-core bench machine, two hashes a leaf).
 */
function sha256(input: Uint8Array): Uint8Array {
  const digest = hash('sha256', input, 'binary');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = digest.charCodeAt(i);
  return out;
}

/** SHA-256(0x00 ‖ data), RFC 9162 §2.1.1. */
export function leafHashFast(data: Uint8Array): Uint8Array {
  if (data.length + 1 > scratch.length) scratch = new Uint8Array(2 * (data.length + 1));
  scratch[0] = 0x00;
  scratch.set(data, 1);
  return sha256(scratch.subarray(0, data.length + 1));
}

/** SHA-256(0x01 ‖ left ‖ right), RFC 9162 §2.1.1. */
export function nodeHashFast(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeInput[0] = 0x01;
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return sha256(nodeInput);
}

export class Frontier {
  #size: number;
  /** Hashes of rootIds(size): one per set bit of size, the largest subtree first. */
  readonly #border: Uint8Array[];

  /** `border` = the hashes of rootIds(size), as CompactRange.fromNodes takes them (checked by the caller). */
  constructor(size: number, border: readonly Uint8Array[]) {
    this.#size = size;
    this.#border = [...border];
  }

  get size(): number {
    return this.#size;
  }

  /** An independent copy (appends to it leave this one as it is). */
  copy(): Frontier {
    return new Frontier(this.#size, this.#border);
  }

  /** Appends a leaf hash; returns the perfect nodes it completes, the leaf first. */
  append(leafHash: Uint8Array): CompletedNode[] {
    let index = this.#size;
    let level = 0;
    let node = leafHash;
    const completed: CompletedNode[] = [{ level, index, hash: node }];
    // Each trailing one bit of the old size is a border subtree of the new node's height,
    // just left of it: merge them into their parent.
    while (index % 2 === 1) {
      node = nodeHashFast(this.#border.pop() as Uint8Array, node);
      level++;
      index = (index - 1) / 2;
      completed.push({ level, index, hash: node });
    }
    this.#border.push(node);
    this.#size++;
    return completed;
  }

  /** MTH of the leaves so far. */
  root(): Uint8Array {
    return rootFromNodes(this.#border);
  }
}
