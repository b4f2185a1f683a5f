/**
 * Key identifier of an ed25519 public key (DESIGN §3): the first 16 bytes of SHA-256(pub).
 * It goes in the COSE protected header (RFC 9052 §3.1, label 4) so a verifier can pick the key.
 */
import { abytes } from './bytes.js';
import { sha256 } from './hash.js';

export const KID_LENGTH = 16;

export function kidOf(publicKey: Uint8Array): Uint8Array {
  return sha256(abytes(publicKey, 32, 'publicKey')).slice(0, KID_LENGTH);
}
