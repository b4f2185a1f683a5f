/**
 * The update offer (DESIGN §5, update wire format v1), retained on `mg/v1/dev/{id}/update`
 * (a zero-length retained payload clears it and is not an offer):
 *
 * `{"v": 1, "rollout": bstr32, "manifest": bstr, "proposal": bstr, "approvals": [bstr, ...],
 *   "block": bstr, "txIndex": uint, "txPath": [bstr32, ...], "latest": bstr, "chunk": uint}`
 *
 * - `rollout` = proposal id = SHA-256 of the `proposal` COSE bytes.
 * - `approvals` are the `proposal.approve` COSEs in ledger order. The transaction that completed
 *   the threshold is the last approval, or the proposal itself when there is none
 *   (`completingTx`); `block` is the signed block that holds it, `txIndex`/`txPath` its
 *   RFC 9162 inclusion in `block.txRoot` (leaf = leafHash(tx COSE bytes), block.ts).
 * - `latest` is the newest signed block the gateway has (freshness); it may equal `block`.
 * - `chunk` is the largest chunk the gateway serves.
 *
 * The decoder checks only the shape and the bounds; every signature and every cross-reference is
 * the device's to check (firmware-ts/agent/check-offer.ts), since it trusts no gateway.
 */

import { MAX_TX_PER_BLOCK } from '../block.js';
import { abytes } from '../bytes.js';
import { decodeCbor, encodeCbor } from '../cbor.js';
import { checkForEncoding, Fields } from '../decode/fields.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { HASH_SIZE } from '../merkle/index.js';
import { OFFER_CBOR_LIMITS, UPDATE_LIMITS, UPDATE_WIRE_VERSION } from './limits.js';

export const OFFER_KEYS = Object.freeze([
  'v',
  'rollout',
  'manifest',
  'proposal',
  'approvals',
  'block',
  'txIndex',
  'txPath',
  'latest',
  'chunk',
] as const);

export interface Offer {
  /** Rollout id = proposal id = SHA-256 of `proposal`. */
  readonly rollout: Uint8Array;
  /** The vendor's manifest COSE_Sign1. */
  readonly manifest: Uint8Array;
  /** The `proposal.create` transaction COSE (action `rollout.authorize`). */
  readonly proposal: Uint8Array;
  /** The `proposal.approve` transaction COSEs, in ledger order. */
  readonly approvals: readonly Uint8Array[];
  /** The signed block holding the transaction that completed the threshold. */
  readonly block: Uint8Array;
  /** Index of that transaction in the block. */
  readonly txIndex: number;
  /** RFC 9162 inclusion path of that transaction in `block`'s txRoot. */
  readonly txPath: readonly Uint8Array[];
  /** The newest signed block the gateway has. */
  readonly latest: Uint8Array;
  /** Largest chunk the gateway serves (1..16384). */
  readonly chunk: number;
}

function badField(field: string, message: string): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_FIELD, `${field}: ${message}`, { field });
}

function bstr(item: unknown, path: string, min: number, max: number): Uint8Array {
  if (!(item instanceof Uint8Array)) throw badField(path, 'must be a byte string');
  if (item.length < min || item.length > max) throw badField(path, `length must be ${min}..${max}`);
  return item;
}

/** Decodes an offer (already CBOR-decoded); coded errors name the field. */
export function decodeOfferValue(value: unknown): Offer {
  const f = Fields.of(value, '', OFFER_KEYS);
  f.uint('v', { min: UPDATE_WIRE_VERSION, max: UPDATE_WIRE_VERSION });
  const offer: Offer = {
    rollout: f.bytes('rollout', { len: HASH_SIZE }),
    manifest: f.bytes('manifest', { min: 1, max: UPDATE_LIMITS.maxManifestBytes }),
    proposal: f.bytes('proposal', { min: 1, max: UPDATE_LIMITS.maxProposalBytes }),
    approvals: f.list('approvals', { max: UPDATE_LIMITS.maxApprovals }, (item, path) =>
      bstr(item, path, 1, UPDATE_LIMITS.maxApprovalBytes),
    ),
    block: f.bytes('block', { min: 1, max: UPDATE_LIMITS.maxBlockBytes }),
    txIndex: f.uint('txIndex', { max: MAX_TX_PER_BLOCK - 1 }),
    txPath: f.list('txPath', { max: UPDATE_LIMITS.maxTxPath }, (item, path) =>
      bstr(item, path, HASH_SIZE, HASH_SIZE),
    ),
    latest: f.bytes('latest', { min: 1, max: UPDATE_LIMITS.maxBlockBytes }),
    chunk: f.uint('chunk', { min: 1, max: UPDATE_LIMITS.maxChunk }),
  };
  return Object.freeze(offer);
}

/** Strict decoding of an offer from untrusted bytes (CBOR codes, then field codes). */
export function decodeOffer(bytes: Uint8Array): Offer {
  return decodeOfferValue(decodeCbor(abytes(bytes, undefined, 'bytes'), OFFER_CBOR_LIMITS));
}

/** Deterministic CBOR of an offer; MG_ERR_BAD_ARGUMENT (with the field) if it would not decode. */
export function encodeOffer(offer: Offer): Uint8Array {
  const map = new Map<string, unknown>([
    ['v', UPDATE_WIRE_VERSION],
    ['rollout', offer.rollout],
    ['manifest', offer.manifest],
    ['proposal', offer.proposal],
    ['approvals', [...offer.approvals]],
    ['block', offer.block],
    ['txIndex', offer.txIndex],
    ['txPath', [...offer.txPath]],
    ['latest', offer.latest],
    ['chunk', offer.chunk],
  ]);
  checkForEncoding(map, decodeOfferValue);
  return encodeCbor(map);
}

/**
 * The transaction whose inclusion `block`/`txIndex`/`txPath` prove: the one that completed the
 * threshold, i.e. the last approval, or the proposal when it needed no approval (the ledger
 * refuses approvals of an executed proposal, so nothing follows the completing one).
 */
export function completingTx(offer: Pick<Offer, 'proposal' | 'approvals'>): Uint8Array {
  return offer.approvals.length > 0
    ? (offer.approvals[offer.approvals.length - 1] as Uint8Array)
    : offer.proposal;
}
