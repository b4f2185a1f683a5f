/**
 * Receipts (DESIGN §4): proof that a reading is leaf `leafIndex` of the reading log, checked
 * offline with nothing but the authority's public key. The JSON form (docs/receipts.md):
 *
 * ```json
 * { "v": 1,
 *   "chain": "demo",                   // chain id
 *   "leafIndex": 41,                   // position of the leaf in the log
 *   "leafHash": "<64 hex>",            // SHA-256(0x00 ‖ reading COSE bytes), RFC 9162 §2.1.1
 *   "treeSize": 57,                    // = the block's log.size
 *   "proof": ["<64 hex>", ...],        // RFC 9162 §2.1.3 inclusion proof of leafIndex in treeSize
 *   "block": "<base64>",               // signed header (COSE_Sign1) of the FIRST block whose
 *                                      //   checkpoint covers the leaf (log.size > leafIndex)
 *   "reading": "<base64>" }            // optional: the reading's COSE_Sign1 bytes, while stored
 * ```
 *
 * `verifyReceipt` checks, in order: the shape of every field; the block's signature by one of
 * the authority keys (external_aad = the chain id); that the block names the receipt's chain;
 * treeSize = the block's log size; the inclusion proof against the block's log root; and, when
 * the reading is present, that it hashes to leafHash.
 */

import { MAX_BLOCK_BYTES, type SignedBlock, verifyBlock } from './block.js';
import { equalBytes, toBase64, toHex } from './bytes.js';
import { DEFAULT_CBOR_LIMITS } from './cbor.js';
import { base64Bytes, hexHash, hexHashes, jsonFields } from './decode/json-object.js';
import type { Ed25519Backend } from './ed25519/types.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';
import { leafHash as hashLeaf, verifyInclusion } from './merkle/index.js';
import { CHAIN_ID_RULE } from './tx/envelope.js';

export const RECEIPT_VERSION = 1;
export const RECEIPT_KEYS = Object.freeze([
  'v',
  'chain',
  'leafIndex',
  'leafHash',
  'treeSize',
  'proof',
  'block',
  'reading',
] as const);

/** An inclusion proof in a tree of fewer than 2^53 leaves has at most 53 hashes. */
export const MAX_PROOF_HASHES = 64;

/** Largest reading carried in a receipt: the CBOR decoders' input bound. */
export const MAX_RECEIPT_READING_BYTES = DEFAULT_CBOR_LIMITS.maxBytes;

/** The JSON form, as written to a file or sent over HTTP. */
export interface ReceiptJson {
  readonly v: 1;
  readonly chain: string;
  readonly leafIndex: number;
  readonly leafHash: string;
  readonly treeSize: number;
  readonly proof: readonly string[];
  readonly block: string;
  readonly reading?: string;
}

/** A receipt with its byte fields decoded (not yet verified). */
export interface Receipt {
  readonly chain: string;
  readonly leafIndex: number;
  readonly leafHash: Uint8Array;
  readonly treeSize: number;
  readonly proof: readonly Uint8Array[];
  /** The signed block header's COSE bytes. */
  readonly block: Uint8Array;
  readonly reading?: Uint8Array;
}

/** What a verified receipt establishes. */
export interface VerifiedReceipt extends Receipt {
  readonly signedBlock: SignedBlock;
}

/** The JSON form of a receipt. */
export function encodeReceipt(receipt: Receipt): ReceiptJson {
  const json: ReceiptJson = {
    v: RECEIPT_VERSION,
    chain: receipt.chain,
    leafIndex: receipt.leafIndex,
    leafHash: toHex(receipt.leafHash),
    treeSize: receipt.treeSize,
    proof: receipt.proof.map(toHex),
    block: toBase64(receipt.block),
  };
  return receipt.reading === undefined ? json : { ...json, reading: toBase64(receipt.reading) };
}

/**
 * Strict decoding of a receipt's JSON value (already parsed, untrusted). Refuses with
 * MG_ERR_BAD_FIELD / MG_ERR_MISSING_FIELD / MG_ERR_UNKNOWN_FIELD naming the field.
 */
export function decodeReceipt(value: unknown): Receipt {
  const f = jsonFields(value, '', RECEIPT_KEYS);
  f.uint('v', { min: RECEIPT_VERSION, max: RECEIPT_VERSION });
  const chain = f.text('chain', CHAIN_ID_RULE);
  const leafIndex = f.uint('leafIndex');
  const leafHash = hexHash(f, 'leafHash');
  const treeSize = f.uint('treeSize', { min: 1 });
  const proof = hexHashes(f, 'proof', MAX_PROOF_HASHES);
  const block = base64Bytes(f, 'block', MAX_BLOCK_BYTES);
  const reading = f.optional('reading', (g, key) => base64Bytes(g, key, MAX_RECEIPT_READING_BYTES));
  const receipt = { chain, leafIndex, leafHash, treeSize, proof, block };
  return Object.freeze(reading === undefined ? receipt : { ...receipt, reading });
}

/**
 * Verifies a receipt offline (see the file comment for the steps). `receipt` is the parsed
 * JSON value or an already decoded Receipt. Every refusal is a coded MedgateError:
 * field codes, COSE and block codes, MG_ERR_UNKNOWN_AUTHORITY, MG_ERR_BAD_SIGNATURE,
 * MG_ERR_CHAIN_MISMATCH, MG_ERR_CHECKPOINT_MISMATCH, the Merkle codes, MG_ERR_READING_MISMATCH.
 */
export function verifyReceipt(
  receipt: unknown,
  authorityKeys: readonly Uint8Array[],
  backend: Ed25519Backend,
): VerifiedReceipt {
  const r = isDecoded(receipt) ? receipt : decodeReceipt(receipt);
  const signedBlock = verifyBlock(r.block, { authorities: authorityKeys, chain: r.chain }, backend);
  const { log } = signedBlock.header;
  if (r.treeSize !== log.size) {
    throw new MedgateError(
      ProtocolErrorCode.CHECKPOINT_MISMATCH,
      'treeSize is not the log size of the block',
      {
        field: 'treeSize',
        got: r.treeSize,
        want: log.size,
      },
    );
  }
  verifyInclusion(r.leafHash, r.leafIndex, r.treeSize, r.proof, log.root);
  if (r.reading !== undefined && !equalBytes(hashLeaf(r.reading), r.leafHash)) {
    throw new MedgateError(ProtocolErrorCode.READING_MISMATCH, 'the reading does not hash to leafHash', {
      field: 'reading',
    });
  }
  return Object.freeze({ ...r, signedBlock });
}

function isDecoded(value: unknown): value is Receipt {
  return (
    typeof value === 'object' && value !== null && (value as { block?: unknown }).block instanceof Uint8Array
  );
}
