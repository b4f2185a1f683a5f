/**
 * Proof verification, RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency). The loops are
 * those of transparency-dev/merkle proof/verify.go: the proof is split where the paths to the
 * leaf and to the last leaf diverge ("inner" hashes, chained by the index bits, then "border"
 * hashes, all on the left), which computes the same as the RFC's fn/sn iteration but knows the
 * exact proof length up front, so a wrong length is its own error. Every refusal throws a
 * MedgateError; nothing returns false.
 */
import { equalBytes, toHex } from '../bytes.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { checkHash, HASH_SIZE, nodeHash } from './hash.js';
import { bitLength, checkIndex, checkSize, popCount, shiftRight, trailingZeros, xor } from './node-id.js';

/**
 * Verifies that `leafHash` is leaf `index` of the tree of `size` leaves whose root is `root`.
 * Requires 0 <= index < size < 2^53.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  checkRoot(root, 'root');
  expectRoot(rootFromInclusionProof(leafHash, index, size, proof), root, 'root');
}

/**
 * The root that an inclusion proof leads to (verify.go RootFromInclusionProof). Checks the
 * arguments and the proof's shape, not the result. Requires 0 <= index < size < 2^53.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  const n = checkSize(size, 'size', 1);
  const i = checkIndex(index, n);
  const leaf = checkHash(leafHash, 'leafHash');
  const inner = bitLength(xor(i, n - 1));
  const border = popCount(shiftRight(i, inner));
  checkProof(proof, inner + border);
  const hash = chainInner(leaf, proof, 0, inner, i);
  return chainBorderRight(hash, proof, inner);
}

/**
 * Verifies that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves
 * with root `root1`. Requires 0 < size1 <= size2 < 2^53; when size1 = size2 the proof must be
 * empty and the roots equal.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  checkRoot(root2, 'root2');
  expectRoot(rootFromConsistencyProof(size1, size2, proof, root1), root2, 'root2');
}

/**
 * The root of the tree of `size2` leaves that a consistency proof leads to from the tree of
 * `size1` leaves with root `root1` (verify.go RootFromConsistencyProof); checks root1 on the
 * way. Requires 0 < size1 <= size2 < 2^53.
 */
export function rootFromConsistencyProof(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
): Uint8Array {
  const second = checkSize(size2, 'size2');
  const first = checkSize(size1, 'size1');
  checkRoot(root1, 'root1');
  if (second < first) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_SIZE, 'size2 is smaller than size1', {
      field: 'size2',
      got: second,
      want: `>= ${first}`,
    });
  }
  // A proof from the empty tree proves nothing: verify.go refuses 0 = size1 < size2, and the
  // vector sizes-are-equal-zero-and-proof-is-empty refuses 0 = 0 too, so this comes first.
  if (first === 0) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_SIZE, 'a consistency proof needs size1 > 0', {
      field: 'size1',
      got: first,
      want: '> 0',
    });
  }
  if (first === second) {
    // The same tree: nothing to prove but root1 = root2. The roots are compared as given, as
    // verify.go does (a vector with equal 12-byte roots must pass).
    checkProof(proof, 0);
    return new Uint8Array(root1);
  }
  // A computed hash is always 32 bytes: a root of another length cannot match.
  if (root1.length !== HASH_SIZE) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_ROOT_MISMATCH, 'root1 is not a 32-byte hash', {
      field: 'root1',
      got: root1.length,
      want: HASH_SIZE,
    });
  }

  // The proof is, after its seed, a suffix of the inclusion proof of leaf size1-1 in the tree
  // of size2, starting at level `shift`, where the largest subtree ending at size1 sits.
  const shift = trailingZeros(first);
  const inclusionInner = bitLength(xor(first - 1, second - 1));
  const border = popCount(shiftRight(first - 1, inclusionInner));
  const inner = inclusionInner - shift;
  // The seed is that subtree's hash: root1 itself when size1 is a power of two, otherwise the
  // first proof hash (RFC 9162 §2.1.4.2 step 2).
  const seedIsRoot1 = first === 2 ** shift;
  const start = seedIsRoot1 ? 0 : 1;
  // Never empty: inner >= 1 because size1 < size2 (verify.go's separate empty-proof check).
  checkProof(proof, start + inner + border);
  const seed = seedIsRoot1 ? root1 : (proof[0] as Uint8Array);
  const mask = shiftRight(first - 1, shift);

  // The old root uses only the hashes left of the path; the new root uses all of them.
  const hash1 = chainBorderRight(chainInnerRight(seed, proof, start, inner, mask), proof, start + inner);
  expectRoot(hash1, root1, 'root1');
  return chainBorderRight(chainInner(seed, proof, start, inner, mask), proof, start + inner);
}

