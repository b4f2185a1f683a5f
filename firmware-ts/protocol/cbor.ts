/**
 * CBOR (RFC 8949) for the v1 wire protocol, on cborg.
 *
 * - `encodeCbor` is deterministic (RFC 8949 §4.2.1: shortest forms, definite lengths,
 *   map keys sorted bytewise), so every signer produces the same bytes.
 * - `decodeCbor` takes untrusted bytes and refuses anything a strict peer would not send.
 *   Maps decode to `Map` (never plain objects: no prototype poisoning, integer keys kept).
 */
import { decode, encode, rfc8949EncodeOptions } from 'cborg';
import { MedgateError, ProtocolErrorCode } from './errors.js';

export interface CborLimits {
  /** Largest input accepted, in bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays, maps and tags. */
  readonly maxDepth: number;
}

export const DEFAULT_CBOR_LIMITS: CborLimits = Object.freeze({ maxBytes: 64 * 1024, maxDepth: 16 });

/** Deterministic encoding (RFC 8949 §4.2.1). Accepts Map or plain objects for maps. */
export function encodeCbor(value: unknown): Uint8Array {
  return encode(value, rfc8949EncodeOptions);
}

/** Strict decoding of untrusted bytes; every refusal is a coded MedgateError. */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = DEFAULT_CBOR_LIMITS): unknown {
  if (bytes.length > limits.maxBytes) {
    throw new MedgateError(ProtocolErrorCode.CBOR_TOO_LARGE, 'CBOR input is larger than allowed', {
      got: bytes.length,
      want: limits.maxBytes,
    });
  }
  try {
    return decode(bytes, {
      strict: true,
      allowIndefinite: false,
      allowUndefined: false,
      allowInfinity: false,
      allowNaN: false,
      allowBigInt: false,
      rejectDuplicateMapKeys: true,
      useMaps: true,
    });
  } catch (cause) {
    throw new MedgateError(ProtocolErrorCode.CBOR_MALFORMED, 'CBOR input is malformed', { cause });
  }
}
