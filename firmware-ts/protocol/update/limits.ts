/**
 * Bounds of the update wire format v1 (DESIGN §5). They are part of the protocol: the gateway
 * that builds offers and the device that decodes them rely on the same numbers.
 */
import { MAX_BLOCK_BYTES, MAX_TX_PER_BLOCK } from '../block.js';
import { TX_LIMITS } from '../tx/bodies.js';
import { TX_MAX_BYTES } from '../tx/sign.js';

export const UPDATE_WIRE_VERSION = 1;

export const UPDATE_LIMITS = Object.freeze({
  /** Largest chunk of image data one message carries (and the largest a device asks for). */
  maxChunk: 16_384,
  /** Approvals carried by one offer; as many as a bundle may have admins. */
  maxApprovals: 64,
  /** An approval is a `proposal.approve` transaction: a small envelope and a signature. */
  maxApprovalBytes: 1024,
  /** A proposal carries a rollout target of up to 1024 device ids. */
  maxProposalBytes: TX_MAX_BYTES,
  /** A manifest is a vendor COSE_Sign1 of a flat map. */
  maxManifestBytes: TX_LIMITS.maxCoseBytes,
  maxBlockBytes: MAX_BLOCK_BYTES,
  /** RFC 9162 inclusion path in a block of at most MAX_TX_PER_BLOCK = 2^16 transactions. */
  maxTxPath: Math.log2(MAX_TX_PER_BLOCK),
  /** Trust bundles (device side). */
  maxAuthorities: 8,
  maxAdmins: 64,
  maxVendors: 256,
  /** Rollout policies of a bundle: as many as a genesis config may have (gateway genesis.ts). */
  maxPolicies: 256,
  maxBundleBytes: 64 * 1024,
  /** Admin signatures on a bundle replacement. */
  maxBundleSigs: 64,
});

/** CBOR limits of an offer: one map of byte strings, two arrays of byte strings. */
export const OFFER_CBOR_LIMITS = Object.freeze({
  maxBytes:
    UPDATE_LIMITS.maxProposalBytes +
    UPDATE_LIMITS.maxApprovals * UPDATE_LIMITS.maxApprovalBytes +
    UPDATE_LIMITS.maxManifestBytes +
    2 * UPDATE_LIMITS.maxBlockBytes +
    4096,
  maxDepth: 2,
  maxStringBytes: UPDATE_LIMITS.maxProposalBytes,
  maxItems: UPDATE_LIMITS.maxApprovals,
});

/** A chunk request is a flat map of three short fields. */
export const CHUNK_REQUEST_CBOR_LIMITS = Object.freeze({
  maxBytes: 128,
  maxDepth: 1,
  maxStringBytes: 32,
  maxItems: 3,
});

/** A chunk: digest, offset, and at most maxChunk bytes of data. */
export const CHUNK_CBOR_LIMITS = Object.freeze({
  maxBytes: UPDATE_LIMITS.maxChunk + 128,
  maxDepth: 1,
  maxStringBytes: UPDATE_LIMITS.maxChunk,
  maxItems: 3,
});

/** A bundle: map → vendors → vendor → models, or map → policies → policy → approvers (depth 4). */
export const BUNDLE_CBOR_LIMITS = Object.freeze({
  maxBytes: UPDATE_LIMITS.maxBundleBytes,
  maxDepth: 4,
  maxStringBytes: 64,
  maxItems: UPDATE_LIMITS.maxVendors,
});

/** A replacement: the bundle bytes and admin COSE_Sign1s, each over the bundle bytes. */
export const REPLACEMENT_CBOR_LIMITS = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 2,
  maxStringBytes: UPDATE_LIMITS.maxBundleBytes + 1024,
  maxItems: UPDATE_LIMITS.maxBundleSigs,
});