/** verify.go chainInner: proof[from, from+count) from low to high levels, sides by the index bits. */
function chainInner(
  seed: Uint8Array,
  proof: readonly Uint8Array[],
  from: number,
  count: number,
  index: number,
): Uint8Array {
  let hash = seed;
  let bits = index;
  for (let k = from; k < from + count; k++) {
    const sibling = proof[k] as Uint8Array;
    hash = bits % 2 === 0 ? nodeHash(hash, sibling) : nodeHash(sibling, hash);
    bits = Math.floor(bits / 2);
  }
  return hash;
}

/** verify.go chainInnerRight: like chainInner, but only the left siblings: the older tree. */
function chainInnerRight(
  seed: Uint8Array,
  proof: readonly Uint8Array[],
  from: number,
  count: number,
  index: number,
): Uint8Array {
  let hash = seed;
  let bits = index;
  for (let k = from; k < from + count; k++) {
    if (bits % 2 === 1) hash = nodeHash(proof[k] as Uint8Array, hash);
    bits = Math.floor(bits / 2);
  }
  return hash;
}

/** verify.go chainBorderRight: above the fork, every proof hash is a left sibling. */
function chainBorderRight(seed: Uint8Array, proof: readonly Uint8Array[], from: number): Uint8Array {
  let hash = seed;
  for (let k = from; k < proof.length; k++) hash = nodeHash(proof[k] as Uint8Array, hash);
  return hash;
}

/** A proof is an array of exactly `length` 32-byte hashes. */
function checkProof(proof: unknown, length: number): asserts proof is readonly Uint8Array[] {
  if (!Array.isArray(proof)) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_PROOF, 'proof must be an array of hashes', {
      field: 'proof',
      got: proof === null ? 'null' : typeof proof,
    });
  }
  if (proof.length !== length) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_PROOF, `proof must have ${length} hashes`, {
      field: 'proof',
      got: proof.length,
      want: length,
    });
  }
  for (let k = 0; k < length; k++) {
    const h: unknown = proof[k];
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
      throw new MedgateError(
        ProtocolErrorCode.MERKLE_BAD_PROOF,
        `proof[${k}] must be a ${HASH_SIZE}-byte hash`,
        {
          field: `proof[${k}]`,
          got: h instanceof Uint8Array ? h.length : typeof h,
          want: HASH_SIZE,
        },
      );
    }
  }
}

/** Roots are compared, not parsed: any byte string is accepted here, and a wrong length mismatches. */
function checkRoot(root: unknown, field: string): asserts root is Uint8Array {
  if (!(root instanceof Uint8Array)) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_HASH, `${field} must be a Uint8Array`, {
      field,
      got: root === null ? 'null' : typeof root,
    });
  }
}

function expectRoot(computed: Uint8Array, expected: Uint8Array, field: string): void {
  if (!equalBytes(computed, expected)) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_ROOT_MISMATCH, `the proof does not lead to ${field}`, {
      field,
      got: toHex(computed),
      want: toHex(expected),
    });
  }
}
