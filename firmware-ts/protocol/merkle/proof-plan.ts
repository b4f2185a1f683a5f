/**
 * Which stored perfect-subtree nodes a proof needs, and how to turn their hashes into the proof.
 * A port of transparency-dev/merkle proof/proof.go (`Nodes`, `nodes`, `Rehash`, `skipFirst`):
 * a proof hash that is not a perfect subtree (the "ephemeral" node on the right border of a
 * tree whose size is not a power of two) is rebuilt from the perfect nodes that cover it, so a
 * store never keeps anything but perfect subtrees.
 */
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { checkHash, emptyRoot, nodeHash } from './hash.js';
import {
  bitLength,
  checkSize,
  type NodeId,
  parentOf,
  rangeNodes,
  shiftRight,
  siblingOf,
  xor,
} from './node-id.js';

/** Reads the hash of a stored perfect subtree. */
export type GetNode = (id: NodeId) => Uint8Array;

export interface ProofPlan {
  /** The perfect-subtree nodes to fetch, in this order. */
  readonly ids: readonly NodeId[];
  /** Fetched hashes (same order as `ids`) → the proof, in RFC 9162 order (leaf side first). */
  rehash(hashes: readonly Uint8Array[]): Uint8Array[];
}

class Plan implements ProofPlan {
  /**
   * ids[begin, end) are the perfect nodes under the one ephemeral node, lowest (rightmost)
   * first; they fold into one proof hash. begin = end when the proof has no ephemeral node.
   */
  constructor(
    readonly ids: readonly NodeId[],
    private readonly begin: number,
    private readonly end: number,
  ) {}

  rehash(hashes: readonly Uint8Array[]): Uint8Array[] {
    if (!Array.isArray(hashes) || hashes.length !== this.ids.length) {
      throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'rehash needs one hash per planned node', {
        field: 'hashes',
        got: Array.isArray(hashes) ? hashes.length : typeof hashes,
        want: this.ids.length,
      });
    }
    const proof: Uint8Array[] = [];
    for (let i = 0; i < hashes.length; i++) {
      let hash = checkHash(hashes[i], `hashes[${i}]`);
      if (i === this.begin && this.begin < this.end) {
        // Each next node of the block lies further left and higher up (proof.go Rehash).
        for (i++; i < this.end; i++) hash = nodeHash(checkHash(hashes[i], `hashes[${i}]`), hash);
        i--;
      }
      // A copy, as a plain Uint8Array (a Node Buffer's slice would be a view into the store's).
      proof.push(new Uint8Array(hash));
    }
    return proof;
  }
}

/** The plan of a proof with nothing to fetch (for example size1 = size2). */
export function emptyPlan(): ProofPlan {
  return new Plan([], 0, 0);
}

/**
 * The nodes that prove the perfect node (level, index) is in the tree of `size` leaves, the
 * node itself first (proof.go `nodes`). Requires that node to lie within [0, size).
 */
export function nodesPlan(index: number, level: number, size: number, skipFirst: boolean): ProofPlan {
  // The fork is where the path from the root to (level, index) leaves the path to leaf `size`;
  // the fork's sibling is the ephemeral node, `inner` levels above (level, index).
  const inner = bitLength(xor(index, shiftRight(size, level))) - 1;
  const forkLevel = level + inner;
  const forkWidth = 2 ** forkLevel;
  const forkIndex = shiftRight(index, inner);
  const forkBegin = forkIndex * forkWidth;
  const forkEnd = forkBegin + forkWidth;

  let node: NodeId = { level, index };
  const ids: NodeId[] = [node];
  // Siblings along the path up to the fork: all perfect, all within [0, size).
  for (; node.level < forkLevel; node = parentOf(node)) ids.push(siblingOf(node));
  // The perfect nodes covering [forkEnd, size) stand for the ephemeral node; reversed so that
  // rehash folds them from the lowest level up.
  const len1 = ids.length;
  rangeNodes(forkEnd, size, ids);
  reverseTail(ids, len1);
  const len2 = ids.length;
  // The nodes covering [0, forkBegin), ordered from lower to upper levels.
  rangeNodes(0, forkBegin, ids);
  reverseTail(ids, len2);

  let begin = len1 < len2 ? len1 : 0;
  let end = len1 < len2 ? len2 : 0;
  if (!skipFirst) return new Plan(ids, begin, end);
  // proof.go skipFirst: the verifier already knows the first node (the leaf, or a subtree root).
  if (begin < end) {
    begin--;
    end--;
  }
  return new Plan(ids.slice(1), begin, end);
}

function reverseTail(ids: NodeId[], from: number): void {
  for (let i = from, j = ids.length - 1; i < j; i++, j--) {
    const t = ids[i] as NodeId;
    ids[i] = ids[j] as NodeId;
    ids[j] = t;
  }
}

/**
 * The perfect subtrees whose hashes give the root of the first `size` leaves: the binary
 * decomposition of size, largest (leftmost) first. Requires 0 <= size < 2^53.
 */
export function rootIds(size: number): NodeId[] {
  return rangeNodes(0, checkSize(size, 'size'));
}

/**
 * MTH from the hashes of rootIds(size), in that order (RFC 9162 §2.1.1: the right border folds
 * right to left, compact/range.go GetRootHash). No hashes: the empty tree's root.
 */
export function rootFromNodes(hashes: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(hashes)) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'hashes must be an array', {
      field: 'hashes',
      got: typeof hashes,
    });
  }
  if (hashes.length === 0) return emptyRoot();
  let last = hashes.length - 1;
  let root = checkHash(hashes[last], `hashes[${last}]`);
  for (last--; last >= 0; last--) root = nodeHash(checkHash(hashes[last], `hashes[${last}]`), root);
  return root === hashes[hashes.length - 1] ? new Uint8Array(root) : root;
}

/** The root of the first `size` leaves, from stored perfect subtrees. Requires 0 <= size < 2^53. */
export function rootOf(size: number, getNode: GetNode): Uint8Array {
  return rootFromNodes(rootIds(size).map((id) => getNode(id)));
}

/** Fetches a plan's nodes with `getNode` and builds the proof. */
export function runPlan(plan: ProofPlan, getNode: GetNode): Uint8Array[] {
  return plan.rehash(plan.ids.map((id) => getNode(id)));
}
