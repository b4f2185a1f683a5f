/**
 * One interface, two ed25519 (RFC 8032) backends: `noble` (portable, devices and browsers) and
 * `node` (OpenSSL through node:crypto, the gateway's hot path). Both apply the same strict
 * verification policy (policy.ts), so they accept and reject exactly the same inputs.
 */
export interface Ed25519Backend {
  readonly name: 'noble' | 'node';
  /** A fresh 32-byte secret key (the RFC 8032 seed) from the platform CSPRNG. */
  generateSecretKey(): Uint8Array;
  /** The 32-byte public key of a 32-byte secret key (RFC 8032 §5.1.5). */
  publicKey(secretKey: Uint8Array): Uint8Array;
  /** A 64-byte signature (RFC 8032 §5.1.6). */
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /**
   * Strict verification (policy.ts). False for any bad signature or key, of any length;
   * throws only MG_ERR_BAD_ARGUMENT when an argument is not a Uint8Array.
   */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

export const SECRET_KEY_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;
