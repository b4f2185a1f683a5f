/**
 * COSE_Sign1 (RFC 9052 §4.2, §4.4) in medgate's profile (DESIGN §3): tag 18, protected header
 * exactly `{1: -8, 4: kid}` (alg EdDSA, kid = kidOf(pub)), empty unprotected header, embedded
 * payload, and external_aad = the UTF-8 chain id, so nothing signed for one deployment verifies
 * in another. The strict decoder accepts only that profile; the generic functions at the end
 * exist to reproduce and read other COSE producers' messages in interop tests.
 */
import { abytes, concatBytes, equalBytes, utf8 } from './bytes.js';
import { CborTag, DEFAULT_CBOR_LIMITS, decodeCbor, encodeCbor } from './cbor.js';
import { decodeProfileSign1 } from './cose-profile.js';
import type { Ed25519Backend } from './ed25519/types.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';
import { KID_LENGTH, kidOf } from './kid.js';

/** RFC 9052 §4.2: CBOR tag of COSE_Sign1_Tagged. */
export const COSE_SIGN1_TAG = 18;
/** RFC 9052 §3.1 header labels; RFC 9053 §2.2: EdDSA. */
export const COSE_HEADER_ALG = 1;
export const COSE_HEADER_KID = 4;
export const COSE_ALG_EDDSA = -8;
const SIGNATURE_LENGTH = 64;

export type CoseHeaderMap = Map<number | string, unknown>;

/** Whatever holds the key: a secret key in memory, a secure element, an HSM. */
export interface CoseSigner {
  readonly kid: Uint8Array;
  sign(toBeSigned: Uint8Array): Uint8Array;
}

/** A COSE_Sign1 that passed the strict profile check (not yet its signature). */
export interface CoseSign1 {
  /** The tagged COSE_Sign1 exactly as received (what the reading log hashes). */
  readonly bytes: Uint8Array;
  readonly protectedBytes: Uint8Array;
  readonly kid: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

function malformed(message: string, details: { field?: string; cause?: unknown } = {}): MedgateError {
  return new MedgateError(ProtocolErrorCode.COSE_MALFORMED, `COSE_Sign1 ${message}`, details);
}

function badHeader(message: string, field: string): MedgateError {
  return new MedgateError(ProtocolErrorCode.COSE_BAD_HEADER, `COSE_Sign1 ${message}`, { field });
}

/** A signer over a 32-byte ed25519 secret key; keeps its own copy of the key. */
export function signerFromSecretKey(secretKey: Uint8Array, backend: Ed25519Backend): CoseSigner {
  // Our own array: a caller wiping theirs cannot change the key, and the node backend caches
  // its KeyObject per array, so every signature reuses it.
  const key = abytes(secretKey, 32, 'secretKey').slice();
  const kid = kidOf(backend.publicKey(key));
  return Object.freeze({ kid, sign: (toBeSigned: Uint8Array) => backend.sign(toBeSigned, key) });
}

/** external_aad of every medgate signature (DESIGN §3): the chain id as UTF-8. */
export function chainAad(chainId: string): Uint8Array {
  // A lone surrogate would become U+FFFD, so two different ids could share one aad.
  if (typeof chainId !== 'string' || chainId.length === 0 || /\p{Cs}/u.test(chainId)) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'chainId must be a non-empty well-formed string', {
      field: 'chainId',
    });
  }
  return utf8(chainId);
}

/** RFC 9052 §4.4: Sig_structure = ["Signature1", body_protected, external_aad, payload]. */
export function toBeSigned1(
  protectedBytes: Uint8Array,
  externalAad: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  return encodeCbor([
    'Signature1',
    abytes(protectedBytes, undefined, 'protectedBytes'),
    abytes(externalAad, undefined, 'externalAad'),
    abytes(payload, undefined, 'payload'),
  ]);
}

/**
 * The one protected header medgate writes and accepts, `{1: -8, 4: kid}` in deterministic CBOR
 * (RFC 8949 §4.2.1): map(2), 1, -8, 4, bstr(16). Written out because it is on every hot path;
 * test/protocol/cose.test.ts checks it against encodeCbor of the map.
 */
const PROFILE_PROTECTED_PREFIX = Uint8Array.of(0xa2, 0x01, 0x27, 0x04, 0x40 | KID_LENGTH);

function profileProtectedBytes(kid: Uint8Array): Uint8Array {
  return concatBytes(PROFILE_PROTECTED_PREFIX, abytes(kid, KID_LENGTH, 'kid'));
}

