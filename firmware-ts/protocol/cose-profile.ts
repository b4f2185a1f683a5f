/**
 * The fast path of `decodeCoseSign1` (cose.ts), read off fixed offsets: a message signed in
 * medgate's profile is always
 *
 *   d2 84                    tag 18, array(4)
 *   55 a2 01 27 04 50 <kid>  protected: bstr(21) = {1: -8, 4: bstr(16)}
 *   a0                       unprotected: {}
 *   4x / 58 xx / 59 xxxx     payload: bstr, length in its shortest form (RFC 8949 §4.2.1)
 *   58 40 <64 bytes>         signature
 *
 * with nothing after it. `decodeProfileSign1` returns the decoded message only for exactly
 * that shape, which the strict decoder accepts with the same result (test/gateway/
 * pipeline-fast-paths.test.ts checks it on mutated messages); anything else is undefined, and
 * decodeCoseSign1 runs the strict decoder, which names the problem. Internal: not exported
 * from the protocol's public surface; callers use decodeCoseSign1.
 */
import type { CoseSign1 } from './cose.js';

/** tag 18, array(4), bstr(21), then the protected header's prefix up to the kid. */
const HEAD = Uint8Array.of(0xd2, 0x84, 0x55, 0xa2, 0x01, 0x27, 0x04, 0x50);
const KID_AT = HEAD.length;
const KID_BYTES = 16;
const PROTECTED_AT = 3;
const UNPROTECTED_AT = KID_AT + KID_BYTES;
const PAYLOAD_HEAD_AT = UNPROTECTED_AT + 1;
const SIGNATURE_BYTES = 64;
/** bstr(64) head of the signature. */
const SIGNATURE_HEAD = [0x58, 0x40] as const;

export function decodeProfileSign1(bytes: Uint8Array): CoseSign1 | undefined {
  const n = bytes.length;
  if (n < PAYLOAD_HEAD_AT + 1 + SIGNATURE_HEAD.length + SIGNATURE_BYTES) return undefined;
  for (let i = 0; i < HEAD.length; i++) if (bytes[i] !== HEAD[i]) return undefined;
  if (bytes[UNPROTECTED_AT] !== 0xa0) return undefined;
  const head = bytes[PAYLOAD_HEAD_AT] as number;
  let length: number;
  let start: number;
  if (head >= 0x40 && head <= 0x57) {
    length = head - 0x40;
    start = PAYLOAD_HEAD_AT + 1;
  } else if (head === 0x58) {
    length = bytes[PAYLOAD_HEAD_AT + 1] as number;
    if (length < 24) return undefined; // not the shortest form
    start = PAYLOAD_HEAD_AT + 2;
  } else if (head === 0x59) {
    length = ((bytes[PAYLOAD_HEAD_AT + 1] as number) << 8) | (bytes[PAYLOAD_HEAD_AT + 2] as number);
    if (length < 0x100) return undefined;
    start = PAYLOAD_HEAD_AT + 3;
  } else {
    return undefined;
  }
  const end = start + length;
  if (end + SIGNATURE_HEAD.length + SIGNATURE_BYTES !== n) return undefined;
  if (bytes[end] !== SIGNATURE_HEAD[0] || bytes[end + 1] !== SIGNATURE_HEAD[1]) return undefined;
  return Object.freeze({
    bytes,
    protectedBytes: bytes.subarray(PROTECTED_AT, UNPROTECTED_AT),
    kid: bytes.slice(KID_AT, UNPROTECTED_AT),
    payload: bytes.subarray(start, end),
    signature: bytes.subarray(end + SIGNATURE_HEAD.length),
  });
}
