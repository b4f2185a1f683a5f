/** RFC 9162 Merkle tree: hashing, proof plans over stored perfect subtrees, verification. */
export { CompactRange, type StoredNode } from './compact-range.js';
export { consistencyPlan, consistencyProof } from './consistency.js';
export { EMPTY_ROOT, emptyRoot, HASH_SIZE, leafHash, nodeHash } from './hash.js';
export { inclusionPlan, inclusionProof } from './inclusion.js';
export { MemoryTree } from './memory-tree.js';
export { coverage, MAX_TREE_SIZE, type NodeId } from './node-id.js';
export { type GetNode, type ProofPlan, rootFromNodes, rootIds, rootOf } from './proof-plan.js';
export {
  rootFromConsistencyProof,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
} from './verify.js';
