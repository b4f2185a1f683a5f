/**
 * Reading the JSON forms of proofs (receipts, consistency bundles) with the same closed-map
 * rules as the CBOR decoders: a parsed JSON object is opened as `Fields`, and the byte fields
 * that JSON carries as text (hex hashes, base64 COSE bytes) are checked for shape, length and
 * canonical spelling before they are decoded, so one proof has one spelling.
 */
import { fromBase64, fromHex, toBase64 } from '../bytes.js';
import { MedgateError, ProtocolErrorCode } from '../errors.js';
import { Fields } from './fields.js';

const HEX_HASH = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bad(field: string, message: string, got?: unknown): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_FIELD, `${field}: ${message}`, { field, got });
}

/**
 * Opens a parsed JSON object as a closed map. Only own enumerable keys count, so nothing is
 * read through the prototype; arrays and null are refused.
 */
export function jsonFields(value: unknown, path: string, allowed: readonly string[]): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(path === '' ? '(root)' : path, 'must be a JSON object', value === null ? 'null' : typeof value);
  }
  return Fields.of(new Map(Object.entries(value)), path, allowed);
}

/** A 32-byte hash written as 64 lowercase hex digits. */
export function hexHash(f: Fields, key: string): Uint8Array {
  const text = f.text(key, { min: 64, max: 64 });
  if (!HEX_HASH.test(text)) throw bad(f.at(key), 'must be 64 lowercase hex digits');
  return fromHex(text, f.at(key));
}

/** An array of 32-byte hashes in hex, at most `max` of them. */
export function hexHashes(f: Fields, key: string, max: number): Uint8Array[] {
  const items = f.array(key, { max });
  return items.map((item, i) => {
    const field = `${f.at(key)}[${i}]`;
    if (typeof item !== 'string' || !HEX_HASH.test(item)) throw bad(field, 'must be 64 lowercase hex digits');
    return fromHex(item, field);
  });
}

/** Bytes written in canonical base64 (RFC 4648 §4, padded), at most `maxBytes` of them. */
export function base64Bytes(f: Fields, key: string, maxBytes: number): Uint8Array {
  const text = f.text(key, { min: 1, max: Math.ceil(maxBytes / 3) * 4 });
  const field = f.at(key);
  if (!BASE64.test(text) || text.length % 4 !== 0) throw bad(field, 'must be padded base64');
  const bytes = fromBase64(text, field);
  if (toBase64(bytes) !== text) throw bad(field, 'must be canonical base64');
  return bytes;
}
