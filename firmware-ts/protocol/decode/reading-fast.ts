/**
 * The fast path of `decodeReadingPayload` (reading.ts), which is
 * `decodeReading(decodeCbor(payload, READING_CBOR_LIMITS))` read in one pass without cborg: a reading as the
 * device library writes it, in deterministic CBOR (RFC 8949 §4.2.1), keys in their sorted
 * order —
 *
 *   {"t": uint, ? "fw": uint, "dev": tstr, "obs": [{"u": tstr, "v": number, "code": tstr}, ...],
 *    "seq": uint}
 *
 * with integers and lengths in their shortest form, ASCII text, and nothing after it.
 * `decodeReadingFast` returns the reading only for input of exactly that shape whose every
 * field passes the same checks as the strict decoder, which then returns the same reading
 * (test/gateway/pipeline-fast-paths.test.ts compares them on mutated input). Anything else,
 * valid or not, is undefined: the caller runs the strict decoder, which accepts what else is
 * valid (keys in another order, wider floats) and names what is wrong.
 */

import { DEVICE_ID_PATTERN } from '../ids.js';
import {
  ID_MAX_LENGTH,
  LOINC_PATTERN,
  MAX_TIME_MS,
  READING_CBOR_LIMITS,
  READING_LIMITS,
  UCUM_PATTERN,
} from './limits.js';
import type { Observation, Reading } from './reading.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** A cursor over the payload; every read returns undefined (and stops) on an unexpected byte. */
class Cursor {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** Skips `expected` (a key, written out), or fails. */
  literal(expected: readonly number[]): boolean {
    const b = this.bytes;
    const at = this.pos;
    if (at + expected.length > b.length) return false;
    for (let i = 0; i < expected.length; i++) if (b[at + i] !== expected[i]) return false;
    this.pos = at + expected.length;
    return true;
  }

  /** The argument of a head whose major type is `major`, shortest form only (§4.2.1). */
  argument(major: number): number | undefined {
    const b = this.bytes;
    if (this.pos >= b.length) return undefined;
    const initial = b[this.pos] as number;
    if (initial >> 5 !== major) return undefined;
    const ai = initial & 0x1f;
    const at = this.pos + 1;
    if (ai < 24) {
      this.pos = at;
      return ai;
    }
    const size = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (size === 0 || at + size > b.length) return undefined;
    let value: number;
    if (size === 1) {
      value = b[at] as number;
      if (value < 24) return undefined;
    } else if (size === 2) {
      value = ((b[at] as number) << 8) | (b[at + 1] as number);
      if (value < 0x100) return undefined;
    } else if (size === 4) {
      value = readU32(b, at);
      if (value < 0x10000) return undefined;
    } else {
      const hi = readU32(b, at);
      if (hi === 0 || hi > 0x1f_ffff) return undefined; // not shortest, or above 2^53 - 1
      value = hi * 0x1_0000_0000 + readU32(b, at + 4);
    }
    this.pos = at + size;
    return value;
  }

  /** An unsigned integer (major type 0) up to `max`. */
  uint(max: number): number | undefined {
    const value = this.argument(0);
    return value === undefined || value > max ? undefined : value;
  }

  /** An ASCII text string (major type 3) of 1 to `max` characters matching `pattern`. */
  text(max: number, pattern: RegExp): string | undefined {
    const length = this.argument(3);
    if (length === undefined || length < 1 || length > max) return undefined;
    const b = this.bytes;
    const start = this.pos;
    const end = start + length;
    if (end > b.length) return undefined;
    let out = '';
    for (let i = start; i < end; i++) {
      const c = b[i] as number;
      if (c >= 0x80) return undefined;
      out += String.fromCharCode(c);
    }
    if (!pattern.test(out)) return undefined;
    this.pos = end;
    return out;
  }

