/**
 * Block headers of the ledger (DESIGN §4), shared by the gateway that signs them and every
 * device, browser and auditor that checks them.
 *
 * A header is the closed CBOR map
 * `{"v": 1, "chain", "height", "prev", "t", "txRoot", "txCount", "log": {"size", "root"}}`
 * signed as a COSE_Sign1 by an authority key with external_aad = the chain id (cose.ts).
 *
 * - `prev` is the block hash of the previous block: SHA-256 of its signed COSE bytes (so the
 *   link covers the signature too); 32 zero bytes in the genesis block (height 0).
 * - `txRoot` is the RFC 9162 root over leafHash(tx COSE bytes) of the block's transactions in
 *   order (EMPTY_ROOT when there are none), so one transaction can be proven to be in a signed
 *   block with an inclusion proof (`verifyTxInclusion`).
 * - `log` is a checkpoint of the reading log: its size and RFC 9162 root at that size.
 * - The genesis block has exactly one "transaction": the CBOR bytes of the genesis config
 *   (chain id, authority keys, admins and threshold, vendors, policies), so txRoot =
 *   leafHash(config bytes) and anyone replaying from genesis starts from the same state.
 */
import { abytes, equalBytes, toHex } from './bytes.js';
import { decodeCbor, encodeCbor } from './cbor.js';
import {
  type CoseSign1,
  type CoseSigner,
  chainAad,
  decodeCoseSign1,
  signCoseSign1,
  verifyCoseSign1,
} from './cose.js';
import { Fields } from './decode/fields.js';
import { MAX_TIME_MS } from './decode/limits.js';
import type { Ed25519Backend } from './ed25519/types.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';
import { sha256 } from './hash.js';
import { kidOf } from './kid.js';
import { CompactRange, HASH_SIZE, leafHash, verifyInclusion } from './merkle/index.js';
import { CHAIN_ID_RULE } from './tx/envelope.js';

export const BLOCK_VERSION = 1;

/** Most transactions one block may carry: bounds a verifier's work per header. */
export const MAX_TX_PER_BLOCK = 65_536;

/** A signed header is about 250 bytes; anything far larger is not one. */
export const MAX_BLOCK_BYTES = 1024;

/** `prev` of the genesis block. A typed array cannot be frozen: never write into it. */
export const GENESIS_PREV: Uint8Array = new Uint8Array(HASH_SIZE);

export const BLOCK_KEYS = Object.freeze([
  'v',
  'chain',
  'height',
  'prev',
  't',
  'txRoot',
  'txCount',
  'log',
] as const);
export const CHECKPOINT_KEYS = Object.freeze(['size', 'root'] as const);

/** A signed tree head of the reading log: its size and RFC 9162 root at that size. */
export interface Checkpoint {
  readonly size: number;
  readonly root: Uint8Array;
}

export interface BlockHeader {
  readonly v: 1;
  readonly chain: string;
  readonly height: number;
  /** Block hash of the previous block; GENESIS_PREV at height 0. */
  readonly prev: Uint8Array;
  /** Block time, ms since the Unix epoch; non-decreasing along the chain. */
  readonly t: number;
  readonly txRoot: Uint8Array;
  readonly txCount: number;
  readonly log: Checkpoint;
}

/** A header with its signature, as stored and as sent. */
export interface SignedBlock {
  readonly header: BlockHeader;
  /** The tagged COSE_Sign1 bytes. */
  readonly bytes: Uint8Array;
  /** Block hash: SHA-256 of `bytes`. The next block's `prev`. */
  readonly hash: Uint8Array;
  /** kid of the signing authority key. */
  readonly kid: Uint8Array;
  readonly cose: CoseSign1;
}

const HEADER_CBOR_LIMITS = Object.freeze({ maxBytes: 512, maxDepth: 2, maxStringBytes: 64, maxItems: 16 });

/** The CBOR map of a header (deterministic encoding sorts its keys). */
export function encodeBlockHeader(header: BlockHeader): Uint8Array {
  checkHeader(header);
  return encodeCbor(
    new Map<string, unknown>([
      ['v', BLOCK_VERSION],
      ['chain', header.chain],
      ['height', header.height],
      ['prev', header.prev],
      ['t', header.t],
      ['txRoot', header.txRoot],
      ['txCount', header.txCount],
      [
        'log',
        new Map<string, unknown>([
          ['size', header.log.size],
          ['root', header.log.root],
        ]),
      ],
    ]),
  );
}

/**
 * Strict decoding of a header payload (untrusted bytes). Refuses with the CBOR codes, or
 * MG_ERR_BAD_FIELD / MG_ERR_MISSING_FIELD / MG_ERR_UNKNOWN_FIELD naming the field.
 */
export function decodeBlockHeader(payload: Uint8Array): BlockHeader {
  const f = Fields.of(decodeCbor(abytes(payload, undefined, 'payload'), HEADER_CBOR_LIMITS), '', BLOCK_KEYS);
  f.uint('v', { min: BLOCK_VERSION, max: BLOCK_VERSION });
  const chain = f.text('chain', CHAIN_ID_RULE);
  const height = f.uint('height');
  const prev = f.bytes('prev', { len: HASH_SIZE });
  const t = f.uint('t', { max: MAX_TIME_MS });
  const txRoot = f.bytes('txRoot', { len: HASH_SIZE });
  const txCount = f.uint('txCount', { max: MAX_TX_PER_BLOCK });
  const log = f.map('log', CHECKPOINT_KEYS);
  const size = log.uint('size');
  const root = log.bytes('root', { len: HASH_SIZE });
  return Object.freeze({
    v: BLOCK_VERSION,
    chain,
    height,
    prev,
    t,
    txRoot,
    txCount,
    log: Object.freeze({ size, root }),
  });
}

