/**
 * Building, signing and decoding ledger transactions (DESIGN §4). `decodeTx` checks structure
 * only: the signature is verified by the state machine, which knows the actor's key.
 */
import { decodeCbor, encodeCbor } from '../cbor.js';
import { type CoseSign1, type CoseSigner, chainAad, decodeCoseSign1, signCoseSign1 } from '../cose.js';
import { checkForEncoding } from '../decode/fields.js';
import { sha256 } from '../hash.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import { decodeManifest, encodeManifest } from './manifest.js';
import { decodeRotateProof, encodeRotateProof } from './rotate.js';
import type { Manifest, RotateProof, Tx } from './types.js';

/**
 * CBOR bounds of a transaction. The largest valid one is an access grant or rollout target of
 * 1024 device ids of 64 characters (about 68 KiB); nesting is envelope → body → action → body →
 * target → devs (depth 6).
 */
export const TX_CBOR_LIMITS = Object.freeze({
  maxBytes: 96 * 1024,
  maxDepth: 6,
  maxStringBytes: 2048,
  maxItems: 1024,
});

/** The COSE bytes may add a header and signature (well under 1 KiB) to the payload. */
export const TX_MAX_BYTES = TX_CBOR_LIMITS.maxBytes + 1024;

export interface DecodedTx {
  readonly kind: 'tx';
  readonly tx: Tx;
  /** The COSE_Sign1, strictly decoded; its signature is not verified yet. */
  readonly cose: CoseSign1;
}

/** The deterministic payload bytes of `tx`; MG_ERR_BAD_ARGUMENT (with the field) if it is not valid. */
export function encodeTx(tx: Tx): Uint8Array {
  const map = encodeEnvelope(tx);
  checkForEncoding(map, decodeEnvelope);
  return encodeCbor(map);
}

/** Signs `tx` with the actor's key; external_aad = the chain id. Returns the COSE_Sign1 bytes. */
export function signTx(tx: Tx, signer: CoseSigner): Uint8Array {
  return signCoseSign1(encodeTx(tx), signer, chainAad(tx.chain));
}

/** Decodes a transaction's COSE_Sign1 and its envelope; coded errors for anything malformed. */
export function decodeTx(bytes: Uint8Array): DecodedTx {
  const cose = decodeCoseSign1(bytes, TX_MAX_BYTES);
  const tx = decodeEnvelope(decodeCbor(cose.payload, TX_CBOR_LIMITS));
  return Object.freeze({ kind: 'tx', tx, cose });
}

/** Id of a transaction: SHA-256 of its COSE bytes (a proposal's id is the id of its transaction). */
export function txId(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

/** CBOR bounds of a manifest payload (a flat map of short fields). */
export const MANIFEST_CBOR_LIMITS = Object.freeze({
  maxBytes: 1024,
  maxDepth: 1,
  maxStringBytes: 64,
  maxItems: 7,
});

/** The vendor signs a firmware manifest (DESIGN §5) for a chain. */
export function signManifest(manifest: Manifest, vendor: CoseSigner, chainId: string): Uint8Array {
  const map = encodeManifest(manifest);
  checkForEncoding(map, decodeManifest);
  return signCoseSign1(encodeCbor(map), vendor, chainAad(chainId));
}

/** Decodes a manifest COSE_Sign1 and its payload (signature not verified). */
export function decodeManifestCose(bytes: Uint8Array): {
  readonly cose: CoseSign1;
  readonly manifest: Manifest;
} {
  const cose = decodeCoseSign1(bytes, 2048);
  return { cose, manifest: decodeManifest(decodeCbor(cose.payload, MANIFEST_CBOR_LIMITS)) };
}

/** The new key's signature over a rotation (goes in `device.rotate`'s `proof`). */
export function signRotateProof(
  proof: Omit<RotateProof, 'purpose'>,
  newKey: CoseSigner,
  chainId: string,
): Uint8Array {
  const map = encodeRotateProof(proof);
  checkForEncoding(map, decodeRotateProof);
  return signCoseSign1(encodeCbor(map), newKey, chainAad(chainId));
}

export const ROTATE_CBOR_LIMITS = Object.freeze({
  maxBytes: 512,
  maxDepth: 1,
  maxStringBytes: 64,
  maxItems: 4,
});

export function decodeRotateProofCose(bytes: Uint8Array): {
  readonly cose: CoseSign1;
  readonly proof: RotateProof;
} {
  const cose = decodeCoseSign1(bytes, 2048);
  return { cose, proof: decodeRotateProof(decodeCbor(cose.payload, ROTATE_CBOR_LIMITS)) };
}
