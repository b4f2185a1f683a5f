/**
 * Portable ed25519 backend on @noble/ed25519 v3 (pure JS: devices, browsers, the reference).
 * Keys and signatures come from noble; verification computes the cofactorless equation of
 * policy.ts with noble's Point, because noble's own `verify` is cofactored and would accept
 * crafted signatures that OpenSSL (the node backend) rejects.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { abytes, concatBytes, equalBytes } from '../bytes.js';
import {
  assertVerifyArguments,
  bytesToNumberLE,
  checkPublicKey,
  ED25519_L,
  signatureEncodingOk,
} from './policy.js';
import { type Ed25519Backend, SECRET_KEY_LENGTH } from './types.js';

// noble v3 ships no hash; its README: set `hashes.sha512` to use the synchronous API.
ed.hashes.sha512 = sha512;

function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  assertVerifyArguments(signature, message, publicKey);
  if (!signatureEncodingOk(signature)) return false;
  const key = checkPublicKey(publicKey);
  if (!key.ok) return false;
  const r = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32)); // < L, checked by the policy
  // RFC 8032 §5.1.7 step 2: k = SHA-512(R || A || M) over the bytes received.
  const k = bytesToNumberLE(sha512(concatBytes(r, publicKey, message))) % ED25519_L;
  // Step 3 without the cofactor: [S]B - [k]A must encode to exactly R. Variable-time scalar
  // multiplication is fine here: every input of a verification is public.
  const expected = ed.Point.BASE.multiply(s, false).subtract(key.point.multiply(k, false));
  return equalBytes(expected.toBytes(), r);
}

export const nobleBackend: Ed25519Backend = Object.freeze({
  name: 'noble' as const,
  generateSecretKey: (): Uint8Array => ed.utils.randomSecretKey(),
  publicKey: (secretKey: Uint8Array): Uint8Array =>
    ed.getPublicKey(abytes(secretKey, SECRET_KEY_LENGTH, 'secretKey')),
  sign: (message: Uint8Array, secretKey: Uint8Array): Uint8Array =>
    ed.sign(abytes(message, undefined, 'message'), abytes(secretKey, SECRET_KEY_LENGTH, 'secretKey')),
  verify,
});
