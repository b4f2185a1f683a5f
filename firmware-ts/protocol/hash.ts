/** SHA-256 (FIPS 180-4) for kids, Merkle leaves and digests: one wrapper so every caller hashes alike. */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { abytes } from './bytes.js';

export const SHA256_LENGTH = 32;

/** SHA-256 of `data`; throws MG_ERR_BAD_ARGUMENT unless `data` is a Uint8Array. */
export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(abytes(data, undefined, 'data'));
}
