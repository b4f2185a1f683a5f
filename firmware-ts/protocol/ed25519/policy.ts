/**
 * medgate's one ed25519 verification policy (DESIGN §3), applied identically by every backend.
 *
 * Why: RFC 8032 §5.1.7 lets a verifier check either the cofactored equation
 * [8][S]B = [8]R + [8][k]A or the cofactorless [S]B = R + [k]A, and is silent on small-order
 * keys. OpenSSL 3.0 (node:crypto) is cofactorless (it compares encode([S]B - [k]A) with the R
 * bytes) and decodes A leniently (y >= p, x = 0 with the sign bit set). @noble/ed25519 v3 is
 * cofactored (ZIP 215 by default; `zip215: false` adds y < p and refuses small-order A). Both pass
 * every Wycheproof case, yet they disagree on crafted signatures: non-canonical A, small-order A
 * with small-order R, and A or R carrying a torsion component (test/protocol/ed25519.test.ts).
 *
 * The policy, checked before any curve arithmetic of the backend:
 *  1. the signature is 64 bytes and S < L (RFC 8032 §5.1.7 step 1; no malleability, §8.4);
 *  2. R is canonical (y < p) and not one of the 8 small-order points (as libsodium does);
 *  3. A is 32 bytes, not a small-order point in any encoding, canonical (y < p), on the curve;
 *  4. then the cofactorless equation, by encodings: encode([S]B - [k]A) == R, with
 *     k = SHA-512(R || A || M) mod L over the received bytes. OpenSSL computes exactly this;
 *     the noble backend computes it with noble's Point (noble's own verify is cofactored).
 * An R that is not on the curve needs no check of its own: it never equals a computed encoding.
 */
import { Point } from '@noble/ed25519';
import { abytes } from '../bytes.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH } from './types.js';

/** Field prime p = 2^255 - 19 (RFC 8032 §5.1). */
export const ED25519_P = 2n ** 255n - 19n;
/** Order L of the prime-order subgroup (RFC 8032 §5.1). */
export const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

/** y of the two order-8 point pairs; the y of the other small-order points are 0, 1 and p - 1. */
const Y_ORDER8 = 0x5fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;

export function bytesToNumberLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

function numberTo32BytesLE(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}

// The checks below compare bytes, not bigints: they run before every node:crypto verify.
const L_LE = numberTo32BytesLE(ED25519_L);
const P_LE = numberTo32BytesLE(ED25519_P);

/**
 * Every point whose y (mod p) is one of 0, 1, p - 1, ±y8 has small order (1, 2, 4 or 8), and every
 * small-order point has one of them. Listing those y, and y + p where it fits in 255 bits, covers
 * every encoding of the 8 points, whatever the sign bit (which the comparison ignores).
 */
const SMALL_ORDER_Y_LE: readonly Uint8Array[] = [
  0n,
  1n,
  ED25519_P - 1n,
  Y_ORDER8,
  ED25519_P - Y_ORDER8,
  ED25519_P,
  ED25519_P + 1n,
].map(numberTo32BytesLE);

/** a < b for 32-byte little-endian numbers; `ignoreSignBit` clears bit 255 of `a` first. */
function lessThanLE(a: Uint8Array, b: Uint8Array, ignoreSignBit: boolean): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 && ignoreSignBit ? (a[i] as number) & 0x7f : (a[i] as number);
    const y = b[i] as number;
    if (x !== y) return x < y;
  }
  return false;
}

/** The y written in a 32-byte point encoding is canonical (y < p; RFC 8032 §5.1.3 step 1). */
function canonicalY(point: Uint8Array): boolean {
  return lessThanLE(point, P_LE, true);
}

/** True when the 32-byte encoding names a small-order point, in any of its encodings. */
export function isSmallOrderEncoding(point: Uint8Array): boolean {
  if (point.length !== 32) return false;
  next: for (const y of SMALL_ORDER_Y_LE) {
    if (((point[31] as number) & 0x7f) !== y[31]) continue;
    for (let i = 0; i < 31; i++) if (point[i] !== y[i]) continue next;
    return true;
  }
  return false;
}

/** Policy steps 1 and 2: length, S < L, R canonical and not of small order. */
export function signatureEncodingOk(signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_LENGTH) return false;
  if (!lessThanLE(signature.subarray(32), L_LE, false)) return false;
  const r = signature.subarray(0, 32);
  return canonicalY(r) && !isSmallOrderEncoding(r);
}

export type PublicKeyCheck =
  | { readonly ok: true; readonly point: Point }
  | { readonly ok: false; readonly code: ProtocolErrorCode; readonly reason: string };

/** Policy step 3; on success returns the decoded point (the noble backend computes with it). */
export function checkPublicKey(publicKey: Uint8Array): PublicKeyCheck {
  const bad = ProtocolErrorCode.BAD_KEY;
  if (publicKey.length !== PUBLIC_KEY_LENGTH) return { ok: false, code: bad, reason: 'is not 32 bytes' };
  // Small order first, so that a non-canonical encoding of such a point is named for what it is.
  if (isSmallOrderEncoding(publicKey)) {
    return { ok: false, code: ProtocolErrorCode.SMALL_ORDER_KEY, reason: 'is a point of small order' };
  }
  if (!canonicalY(publicKey)) return { ok: false, code: bad, reason: 'is not canonical (y >= p)' };
  try {
    return { ok: true, point: Point.fromBytes(publicKey, false) };
  } catch {
    return { ok: false, code: bad, reason: 'is not a point on the curve' };
  }
}

/** Throws MG_ERR_BAD_ARGUMENT unless all three are Uint8Array (lengths are the policy's business). */
export function assertVerifyArguments(signature: unknown, message: unknown, publicKey: unknown): void {
  abytes(signature, undefined, 'signature');
  abytes(message, undefined, 'message');
  abytes(publicKey, undefined, 'publicKey');
}

/**
 * Enrolment check of a public key (DESIGN §3): everything verification requires (step 3) and,
 * once per key, that it lies in the prime-order subgroup, so that no key medgate holds carries a
 * torsion component on which cofactored and cofactorless verifiers elsewhere could disagree
 * (libsodium's crypto_core_ed25519_is_valid_point does the same). Returns the key.
 * Throws MG_ERR_SMALL_ORDER_KEY for the 8 small-order points in every encoding, else MG_ERR_BAD_KEY.
 */
export function assertValidPublicKey(publicKey: Uint8Array): Uint8Array {
  abytes(publicKey, undefined, 'publicKey');
  const check = checkPublicKey(publicKey);
  if (!check.ok) {
    const lengthDetails = publicKey.length === PUBLIC_KEY_LENGTH ? {} : { got: publicKey.length, want: 32 };
    throw new MedgateError(check.code, `ed25519 public key ${check.reason}`, {
      field: 'publicKey',
      ...lengthDetails,
    });
  }
  if (!check.point.isTorsionFree()) {
    const message = 'ed25519 public key is not in the prime-order subgroup';
    throw new MedgateError(ProtocolErrorCode.BAD_KEY, message, { field: 'publicKey' });
  }
  return publicKey;
}