/** Signs `payload` in medgate's profile; returns the tagged COSE_Sign1 bytes. */
export function signCoseSign1(payload: Uint8Array, signer: CoseSigner, externalAad: Uint8Array): Uint8Array {
  return signCoseSign1Generic(
    { protectedBytes: profileProtectedBytes(signer.kid), unprotectedHeader: new Map(), payload },
    (toBeSigned) => signer.sign(toBeSigned),
    externalAad,
  );
}

/**
 * Strict decoding of an untrusted COSE_Sign1 in medgate's profile. Refusals:
 * MG_ERR_COSE_MALFORMED (not CBOR, not tag 18, not 4 items, detached payload, signature not
 * 64 bytes; a CBOR refusal is the `cause`), MG_ERR_COSE_BAD_ALGORITHM (alg absent or not -8),
 * MG_ERR_COSE_BAD_HEADER (any other header content, or protected bytes not written as
 * `{1: -8, 4: kid}` deterministically).
 */
export function decodeCoseSign1(
  bytes: Uint8Array,
  maxBytes: number = DEFAULT_CBOR_LIMITS.maxBytes,
): CoseSign1 {
  abytes(bytes, undefined, 'bytes');
  // The exact profile shape is read off fixed offsets (cose-profile.ts); anything else, valid
  // or not, takes the strict path below, which is the one that names what is wrong.
  if (bytes.length <= maxBytes) {
    const profile = decodeProfileSign1(bytes);
    if (profile !== undefined) return profile;
  }
  const [protectedBytes, unprotected, payload, signature] = decodeStructure(bytes, maxBytes, true);
  const kid = profileKid(protectedBytes);
  if (unprotected.size !== 0) throw badHeader('unprotected header must be empty', 'unprotected');
  if (signature.length !== SIGNATURE_LENGTH) {
    throw malformed(`signature must be ${SIGNATURE_LENGTH} bytes`, { field: 'signature' });
  }
  return Object.freeze({ bytes, protectedBytes, kid, payload, signature });
}

/**
 * The kid of a protected header in medgate's profile. The exact profile bytes take the fast path;
 * anything else is decoded only to name what is wrong with it.
 */
function profileKid(protectedBytes: Uint8Array): Uint8Array {
  const prefix = PROFILE_PROTECTED_PREFIX.length;
  if (
    protectedBytes.length === prefix + KID_LENGTH &&
    equalBytes(protectedBytes.subarray(0, prefix), PROFILE_PROTECTED_PREFIX)
  ) {
    return protectedBytes.slice(prefix);
  }
  const header = decodeProtected(protectedBytes);
  const alg = header.get(COSE_HEADER_ALG);
  if (alg !== COSE_ALG_EDDSA) {
    throw new MedgateError(ProtocolErrorCode.COSE_BAD_ALGORITHM, 'COSE_Sign1 alg must be EdDSA (-8)', {
      field: 'protected.1',
      got: typeof alg === 'number' ? alg : typeof alg, // never echo wire bytes into logs
      want: COSE_ALG_EDDSA,
    });
  }
  for (const label of header.keys()) {
    if (label !== COSE_HEADER_ALG && label !== COSE_HEADER_KID) {
      const name = String(label).slice(0, 32);
      throw badHeader(`protected header may hold only alg and kid, not ${name}`, `protected.${name}`);
    }
  }
  const kid = header.get(COSE_HEADER_KID);
  if (!(kid instanceof Uint8Array) || kid.length !== KID_LENGTH) {
    throw badHeader(`kid must be a ${KID_LENGTH}-byte string`, 'protected.4');
  }
  // Right content, other bytes (keys out of order, say): one message has one encoding.
  throw badHeader('protected header is not deterministically encoded', 'protected');
}

/** RFC 9052 §4.4 ToBeSigned of a decoded message under the given external_aad. */
export function sigStructure(msg: CoseSign1, externalAad: Uint8Array): Uint8Array {
  return toBeSigned1(msg.protectedBytes, externalAad, msg.payload);
}

/**
 * Verifies a strictly decoded COSE_Sign1 under `publicKey` and `externalAad` (the chain aad).
 * Throws MG_ERR_COSE_KID_MISMATCH if the kid is not kidOf(publicKey), MG_ERR_BAD_SIGNATURE if
 * the signature does not verify (strict ed25519 policy of the backend).
 */
