/**
 * ed25519 backend on node:crypto (OpenSSL), the gateway's hot path: about 10 times noble's sign
 * rate and 13 times its verify rate (test/bench/crypto.ts). Node-only: not in protocol/index.ts.
 *
 * OpenSSL verifies cofactorless by comparing encode([S]B - [k]A) with R (policy.ts step 4) but
 * accepts non-canonical and small-order keys; the policy's checks run first so that this backend
 * accepts exactly what the noble one accepts.
 */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
  randomFillSync,
} from 'node:crypto';
import { abytes, equalBytes, toHex } from '../bytes.js';
import { decodePublicKeyDer, encodePrivateKeyDer, encodePublicKeyDer } from '../pem.js';
import { assertVerifyArguments, checkPublicKey, signatureEncodingOk } from './policy.js';
import { type Ed25519Backend, SECRET_KEY_LENGTH } from './types.js';

/** Public keys whose KeyObject (or policy refusal, as null) is kept; a gateway's active fleet. */
export const PUBLIC_KEY_CACHE_SIZE = 10_000;

// Map iteration order is insertion order: re-inserting on a hit makes the first key the LRU.
const publicKeys = new Map<string, KeyObject | null>();

/** The KeyObject for `publicKey`, or null when the policy refuses the key (cached either way). */
function publicKeyObject(publicKey: Uint8Array): KeyObject | null {
  const id = toHex(publicKey);
  const cached = publicKeys.get(id);
  if (cached !== undefined) {
    publicKeys.delete(id);
    publicKeys.set(id, cached);
    return cached;
  }
  const key = checkPublicKey(publicKey).ok
    ? createPublicKey({ key: encodePublicKeyDer(publicKey), format: 'der', type: 'spki' })
    : null;
  if (publicKeys.size >= PUBLIC_KEY_CACHE_SIZE) {
    const oldest = publicKeys.keys().next();
    if (oldest.done !== true) publicKeys.delete(oldest.value);
  }
  publicKeys.set(id, key);
  return key;
}

/**
 * Importing a private key costs OpenSSL a scalar multiplication (it derives the public key), ten
 * times a signature; so each secret key array keeps its KeyObject while the caller holds it.
 * The copy detects a caller that rewrote the array in place.
 */
const secretKeys = new WeakMap<Uint8Array, { readonly copy: Uint8Array; readonly key: KeyObject }>();

function secretKeyObject(secretKey: Uint8Array): KeyObject {
  abytes(secretKey, SECRET_KEY_LENGTH, 'secretKey');
  const cached = secretKeys.get(secretKey);
  if (cached !== undefined && equalBytes(cached.copy, secretKey)) return cached.key;
  const key = createPrivateKey({ key: encodePrivateKeyDer(secretKey), format: 'der', type: 'pkcs8' });
  secretKeys.set(secretKey, { copy: secretKey.slice(), key });
  return key;
}

/** A plain Uint8Array view of the Buffer node returns, so results compare equal to noble's. */
function plain(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export const nodeBackend: Ed25519Backend = Object.freeze({
  name: 'node' as const,
  generateSecretKey: (): Uint8Array => randomFillSync(new Uint8Array(SECRET_KEY_LENGTH)),
  publicKey(secretKey: Uint8Array): Uint8Array {
    const spki = createPublicKey(secretKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
    return decodePublicKeyDer(plain(spki));
  },
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
    abytes(message, undefined, 'message');
    return plain(nodeSign(null, message, secretKeyObject(secretKey)));
  },
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    assertVerifyArguments(signature, message, publicKey);
    if (!signatureEncodingOk(signature)) return false;
    const key = publicKeyObject(publicKey);
    return key !== null && nodeVerify(null, message, key, signature);
  },
});
