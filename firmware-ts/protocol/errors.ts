/**
 * Coded errors for the v1 wire formats. Every refusal of untrusted input throws a
 * MedgateError whose `code` is stable: tests, logs and device firmware match on it,
 * never on the message. Every code is listed in docs/errors.md (a test checks this).
 */

export const ProtocolErrorCode = Object.freeze({
  /** Generic bad argument from a caller (not from the wire). */
  BAD_ARGUMENT: 'MG_ERR_BAD_ARGUMENT',

  // CBOR (RFC 8949) decoding of untrusted bytes.
  CBOR_MALFORMED: 'MG_ERR_CBOR_MALFORMED',
  CBOR_TRAILING_BYTES: 'MG_ERR_CBOR_TRAILING_BYTES',
  CBOR_INDEFINITE_LENGTH: 'MG_ERR_CBOR_INDEFINITE_LENGTH',
  CBOR_DUPLICATE_KEY: 'MG_ERR_CBOR_DUPLICATE_KEY',
  CBOR_NON_SHORTEST: 'MG_ERR_CBOR_NON_SHORTEST',
  CBOR_TOO_DEEP: 'MG_ERR_CBOR_TOO_DEEP',
  CBOR_TOO_LARGE: 'MG_ERR_CBOR_TOO_LARGE',
  CBOR_UNSUPPORTED: 'MG_ERR_CBOR_UNSUPPORTED',

  // ed25519 keys and signatures.
  BAD_KEY: 'MG_ERR_BAD_KEY',
  SMALL_ORDER_KEY: 'MG_ERR_SMALL_ORDER_KEY',
  BAD_SIGNATURE: 'MG_ERR_BAD_SIGNATURE',

  // COSE_Sign1 (RFC 9052).
  COSE_MALFORMED: 'MG_ERR_COSE_MALFORMED',
  COSE_BAD_ALGORITHM: 'MG_ERR_COSE_BAD_ALGORITHM',
  COSE_BAD_HEADER: 'MG_ERR_COSE_BAD_HEADER',
  COSE_KID_MISMATCH: 'MG_ERR_COSE_KID_MISMATCH',

  // Merkle proofs (RFC 9162 §2.1).
  MERKLE_BAD_INDEX: 'MG_ERR_MERKLE_BAD_INDEX',
  MERKLE_BAD_SIZE: 'MG_ERR_MERKLE_BAD_SIZE',
  MERKLE_BAD_PROOF: 'MG_ERR_MERKLE_BAD_PROOF',
  MERKLE_ROOT_MISMATCH: 'MG_ERR_MERKLE_ROOT_MISMATCH',
  MERKLE_BAD_HASH: 'MG_ERR_MERKLE_BAD_HASH',

  // Typed decoders of v1 structures (DESIGN §3).
  BAD_FIELD: 'MG_ERR_BAD_FIELD',
  MISSING_FIELD: 'MG_ERR_MISSING_FIELD',
  UNKNOWN_FIELD: 'MG_ERR_UNKNOWN_FIELD',
  BAD_PURPOSE: 'MG_ERR_BAD_PURPOSE',

  // Topics and identifiers.
  BAD_DEVICE_ID: 'MG_ERR_BAD_DEVICE_ID',
  BAD_TOPIC: 'MG_ERR_BAD_TOPIC',

  // Blocks, receipts and consistency bundles (block.ts, receipt.ts, checkpoint.ts).
  UNKNOWN_AUTHORITY: 'MG_ERR_UNKNOWN_AUTHORITY',
  CHAIN_MISMATCH: 'MG_ERR_CHAIN_MISMATCH',
  CHECKPOINT_MISMATCH: 'MG_ERR_CHECKPOINT_MISMATCH',
  READING_MISMATCH: 'MG_ERR_READING_MISMATCH',

  // Observations against the vital-sign catalogue (vitals.ts).
  UNKNOWN_CODE: 'MG_ERR_UNKNOWN_CODE',
  BAD_UNIT: 'MG_ERR_BAD_UNIT',
  IMPLAUSIBLE_VALUE: 'MG_ERR_IMPLAUSIBLE_VALUE',

  // Verified readings for clinicians (verified-reading.ts).
  VERIFIED_MISMATCH: 'MG_ERR_VERIFIED_MISMATCH',
});

export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export interface MedgateErrorDetails {
  /** Path of the offending field, for example `obs[2].v`. */
  field?: string;
  /** What was found, when it helps (never secret material). */
  got?: unknown;
  /** What was expected. */
  want?: unknown;
  cause?: unknown;
}

/** The one error type every medgate layer throws for a refusal it can name. */
export class MedgateError extends Error {
  readonly code: string;
  readonly field: string | undefined;
  readonly got: unknown;
  readonly want: unknown;

  constructor(code: string, message: string, details: MedgateErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MedgateError';
    this.code = code;
    this.field = details.field;
    this.got = details.got;
    this.want = details.want;
  }
}

/** True when `err` is a MedgateError, optionally with the given code. */
export function isMedgateError(err: unknown, code?: string): err is MedgateError {
  return err instanceof MedgateError && (code === undefined || err.code === code);
}