export function verifyCoseSign1(
  msg: CoseSign1,
  publicKey: Uint8Array,
  externalAad: Uint8Array,
  backend: Ed25519Backend,
): void {
  if (!equalBytes(msg.kid, kidOf(publicKey))) {
    throw new MedgateError(
      ProtocolErrorCode.COSE_KID_MISMATCH,
      'COSE_Sign1 kid does not name this public key',
      {
        field: 'protected.4',
      },
    );
  }
  if (!backend.verify(msg.signature, sigStructure(msg, externalAad), publicKey)) {
    throw new MedgateError(ProtocolErrorCode.BAD_SIGNATURE, 'COSE_Sign1 signature does not verify', {
      field: 'signature',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Generic COSE_Sign1: any headers. For reproducing published examples and interop tests only;
// medgate's own messages go through the profile functions above.

export interface CoseSign1Parts {
  /** The protected header as a map (encoded deterministically), or its exact bytes. */
  readonly protectedHeader?: CoseHeaderMap;
  readonly protectedBytes?: Uint8Array;
  readonly unprotectedHeader: CoseHeaderMap;
  readonly payload: Uint8Array;
}

/** RFC 9052 §4.2/§4.4 with any headers; `sign` receives the ToBeSigned bytes. Returns tag 18 bytes. */
export function signCoseSign1Generic(
  parts: CoseSign1Parts,
  sign: (toBeSigned: Uint8Array) => Uint8Array,
  externalAad: Uint8Array,
): Uint8Array {
  const protectedBytes =
    parts.protectedBytes ??
    // RFC 9052 §3: an empty protected header is the empty byte string, not an encoded empty map.
    (parts.protectedHeader === undefined || parts.protectedHeader.size === 0
      ? new Uint8Array(0)
      : encodeCbor(parts.protectedHeader));
  const signature = sign(toBeSigned1(protectedBytes, externalAad, parts.payload));
  return encodeCbor(
    new CborTag(COSE_SIGN1_TAG, [protectedBytes, parts.unprotectedHeader, parts.payload, signature]),
  );
}

export interface GenericCoseSign1 {
  readonly tagged: boolean;
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: CoseHeaderMap;
  readonly unprotectedHeader: CoseHeaderMap;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** Lenient decoding (tag 18 optional, any headers, embedded payload); for interop tests. */
export function decodeCoseSign1Generic(
  bytes: Uint8Array,
  maxBytes: number = DEFAULT_CBOR_LIMITS.maxBytes,
): GenericCoseSign1 {
  abytes(bytes, undefined, 'bytes');
  const [protectedBytes, unprotectedHeader, payload, signature] = decodeStructure(bytes, maxBytes, false);
  return Object.freeze({
    tagged: bytes[0] === 0xd2,
    protectedBytes,
    protectedHeader: decodeProtected(protectedBytes),
    unprotectedHeader,
    payload,
    signature,
  });
}

// ---------------------------------------------------------------------------------------------

type Sign1Items = [Uint8Array, CoseHeaderMap, Uint8Array, Uint8Array];

/** COSE_Sign1 = [protected: bstr, unprotected: map, payload: bstr, signature: bstr] (§4.2). */
function decodeStructure(bytes: Uint8Array, maxBytes: number, requireTag: boolean): Sign1Items {
  let value: unknown;
  try {
    value = decodeCbor(bytes, { maxBytes, tags: [COSE_SIGN1_TAG] });
  } catch (cause) {
    throw malformed('is not acceptable CBOR', { cause });
  }
  if (value instanceof CborTag) value = value.value;
  else if (requireTag) throw malformed(`must carry tag ${COSE_SIGN1_TAG}`);
  if (!Array.isArray(value) || value.length !== 4) throw malformed('must be an array of 4 items');
  const [protectedBytes, unprotected, payload, signature] = value as unknown[];
  if (!(protectedBytes instanceof Uint8Array))
    throw malformed('protected must be a byte string', { field: 'protected' });
  if (!(unprotected instanceof Map)) throw malformed('unprotected must be a map', { field: 'unprotected' });
  if (payload === null) throw malformed('payload must be embedded, not detached', { field: 'payload' });
  if (!(payload instanceof Uint8Array))
    throw malformed('payload must be a byte string', { field: 'payload' });
  if (!(signature instanceof Uint8Array))
    throw malformed('signature must be a byte string', { field: 'signature' });
  return [protectedBytes, unprotected as CoseHeaderMap, payload, signature];
}

/** The protected header: a serialized map, or empty bytes for an empty one (RFC 9052 §3). */
function decodeProtected(protectedBytes: Uint8Array): CoseHeaderMap {
  if (protectedBytes.length === 0) return new Map();
  let header: unknown;
  try {
    header = decodeCbor(protectedBytes, { maxBytes: protectedBytes.length, maxDepth: 4 });
  } catch (cause) {
    throw malformed('protected header is not acceptable CBOR', { field: 'protected', cause });
  }
  if (!(header instanceof Map)) throw malformed('protected header must be a map', { field: 'protected' });
  return header as CoseHeaderMap;
}
