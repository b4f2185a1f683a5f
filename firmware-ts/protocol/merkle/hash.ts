/**
 * RFC 9162 §2.1.1 hashing with SHA-256: leaves and interior nodes are domain-separated by a
 * one-byte prefix, so a leaf can never be passed off as a node (second-preimage resistance).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes } from '../bytes.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';

/** Every hash in the tree is a SHA-256 digest. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = 0x01;

/**
 * MTH({}) = SHA-256() (RFC 9162 §2.1.1), the root of the empty tree. A typed array cannot be
 * frozen: do not write into it; the Merkle code itself only ever hands out copies.
 */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));
const EMPTY_ROOT_COPY = EMPTY_ROOT.slice();

/** A fresh copy of the empty tree's root. */
export function emptyRoot(): Uint8Array {
  return EMPTY_ROOT_COPY.slice();
}

/** leafHash(data) = SHA-256(0x00 ‖ data), RFC 9162 §2.1.1. */
export function leafHash(data: Uint8Array): Uint8Array {
  abytes(data, undefined, 'data');
  return sha256.create().update(LEAF_PREFIX).update(data).digest();
}

// One scratch buffer for 0x01 ‖ left ‖ right: hashing is synchronous, so it is never shared.
const nodeInput = new Uint8Array(1 + 2 * HASH_SIZE);
nodeInput[0] = NODE_PREFIX;

/** nodeHash(l, r) = SHA-256(0x01 ‖ l ‖ r), RFC 9162 §2.1.1. Both children are 32-byte hashes. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  checkHash(left, 'left');
  checkHash(right, 'right');
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return sha256(nodeInput);
}

/** Asserts that `value` is a 32-byte hash and returns it; names the argument in the error. */
export function checkHash(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== HASH_SIZE) {
    throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_HASH, `${field} must be a ${HASH_SIZE}-byte hash`, {
      field,
      got: value instanceof Uint8Array ? value.length : typeof value,
      want: HASH_SIZE,
    });
  }
  return value;
}
