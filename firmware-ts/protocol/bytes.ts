/** Small byte helpers shared by every protocol module (no Node Buffer: runs in browsers). */
import { MedgateError, ProtocolErrorCode } from './errors.js';

/**
 * Asserts that `value` is a Uint8Array (of exactly `length` bytes when given) and returns it.
 * Names the argument in the error, as noble's `abytes` does.
 */
export function abytes(value: unknown, length: number | undefined, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be a Uint8Array`, {
      field: name,
      got: typeof value,
    });
  }
  if (length !== undefined && value.length !== length) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be ${length} bytes`, {
      field: name,
      got: value.length,
      want: length,
    });
  }
  return value;
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Constant-time equality for digests, MACs and keys: the time depends only on the lengths. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

const HEX = '0123456789abcdef';

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += HEX[b >> 4]! + HEX[b & 15]!;
  return out;
}

export function fromHex(hex: string, name = 'hex'): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be an even-length hex string`, {
      field: name,
    });
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function fromBase64(text: string, name = 'base64'): Uint8Array {
  let bin: string;
  try {
    bin = atob(text);
  } catch (cause) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} is not valid base64`, {
      field: name,
      cause,
    });
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
