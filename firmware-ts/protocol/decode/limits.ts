/**
 * Bounds of the v1 structures (DESIGN §3). They are part of the wire protocol: a device maker
 * can rely on them, and changing one is a protocol change.
 */
import type { CborLimits } from '../cbor.js';

/** Device, model and principal ids: 1 to 64 of `A-Za-z0-9._-` (DESIGN §3, topics). */
export const ID_MAX_LENGTH = 64;

/** Latest plausible time, in ms since the Unix epoch: 2200-01-01T00:00:00Z. */
export const MAX_TIME_MS = 7_258_118_400_000;

/** Bytes of a token nonce (connect, enrol). */
export const NONCE_BYTES = 16;

/** Bytes of an ed25519 public key (RFC 8032 §5.1.5). */
export const PUBLIC_KEY_BYTES = 32;

/** Largest vendor attestation (a COSE_Sign1 over `{dev, pub, model}`) carried in `att`. */
export const MAX_ATTESTATION_BYTES = 1024;

export const READING_LIMITS = Object.freeze({
  minObservations: 1,
  maxObservations: 16,
  maxCodeLength: 16,
  maxUnitLength: 16,
  maxSeq: Number.MAX_SAFE_INTEGER,
  /** Firmware sequence number, as in the manifest: a uint32. */
  maxFw: 0xffff_ffff,
});

/** LOINC code shape: 1 to 7 digits, a hyphen and the mod-10 check digit. */
export const LOINC_PATTERN = /^\d{1,7}-\d$/;

/** A UCUM code (case-sensitive form) is printable ASCII without spaces. */
export const UCUM_PATTERN = /^[\x21-\x7e]+$/;

/**
 * CBOR limits for decoding a reading payload. The largest valid reading (16 observations with
 * every field at its longest) encodes to under 1 KiB; test/protocol/decoders.test.ts checks it.
 */
export const READING_CBOR_LIMITS: Required<CborLimits> = Object.freeze({
  maxBytes: 1024,
  maxDepth: 3,
  maxStringBytes: 64,
  maxItems: 16,
});

/** CBOR limits for connect tokens, enrolment requests and attestation payloads. */
export const TOKEN_CBOR_LIMITS: Required<CborLimits> = Object.freeze({
  maxBytes: 2048,
  maxDepth: 1,
  maxStringBytes: MAX_ATTESTATION_BYTES,
  maxItems: 8,
});