  /** A finite number as the strict decoder takes it: an integer within ±(2^53 - 1), or a float under 2^53. */
  number(): number | undefined {
    const b = this.bytes;
    if (this.pos >= b.length) return undefined;
    const initial = b[this.pos] as number;
    const major = initial >> 5;
    if (major === 0) return this.argument(0);
    if (major === 1) {
      const n = this.argument(1);
      return n === undefined || n > MAX_SAFE - 1 ? undefined : -1 - n;
    }
    const at = this.pos + 1;
    if (initial === 0xf9) {
      if (at + 2 > b.length) return undefined;
      const half = ((b[at] as number) << 8) | (b[at + 1] as number);
      const exponent = (half >> 10) & 0x1f;
      if (exponent === 0x1f) return undefined; // NaN, ±Infinity
      const mantissa = half & 0x3ff;
      const magnitude = exponent === 0 ? mantissa * 2 ** -24 : (mantissa + 1024) * 2 ** (exponent - 25);
      this.pos = at + 2;
      return half & 0x8000 ? -magnitude : magnitude;
    }
    if (initial === 0xfa || initial === 0xfb) {
      const size = initial === 0xfa ? 4 : 8;
      if (at + size > b.length) return undefined;
      const view = new DataView(b.buffer, b.byteOffset + at, size);
      const value = size === 4 ? view.getFloat32(0) : view.getFloat64(0);
      // NaN and ±Infinity, and magnitudes of 2^53 or more (cbor.ts refuses both).
      if (!(Math.abs(value) < 2 ** 53)) return undefined;
      this.pos = at + size;
      return value;
    }
    return undefined;
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (
    (b[at] as number) * 0x100_0000 +
    (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
  );
}

/** CBOR text-string keys, written out (§4.2.1 order: shorter first, then bytewise). */
const key = (s: string): readonly number[] =>
  Object.freeze([0x60 + s.length, ...[...s].map((c) => c.charCodeAt(0))]);
const K_T = key('t');
const K_FW = key('fw');
const K_DEV = key('dev');
const K_OBS = key('obs');
const K_SEQ = key('seq');
const K_U = key('u');
const K_V = key('v');
const K_CODE = key('code');

export function decodeReadingFast(payload: Uint8Array): Reading | undefined {
  if (payload.length > READING_CBOR_LIMITS.maxBytes) return undefined;
  const c = new Cursor(payload);
  const head = payload[0];
  if (head !== 0xa4 && head !== 0xa5) return undefined;
  c.pos = 1;
  if (!c.literal(K_T)) return undefined;
  const t = c.uint(MAX_TIME_MS);
  if (t === undefined) return undefined;
  let fw: number | undefined;
  if (head === 0xa5) {
    if (!c.literal(K_FW)) return undefined;
    fw = c.uint(READING_LIMITS.maxFw);
    if (fw === undefined) return undefined;
  }
  if (!c.literal(K_DEV)) return undefined;
  const dev = c.text(ID_MAX_LENGTH, DEVICE_ID_PATTERN);
  if (dev === undefined || !c.literal(K_OBS)) return undefined;
  const count = (payload[c.pos] as number) - 0x80;
  if (!(count >= READING_LIMITS.minObservations && count <= READING_LIMITS.maxObservations)) return undefined;
  c.pos++;
  const obs: Observation[] = [];
  for (let i = 0; i < count; i++) {
    if (payload[c.pos] !== 0xa3) return undefined;
    c.pos++;
    if (!c.literal(K_U)) return undefined;
    const u = c.text(READING_LIMITS.maxUnitLength, UCUM_PATTERN);
    if (u === undefined || !c.literal(K_V)) return undefined;
    const v = c.number();
    if (v === undefined || !c.literal(K_CODE)) return undefined;
    const code = c.text(READING_LIMITS.maxCodeLength, LOINC_PATTERN);
    if (code === undefined) return undefined;
    obs.push(Object.freeze({ code, v, u }));
  }
  if (!c.literal(K_SEQ)) return undefined;
  const seq = c.uint(READING_LIMITS.maxSeq);
  if (seq === undefined || c.pos !== payload.length) return undefined;
  Object.freeze(obs);
  return Object.freeze(fw === undefined ? { dev, seq, t, obs } : { dev, seq, t, obs, fw });
}
