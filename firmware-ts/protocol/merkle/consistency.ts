/**
 * Consistency proofs (RFC 9162 §2.1.4.1 PROOF/SUBPROOF) built from stored perfect subtrees, as
 * in transparency-dev/merkle proof/proof.go `Consistency` (subtreeConsistency with start = 0).
 */
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { checkSize, shiftRight, trailingZeros } from './node-id.js';
import { emptyPlan, type GetNode, nodesPlan, type ProofPlan, runPlan } from './proof-plan.js';

/**
 * The nodes to fetch, and how to combine them, for the proof that the tree of `size2` leaves
 * extends the tree of `size1` leaves. Requires 0 < size1 <= size2 < 2^53; size1 = size2 gives
 * the empty proof.
 */
export function consistencyPlan(size1: number, size2: number): ProofPlan {
  const second = checkSize(size2, 'size2', 1);
  const first = checkSize(size1, 'size1', 1);
  if (first > second) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_SIZE, 'size1 must not exceed size2', {
      field: 'size1',
      got: first,
      want: `<= ${second}`,
    });
  }
  if (first === second) return emptyPlan();
  // The largest perfect subtree of [0, size1) ending at size1 seeds the proof; the rest is its
  // inclusion proof in the tree of size2. When size1 is a power of two that subtree is the
  // whole old tree, whose root the verifier already has (RFC 9162 §2.1.4.1 SUBPROOF b = true).
  const level = trailingZeros(first);
  const index = shiftRight(first - 1, level);
  return nodesPlan(index, level, second, first === 2 ** level);
}

/** The consistency proof between the trees of size1 and size2 leaves. Requires 0 < size1 <= size2. */
export function consistencyProof(size1: number, size2: number, getNode: GetNode): Uint8Array[] {
  return runPlan(consistencyPlan(size1, size2), getNode);
}