/** Signs `header` with an authority key (external_aad = the chain id). */
export function signBlock(header: BlockHeader, signer: CoseSigner): SignedBlock {
  const bytes = signCoseSign1(encodeBlockHeader(header), signer, chainAad(header.chain));
  return decodeBlock(bytes);
}

/**
 * Decodes a signed block WITHOUT checking its signature (for display, or before choosing the
 * key). Use `verifyBlock` for anything that is trusted.
 */
export function decodeBlock(bytes: Uint8Array): SignedBlock {
  const cose = decodeCoseSign1(abytes(bytes, undefined, 'bytes'), MAX_BLOCK_BYTES);
  const header = decodeBlockHeader(cose.payload);
  return Object.freeze({ header, bytes: cose.bytes, hash: blockHash(cose.bytes), kid: cose.kid, cose });
}

export interface VerifyBlockOptions {
  /** Authority public keys (32 bytes each); the block must be signed by one of them. */
  readonly authorities: readonly Uint8Array[];
  /** When given, the header must name this chain. */
  readonly chain?: string;
}

/**
 * Decodes a signed block and verifies its signature with the authority key its kid names.
 * Refusals: the decoding codes, MG_ERR_UNKNOWN_AUTHORITY (no authority key has that kid),
 * MG_ERR_CHAIN_MISMATCH (another chain than `chain`), MG_ERR_BAD_SIGNATURE.
 */
export function verifyBlock(
  block: Uint8Array | SignedBlock,
  options: VerifyBlockOptions,
  backend: Ed25519Backend,
): SignedBlock {
  const signed = block instanceof Uint8Array ? decodeBlock(block) : block;
  const key = authorityFor(signed.kid, options.authorities);
  if (options.chain !== undefined && options.chain !== signed.header.chain) {
    throw new MedgateError(ProtocolErrorCode.CHAIN_MISMATCH, 'the block belongs to another chain', {
      field: 'chain',
      got: signed.header.chain,
      want: options.chain,
    });
  }
  verifyCoseSign1(signed.cose, key, chainAad(signed.header.chain), backend);
  return signed;
}

/** The authority key whose kid is `kid`; MG_ERR_UNKNOWN_AUTHORITY when none is. */
export function authorityFor(kid: Uint8Array, authorities: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(authorities)) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'authorities must be an array of public keys', {
      field: 'authorities',
    });
  }
  for (let i = 0; i < authorities.length; i++) {
    const key = abytes(authorities[i], 32, `authorities[${i}]`);
    if (equalBytes(kidOf(key), kid)) return key;
  }
  throw new MedgateError(
    ProtocolErrorCode.UNKNOWN_AUTHORITY,
    'the block is not signed by a known authority key',
    {
      field: 'protected.4',
      got: toHex(kid),
    },
  );
}

/** SHA-256 of a signed block's COSE bytes: what the next block's `prev` holds. */
export function blockHash(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

/** RFC 9162 root over leafHash(tx) of `txs`, in order; EMPTY_ROOT for none. */
export function txRootOf(txs: readonly Uint8Array[]): Uint8Array {
  const range = new CompactRange();
  for (let i = 0; i < txs.length; i++) range.append(leafHash(abytes(txs[i], undefined, `txs[${i}]`)));
  return range.root();
}

/**
 * Verifies that `tx` (its COSE bytes) is transaction `index` of the block with this header,
 * from an RFC 9162 inclusion proof over the block's transactions. Throws the Merkle codes.
 */
export function verifyTxInclusion(
  tx: Uint8Array,
  index: number,
  proof: readonly Uint8Array[],
  header: BlockHeader,
): void {
  verifyInclusion(leafHash(abytes(tx, undefined, 'tx')), index, header.txCount, proof, header.txRoot);
}

/** A caller's header must be well-typed before it is signed: bad input here is a bug. */
function checkHeader(header: BlockHeader): void {
  const bad = (field: string) =>
    new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `header.${field} is invalid`, {
      field: `header.${field}`,
    });
  const uint = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (typeof header !== 'object' || header === null) throw bad('(root)');
  if (
    typeof header.chain !== 'string' ||
    !CHAIN_ID_RULE.pattern!.test(header.chain) ||
    header.chain.length > 64
  ) {
    throw bad('chain');
  }
  if (!uint(header.height)) throw bad('height');
  if (!uint(header.t) || header.t > MAX_TIME_MS) throw bad('t');
  if (!uint(header.txCount) || header.txCount > MAX_TX_PER_BLOCK) throw bad('txCount');
  if (typeof header.log !== 'object' || header.log === null || !uint(header.log.size)) throw bad('log.size');
  abytes(header.prev, HASH_SIZE, 'header.prev');
  abytes(header.txRoot, HASH_SIZE, 'header.txRoot');
  abytes(header.log.root, HASH_SIZE, 'header.log.root');
}
