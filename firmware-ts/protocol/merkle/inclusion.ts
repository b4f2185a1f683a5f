/**
 * Inclusion proofs (RFC 9162 §2.1.3.1 PATH) built from stored perfect subtrees, as in
 * transparency-dev/merkle proof/proof.go `Inclusion`.
 */
import { checkIndex, checkSize } from './node-id.js';
import { type GetNode, nodesPlan, type ProofPlan, runPlan } from './proof-plan.js';

/**
 * The nodes to fetch, and how to combine them, for the inclusion proof of leaf `index` in the
 * tree of `size` leaves. Requires 0 <= index < size < 2^53.
 */
export function inclusionPlan(index: number, size: number): ProofPlan {
  const n = checkSize(size, 'size', 1);
  // The leaf itself is what the verifier holds, so it is not part of the proof.
  return nodesPlan(checkIndex(index, n), 0, n, true);
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves. Requires 0 <= index < size. */
export function inclusionProof(index: number, size: number, getNode: GetNode): Uint8Array[] {
  return runPlan(inclusionPlan(index, size), getNode);
}
