/**
 * ed25519 key files (DESIGN §7): the PEM files `openssl genpkey -algorithm ed25519` writes.
 * Private keys are PKCS#8 (RFC 5208 / RFC 5958 v1) and public keys SPKI (RFC 5280), both with the
 * id-Ed25519 OID 1.3.101.112 (RFC 8410 §3, §7). An ed25519 key has exactly one DER encoding of
 * each, so a fixed prefix plus the 32 key bytes is the whole structure: no ASN.1 parser needed.
 * PEM armour follows RFC 7468 (strict: one block, canonical base64, only whitespace around it).
 */
import { abytes, concatBytes, equalBytes, fromBase64, fromHex, toBase64 } from './bytes.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';

/** SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } } */
const PKCS8_ED25519_PREFIX = fromHex('302e020100300506032b657004220420');
/** SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits, 32 bytes) } */
const SPKI_ED25519_PREFIX = fromHex('302a300506032b6570032100');

const KEY_LENGTH = 32;
const PRIVATE_LABEL = 'PRIVATE KEY';
const PUBLIC_LABEL = 'PUBLIC KEY';
/** An ed25519 key file is under 130 characters; anything far larger is not one (bounds the regex). */
const MAX_PEM_LENGTH = 4096;

export function encodePrivateKeyDer(seed: Uint8Array): Uint8Array {
  return concatBytes(PKCS8_ED25519_PREFIX, abytes(seed, KEY_LENGTH, 'seed'));
}

export function encodePublicKeyDer(publicKey: Uint8Array): Uint8Array {
  return concatBytes(SPKI_ED25519_PREFIX, abytes(publicKey, KEY_LENGTH, 'publicKey'));
}

function keyFromDer(der: Uint8Array, prefix: Uint8Array, what: string): Uint8Array {
  if (der.length !== prefix.length + KEY_LENGTH || !equalBytes(der.subarray(0, prefix.length), prefix)) {
    throw new MedgateError(ProtocolErrorCode.BAD_KEY, `not an ed25519 ${what} (RFC 8410)`, {
      field: what,
      got: der.length,
      want: prefix.length + KEY_LENGTH,
    });
  }
  return der.slice(prefix.length);
}

/**
 * The 32-byte seed of a PKCS#8 v1 ed25519 private key. The v2 form with the public key attached
 * (RFC 8410 §7, second example) is refused: openssl never writes it and it would need a check
 * that the two keys belong together.
 */
export function decodePrivateKeyDer(der: Uint8Array): Uint8Array {
  return keyFromDer(abytes(der, undefined, 'der'), PKCS8_ED25519_PREFIX, 'PKCS#8 private key');
}

export function decodePublicKeyDer(der: Uint8Array): Uint8Array {
  return keyFromDer(abytes(der, undefined, 'der'), SPKI_ED25519_PREFIX, 'SPKI public key');
}

/** RFC 7468 §2: base64 in lines of 64 characters between the encapsulation boundaries. */
function armour(label: string, der: Uint8Array): string {
  const body = toBase64(der).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END ([A-Z0-9 ]+)-----$/;

function unarmour(text: unknown, label: string): Uint8Array {
  if (typeof text !== 'string') {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'PEM text must be a string', { got: typeof text });
  }
  if (text.length > MAX_PEM_LENGTH) {
    throw new MedgateError(ProtocolErrorCode.BAD_KEY, 'PEM text is too long for an ed25519 key', {
      got: text.length,
      want: MAX_PEM_LENGTH,
    });
  }
  const match = PEM_BLOCK.exec(text.trim());
  if (match === null || match[1] !== match[3]) {
    throw new MedgateError(ProtocolErrorCode.BAD_KEY, `not a PEM "${label}" block (RFC 7468)`, {
      want: label,
    });
  }
  if (match[1] !== label) {
    // ENCRYPTED PRIVATE KEY, RSA PRIVATE KEY, CERTIFICATE, ... all land here.
    throw new MedgateError(ProtocolErrorCode.BAD_KEY, `PEM block is "${match[1]}", expected "${label}"`, {
      got: match[1],
      want: label,
    });
  }
  const base64 = (match[2] as string).replace(/\s+/g, '');
  let der: Uint8Array;
  try {
    der = fromBase64(base64, 'PEM body');
  } catch (cause) {
    throw new MedgateError(ProtocolErrorCode.BAD_KEY, 'PEM body is not valid base64', {
      field: label,
      cause,
    });
  }
  // Canonical base64 only (padding present, no stray bits): one key, one spelling.
  if (toBase64(der) !== base64) {
    throw new MedgateError(ProtocolErrorCode.BAD_KEY, 'PEM body is not canonical base64', { field: label });
  }
  return der;
}

export function encodePrivateKeyPem(seed: Uint8Array): string {
  return armour(PRIVATE_LABEL, encodePrivateKeyDer(seed));
}

/** The 32-byte seed in an `openssl genpkey -algorithm ed25519` file; MG_ERR_BAD_KEY otherwise. */
export function decodePrivateKeyPem(text: string): Uint8Array {
  return decodePrivateKeyDer(unarmour(text, PRIVATE_LABEL));
}

export function encodePublicKeyPem(publicKey: Uint8Array): string {
  return armour(PUBLIC_LABEL, encodePublicKeyDer(publicKey));
}

/** The 32-byte public key in an `openssl pkey -pubout` file; MG_ERR_BAD_KEY otherwise. */
export function decodePublicKeyPem(text: string): Uint8Array {
  return decodePublicKeyDer(unarmour(text, PUBLIC_LABEL));
}
