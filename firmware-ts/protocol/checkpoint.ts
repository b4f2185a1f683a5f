/**
 * Consistency bundles (DESIGN §4): proof that the reading log of one signed block is an
 * append-only extension of the log of an earlier one, checked offline with the authority's
 * public key alone. The JSON form (docs/receipts.md):
 *
 * ```json
 * { "v": 1, "chain": "demo",
 *   "size1": 10, "size2": 57,          // the two blocks' log sizes, 0 < size1 <= size2
 *   "proof": ["<64 hex>", ...],        // RFC 9162 §2.1.4 consistency proof from size1 to size2
 *   "block1": "<base64>",              // signed header whose checkpoint has size1
 *   "block2": "<base64>" }             // signed header whose checkpoint has size2
 * ```
 *
 * `verifyConsistencyBundle` checks both signatures and chain ids, that each size is its
 * block's log size, and the proof against the two signed roots (RFC 9162 §2.1.4.2).
 */

import { MAX_BLOCK_BYTES, type SignedBlock, verifyBlock } from './block.js';
import { toBase64, toHex } from './bytes.js';
import { base64Bytes, hexHashes, jsonFields } from './decode/json-object.js';
import type { Ed25519Backend } from './ed25519/types.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';
import { verifyConsistency } from './merkle/index.js';
import { MAX_PROOF_HASHES } from './receipt.js';
import { CHAIN_ID_RULE } from './tx/envelope.js';

export const CONSISTENCY_VERSION = 1;
export const CONSISTENCY_KEYS = Object.freeze([
  'v',
  'chain',
  'size1',
  'size2',
  'proof',
  'block1',
  'block2',
] as const);

export interface ConsistencyBundleJson {
  readonly v: 1;
  readonly chain: string;
  readonly size1: number;
  readonly size2: number;
  readonly proof: readonly string[];
  readonly block1: string;
  readonly block2: string;
}

export interface ConsistencyBundle {
  readonly chain: string;
  readonly size1: number;
  readonly size2: number;
  readonly proof: readonly Uint8Array[];
  readonly block1: Uint8Array;
  readonly block2: Uint8Array;
}

export interface VerifiedConsistency extends ConsistencyBundle {
  readonly signedBlock1: SignedBlock;
  readonly signedBlock2: SignedBlock;
}

export function encodeConsistencyBundle(bundle: ConsistencyBundle): ConsistencyBundleJson {
  return {
    v: CONSISTENCY_VERSION,
    chain: bundle.chain,
    size1: bundle.size1,
    size2: bundle.size2,
    proof: bundle.proof.map(toHex),
    block1: toBase64(bundle.block1),
    block2: toBase64(bundle.block2),
  };
}

/** Strict decoding of a bundle's JSON value (parsed, untrusted); field codes name the field. */
export function decodeConsistencyBundle(value: unknown): ConsistencyBundle {
  const f = jsonFields(value, '', CONSISTENCY_KEYS);
  f.uint('v', { min: CONSISTENCY_VERSION, max: CONSISTENCY_VERSION });
  return Object.freeze({
    chain: f.text('chain', CHAIN_ID_RULE),
    size1: f.uint('size1', { min: 1 }),
    size2: f.uint('size2', { min: 1 }),
    proof: hexHashes(f, 'proof', MAX_PROOF_HASHES),
    block1: base64Bytes(f, 'block1', MAX_BLOCK_BYTES),
    block2: base64Bytes(f, 'block2', MAX_BLOCK_BYTES),
  });
}

/**
 * Verifies a consistency bundle offline. Refusals: field codes, COSE and block codes,
 * MG_ERR_UNKNOWN_AUTHORITY, MG_ERR_BAD_SIGNATURE, MG_ERR_CHAIN_MISMATCH,
 * MG_ERR_CHECKPOINT_MISMATCH (a size is not its block's log size), the Merkle codes.
 */
export function verifyConsistencyBundle(
  bundle: unknown,
  authorityKeys: readonly Uint8Array[],
  backend: Ed25519Backend,
): VerifiedConsistency {
  const b = isDecoded(bundle) ? bundle : decodeConsistencyBundle(bundle);
  const options = { authorities: authorityKeys, chain: b.chain };
  const signedBlock1 = verifyBlock(b.block1, options, backend);
  const signedBlock2 = verifyBlock(b.block2, options, backend);
  expectSize(b.size1, signedBlock1, 'size1');
  expectSize(b.size2, signedBlock2, 'size2');
  verifyConsistency(b.size1, b.size2, b.proof, signedBlock1.header.log.root, signedBlock2.header.log.root);
  return Object.freeze({ ...b, signedBlock1, signedBlock2 });
}

function expectSize(size: number, block: SignedBlock, field: string): void {
  if (size !== block.header.log.size) {
    throw new MedgateError(
      ProtocolErrorCode.CHECKPOINT_MISMATCH,
      `${field} is not the log size of its block`,
      {
        field,
        got: size,
        want: block.header.log.size,
      },
    );
  }
}

function isDecoded(value: unknown): value is ConsistencyBundle {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { block1?: unknown }).block1 instanceof Uint8Array
  );
}
