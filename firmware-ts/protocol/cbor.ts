/**
 * CBOR (RFC 8949) for the v1 wire protocol, on cborg (docs/decisions/cbor.md).
 *
 * - `encodeCbor` is deterministic (RFC 8949 §4.2.1: shortest integers and lengths, definite
 *   lengths, map keys sorted bytewise by their encoding, floats in the shortest width that
 *   holds the value exactly), so every signer produces the same bytes. It refuses values that
 *   have no v1 encoding (undefined, NaN, ±Infinity, unsafe integers, bigint, class instances).
 * - `decodeCbor` takes untrusted bytes. A bounded, iterative pre-scan walks every header
 *   first (no recursion, so 100k nested arrays cost one pass and a coded error, not a stack
 *   overflow) and refuses, each with its own code: truncation and reserved encodings
 *   (MALFORMED), trailing bytes, indefinite lengths, non-shortest arguments, nesting deeper
 *   than `maxDepth`, sizes over the limits, and types v1 does not use (UNSUPPORTED: tags not
 *   asked for, undefined, simple values, NaN/±Infinity, integers beyond ±(2^53-1) and floats
 *   of that magnitude, map keys other than integers and text). Only then does cborg build
 *   the value; duplicate map keys are refused there. Maps decode to `Map` (no prototype
 *   poisoning, integer keys kept).
 * - Accepted but not canonical: floats wider than needed (integral ones included), and map
 *   keys out of order. Signed data is verified over the bytes as sent, never re-encoded, so
 *   neither is ambiguous; and fixed-width float encoders are common on devices.
 */
import type { DecodeOptions, EncodeOptions, TagDecoder, TypeEncoder } from 'cborg';
import { decode, encode, objectToTokens, Token, Type } from 'cborg';
import { MedgateError, ProtocolErrorCode } from './errors.js';

export interface CborLimits {
  /** Largest input accepted, in bytes. */
  readonly maxBytes: number;
  /** Deepest nesting of arrays, maps and tags (a top-level array is depth 1). */
  readonly maxDepth: number;
  /** Longest byte or text string, in bytes (default: maxBytes). */
  readonly maxStringBytes?: number;
  /** Most items in one array, or pairs in one map. */
  readonly maxItems?: number;
}

export interface CborDecodeOptions extends Partial<CborLimits> {
  /** Tag numbers to accept (for example `[18]` for COSE_Sign1); each decodes to a CborTag. */
  readonly tags?: readonly number[];
}

export const DEFAULT_CBOR_LIMITS: Required<CborLimits> = Object.freeze({
  maxBytes: 64 * 1024,
  maxDepth: 16,
  maxStringBytes: 64 * 1024,
  maxItems: 4096,
});

/** Deepest nesting `decodeCbor` will accept even when asked: cborg recurses per level. */
export const MAX_CBOR_DEPTH = 256;

/**
 * A tagged data item (RFC 8949 §3.4). `encodeCbor(new CborTag(18, [...]))` writes tag 18 and
 * then the value; `decodeCbor(bytes, { tags: [18] })` returns `CborTag` instances for tag 18
 * and refuses every other tag (MG_ERR_CBOR_UNSUPPORTED). Used for COSE_Sign1 (RFC 9052 §4.2).
 */
export class CborTag<T = unknown> {
  readonly tag: number;
  readonly value: T;

  constructor(tag: number, value: T) {
    if (!Number.isSafeInteger(tag) || tag < 0) {
      throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'CBOR tag must be a non-negative safe integer', {
        field: 'tag',
        got: tag,
      });
    }
    this.tag = tag;
    this.value = value;
    Object.freeze(this);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Deepest value `encodeCbor` walks; also catches circular structures. */
const ENCODE_MAX_DEPTH = 64;

/** A lone UTF-16 surrogate has no UTF-8 encoding; TextEncoder would silently write U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Thrown inside the pre-walk; carries the path, built only when something is refused. */
class Refusal {
  readonly path: string[] = [];
  constructor(readonly reason: string) {}
}

function checkEncodable(value: unknown, depth: number): void {
  switch (typeof value) {
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(`${value} has no v1 encoding`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw new Refusal('integer is outside ±(2^53-1)');
      }
      return;
    case 'string':
      if (LONE_SURROGATE.test(value)) throw new Refusal('string holds a lone UTF-16 surrogate');
      return;
    case 'object':
      break;
    default:
      throw new Refusal(`${typeof value} has no v1 encoding`);
  }
  if (value === null || value instanceof Uint8Array) return;
  if (depth >= ENCODE_MAX_DEPTH) throw new Refusal('nested too deeply (or circular)');
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) child(value[i], depth, `[${i}]`);
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      if (!(typeof key === 'string' || (typeof key === 'number' && Number.isSafeInteger(key)))) {
        throw new Refusal('map keys must be text strings or safe integers');
      }
      if (typeof key === 'string' && LONE_SURROGATE.test(key)) {
        throw new Refusal('map key holds a lone UTF-16 surrogate');
      }
      child(item, depth, `.${String(key)}`);
    }
  } else if (value instanceof CborTag) {
    child(value.value, depth, `<tag ${value.tag}>`);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new Refusal('only plain objects, Maps, arrays, Uint8Array and CborTag are encoded');
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (LONE_SURROGATE.test(key)) throw new Refusal('map key holds a lone UTF-16 surrogate');
      child(record[key], depth, `.${key}`);
    }
  }
}

function child(value: unknown, depth: number, segment: string): void {
  try {
    checkEncodable(value, depth + 1);
  } catch (err) {
    if (err instanceof Refusal) err.path.unshift(segment);
    throw err;
  }
}

/** CborTag → tag header + value; everything else falls through to cborg's own encoders. */
const encodeTagged: TypeEncoder = (obj, _typ, options, refStack) =>
  obj instanceof CborTag
    ? [new Token(Type.tag, obj.tag), objectToTokens(obj.value, options, refStack)]
    : null;

/**
 * Map keys are sorted by cborg's default sorter: major type, then integer value (negative
 * integers by their encoded argument) or UTF-8 length then bytes. For integer and text keys,
 * the only kinds encodeCbor accepts, that is exactly the bytewise order of the deterministic
 * encodings (RFC 8949 §4.2.1), and unlike `rfc8949EncodeOptions` it keeps cborg's direct
 * encoding path (about twice as fast). test/protocol/cbor.test.ts pins the two orders equal.
 */
const ENCODE_OPTIONS: EncodeOptions = Object.freeze({
  float64: false, // shortest exact float width (RFC 8949 §4.2.1, preferred serialization §4.1)
  typeEncoders: { Object: encodeTagged },
});

/**
 * Deterministic encoding (RFC 8949 §4.2.1). Maps may be `Map` (text or integer keys) or plain
 * objects; bytes are `Uint8Array`; tags are `CborTag`. Integral numbers encode as integers and
 * -0 as 0 (JavaScript cannot tell 1.0 from 1). Throws MG_ERR_BAD_ARGUMENT, with the path of
 * the offending value in `field`, for anything without a v1 encoding. Returns a plain
 * Uint8Array (never a Node Buffer) that owns its memory.
 */
export function encodeCbor(value: unknown): Uint8Array {
  try {
    checkEncodable(value, 0);
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    const field = err.path.join('').replace(/^\./, '') || '(root)';
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `cannot encode ${field}: ${err.reason}`, {
      field,
    });
  }
  let out: Uint8Array;
  try {
    out = encode(value, ENCODE_OPTIONS);
  } catch (cause) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'CBOR encoding failed', { cause });
  }
  // On Node, cborg hands back a Buffer cut from Buffer.allocUnsafe's shared pool: its
  // `.slice()` is a view (writes through) and its `.buffer` exposes unrelated pool memory.
  // Callers get a plain Uint8Array that owns exactly its bytes.
  return Object.getPrototypeOf(out) === Uint8Array.prototype && out.byteLength === out.buffer.byteLength
    ? out
    : new Uint8Array(out);
}

// ---------------------------------------------------------------------------------------------
// Decoding: the pre-scan (RFC 8949 §3, well-formedness per Appendix C, plus v1's refusals)

const Code = ProtocolErrorCode;
type Code = ProtocolErrorCode;

function refuse(code: Code, message: string, offset: number): MedgateError {
  return new MedgateError(code, `CBOR ${message} (at byte ${offset})`, { got: { offset } });
}

const ARRAY = 0;
const MAP = 1;
const TAG = 2;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** RFC 8949 §3.1 major type 3: text must be valid UTF-8 (no overlongs, no surrogates). */
function checkUtf8(bytes: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    if ((bytes[i] as number) >= 0x80) {
      try {
        strictUtf8.decode(bytes.subarray(start, end));
      } catch {
        throw refuse(Code.CBOR_MALFORMED, 'text string is not valid UTF-8', start);
      }
      return;
    }
  }
}

/** Major type 7 (RFC 8949 §3.3): returns the offset after the item. */
function scanSimple(bytes: Uint8Array, pos: number, ai: number, start: number): number {
  if (ai >= 20 && ai <= 22) return pos; // false, true, null
  if (ai < 20) throw refuse(Code.CBOR_UNSUPPORTED, `simple value ${ai} is not used in v1`, start);
  if (ai === 23) throw refuse(Code.CBOR_UNSUPPORTED, 'undefined is not used in v1', start);
  if (ai === 31) throw refuse(Code.CBOR_MALFORMED, 'break code outside an indefinite-length item', start);
  if (ai >= 28) throw refuse(Code.CBOR_MALFORMED, `reserved additional information ${ai}`, start);
  const size = 1 << (ai - 24); // 1, 2, 4 or 8 bytes follow
  if (pos + size > bytes.length) throw refuse(Code.CBOR_MALFORMED, 'input ends inside an item', start);
  const b0 = bytes[pos] as number;
  const b1 = bytes[pos + 1] as number;
  if (ai === 24) {
    // Simple values below 32 must use the one-byte form (§3.3); the rest are unassigned.
    if (b0 < 32) throw refuse(Code.CBOR_MALFORMED, 'two-byte simple value below 32', start);
    throw refuse(Code.CBOR_UNSUPPORTED, `simple value ${b0} is not used in v1`, start);
  }
  // Floats. An all-ones exponent is NaN or ±Infinity, which v1 never sends. A magnitude of
  // 2^53 or more is refused too: JavaScript cannot tell such a float from an unsafe integer,
  // which encodeCbor refuses, so everything decodeCbor accepts can be encoded again.
  if (ai === 25) {
    if ((b0 & 0x7c) === 0x7c)
      throw refuse(Code.CBOR_UNSUPPORTED, 'NaN and Infinity are not used in v1', start);
  } else {
    const exponent = ai === 26 ? ((b0 & 0x7f) << 1) | (b1 >> 7) : ((b0 & 0x7f) << 4) | (b1 >> 4);
    const allOnes = ai === 26 ? 0xff : 0x7ff;
    const bias = ai === 26 ? 127 : 1023;
    if (exponent === allOnes)
      throw refuse(Code.CBOR_UNSUPPORTED, 'NaN and Infinity are not used in v1', start);
    if (exponent >= bias + 53) throw refuse(Code.CBOR_UNSUPPORTED, 'float of magnitude 2^53 or more', start);
  }
  return pos + size;
}

/**
 * Walks the headers of exactly one data item with an explicit stack. Throws the first
 * refusal; returns normally only for input that cborg can then decode without surprises
 * (duplicate map keys aside).
 */
function scan(bytes: Uint8Array, limits: Required<CborLimits>, tags: ReadonlySet<number>): void {
  const n = bytes.length;
  const kinds: number[] = [];
  const left: number[] = []; // items still to come in each open container (map: keys + values)
  let pos = 0;
  do {
    const depth = left.length;
    let isKey = false;
    if (depth > 0) {
      const top = depth - 1;
      const remaining = left[top] as number;
      isKey = kinds[top] === MAP && remaining % 2 === 0;
      left[top] = remaining - 1;
    }
    if (pos >= n)
      throw refuse(Code.CBOR_MALFORMED, n === 0 ? 'input is empty' : 'input ends inside an item', pos);
    const start = pos;
    const initial = bytes[pos++] as number;
    const major = initial >> 5;
    const ai = initial & 0x1f;
    if (isKey && major !== 0 && major !== 1 && major !== 3) {
      throw refuse(Code.CBOR_UNSUPPORTED, 'map keys must be integers or text strings', start);
    }
    if (major === 7) {
      pos = scanSimple(bytes, pos, ai, start);
    } else {
      if (ai === 31 && major >= 2 && major <= 5) {
        throw refuse(Code.CBOR_INDEFINITE_LENGTH, 'indefinite length', start);
      }
      if (ai >= 28) throw refuse(Code.CBOR_MALFORMED, `reserved additional information ${ai}`, start);
      // The argument (§3): shortest form required (§4.2.1).
      let arg = ai;
      if (ai >= 24) {
        const size = 1 << (ai - 24);
        if (pos + size > n) throw refuse(Code.CBOR_MALFORMED, 'input ends inside an item', start);
        const b = bytes;
        if (size === 1) {
          arg = b[pos] as number;
          if (arg < 24) throw refuse(Code.CBOR_NON_SHORTEST, 'argument not in its shortest form', start);
        } else if (size === 2) {
          arg = ((b[pos] as number) << 8) | (b[pos + 1] as number);
          if (arg < 0x100) throw refuse(Code.CBOR_NON_SHORTEST, 'argument not in its shortest form', start);
        } else if (size === 4) {
          arg =
            (b[pos] as number) * 0x1000000 +
            (((b[pos + 1] as number) << 16) | ((b[pos + 2] as number) << 8) | (b[pos + 3] as number));
          if (arg < 0x10000) throw refuse(Code.CBOR_NON_SHORTEST, 'argument not in its shortest form', start);
        } else {
          const hi =
            (b[pos] as number) * 0x1000000 +
            (((b[pos + 1] as number) << 16) | ((b[pos + 2] as number) << 8) | (b[pos + 3] as number));
          const lo =
            (b[pos + 4] as number) * 0x1000000 +
            (((b[pos + 5] as number) << 16) | ((b[pos + 6] as number) << 8) | (b[pos + 7] as number));
          if (hi === 0) throw refuse(Code.CBOR_NON_SHORTEST, 'argument not in its shortest form', start);
          arg = hi * 0x100000000 + lo; // inexact above 2^53, but then over every limit anyway
        }
        pos += size;
      }
      switch (major) {
        case 0:
          if (arg > MAX_SAFE) throw refuse(Code.CBOR_UNSUPPORTED, 'integer above 2^53-1', start);
          break;
        case 1:
          if (arg > MAX_SAFE - 1) throw refuse(Code.CBOR_UNSUPPORTED, 'integer below -(2^53-1)', start);
          break;
        case 2:
        case 3:
          if (arg > limits.maxStringBytes) {
            throw refuse(
              Code.CBOR_TOO_LARGE,
              `string of ${arg} bytes is over ${limits.maxStringBytes}`,
              start,
            );
          }
          if (arg > n - pos) throw refuse(Code.CBOR_MALFORMED, 'input ends inside a string', start);
          if (major === 3) checkUtf8(bytes, pos, pos + arg);
          pos += arg;
          break;
        case 4:
        case 5: {
          if (arg > limits.maxItems) {
            throw refuse(Code.CBOR_TOO_LARGE, `container of ${arg} items is over ${limits.maxItems}`, start);
          }
          if (depth + 1 > limits.maxDepth) {
            throw refuse(Code.CBOR_TOO_DEEP, `nesting deeper than ${limits.maxDepth}`, start);
          }
          const slots = major === 5 ? arg * 2 : arg;
          // Every item takes at least one byte: a count beyond the input fails now, not later.
          if (slots > n - pos) throw refuse(Code.CBOR_MALFORMED, 'input ends inside a container', start);
          if (slots > 0) {
            kinds.push(major === 5 ? MAP : ARRAY);
            left.push(slots);
          }
          break;
        }
        default: // 6: tag
          if (!tags.has(arg)) throw refuse(Code.CBOR_UNSUPPORTED, `tag ${arg} is not accepted here`, start);
          if (depth + 1 > limits.maxDepth) {
            throw refuse(Code.CBOR_TOO_DEEP, `nesting deeper than ${limits.maxDepth}`, start);
          }
          kinds.push(TAG);
          left.push(1);
      }
    }
    while (left.length > 0 && left[left.length - 1] === 0) {
      left.pop();
      kinds.pop();
    }
  } while (left.length > 0);
  if (pos !== n) throw refuse(Code.CBOR_TRAILING_BYTES, `${n - pos} bytes after the data item`, pos);
}

// ---------------------------------------------------------------------------------------------
// Decoding: cborg, and the codes of its errors

const CBORG_STRICT: DecodeOptions = Object.freeze({
  strict: true,
  allowIndefinite: false,
  allowUndefined: false,
  allowInfinity: false,
  allowNaN: false,
  allowBigInt: false,
  rejectDuplicateMapKeys: true,
  useMaps: true,
});

/**
 * The code for an error thrown by cborg's decoder, from its message (cborg 6 throws plain
 * Errors; the messages are pinned by test/protocol/cbor.test.ts). The pre-scan refuses all
 * of these first except duplicate keys; the rest is defence in depth.
 * @internal exported for tests.
 */
export function cborgErrorCode(err: unknown): ProtocolErrorCode {
  const message = err instanceof Error ? err.message : '';
  for (const [pattern, code] of CBORG_MESSAGES) if (pattern.test(message)) return code;
  return Code.CBOR_MALFORMED;
}

const CBORG_MESSAGES: readonly (readonly [RegExp, ProtocolErrorCode])[] = [
  [/found repeat map key/, Code.CBOR_DUPLICATE_KEY],
  [/encoded in more bytes than necessary/, Code.CBOR_NON_SHORTEST],
  [/indefinite length/, Code.CBOR_INDEFINITE_LENGTH],
  [/too many terminals/, Code.CBOR_TRAILING_BYTES],
  [/64-bit integer .* lengths not supported/, Code.CBOR_TOO_LARGE],
  [
    /tag not supported|simple values are not supported|undefined values are not supported|NaN values are not supported|Infinity values are not supported|outside of the safe integer range|non-string keys/,
    Code.CBOR_UNSUPPORTED,
  ],
];

function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new MedgateError(Code.BAD_ARGUMENT, `${name} must be a non-negative safe integer`, {
      field: name,
      got: value,
    });
  }
  return value;
}

function resolveLimits(options: CborDecodeOptions): Required<CborLimits> {
  if (options === DEFAULT_CBOR_LIMITS) return DEFAULT_CBOR_LIMITS;
  const maxBytes = limit(options.maxBytes, DEFAULT_CBOR_LIMITS.maxBytes, 'maxBytes');
  const maxDepth = limit(options.maxDepth, DEFAULT_CBOR_LIMITS.maxDepth, 'maxDepth');
  if (maxDepth > MAX_CBOR_DEPTH) {
    throw new MedgateError(Code.BAD_ARGUMENT, `maxDepth must be at most ${MAX_CBOR_DEPTH}`, {
      field: 'maxDepth',
      got: maxDepth,
      want: MAX_CBOR_DEPTH,
    });
  }
  return {
    maxBytes,
    maxDepth,
    // A string cannot be longer than the input: by default the input limit bounds both.
    maxStringBytes: limit(options.maxStringBytes, maxBytes, 'maxStringBytes'),
    maxItems: limit(options.maxItems, DEFAULT_CBOR_LIMITS.maxItems, 'maxItems'),
  };
}

interface TagConfig {
  readonly accepted: ReadonlySet<number>;
  readonly cborg: DecodeOptions;
}

const NO_TAGS: TagConfig = Object.freeze({ accepted: new Set<number>(), cborg: CBORG_STRICT });

/** Tag sets come from code (COSE asks for [18]); a small cache spares a closure per call. */
const tagConfigs = new Map<string, TagConfig>();
const MAX_TAG_CONFIGS = 32;

function tagConfig(tags: readonly number[] | undefined): TagConfig {
  if (tags === undefined || tags.length === 0) return NO_TAGS;
  if (!Array.isArray(tags)) {
    throw new MedgateError(Code.BAD_ARGUMENT, 'tags must be an array of tag numbers', { field: 'tags' });
  }
  const key = tags.join(',');
  const cached = tagConfigs.get(key);
  if (cached !== undefined) return cached;
  const decoders: Record<number, TagDecoder> = {};
  for (const tag of tags) {
    if (!Number.isSafeInteger(tag) || tag < 0) {
      throw new MedgateError(Code.BAD_ARGUMENT, 'tags must be non-negative safe integers', {
        field: 'tags',
        got: tag,
      });
    }
    decoders[tag] = (inner) => new CborTag(tag, inner());
  }
  const config: TagConfig = Object.freeze({
    accepted: new Set(tags),
    cborg: Object.freeze({ ...CBORG_STRICT, tags: decoders }),
  });
  if (tagConfigs.size >= MAX_TAG_CONFIGS) tagConfigs.clear();
  tagConfigs.set(key, config);
  return config;
}

/**
 * Strict decoding of one CBOR data item from untrusted bytes. Maps decode to `Map`, byte
 * strings to `Uint8Array`, accepted tags to `CborTag`. Every refusal is a MedgateError with
 * a MG_ERR_CBOR_* code (MG_ERR_BAD_ARGUMENT if `bytes` is not a Uint8Array).
 */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = DEFAULT_CBOR_LIMITS): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new MedgateError(Code.BAD_ARGUMENT, 'CBOR input must be a Uint8Array', { got: typeof bytes });
  }
  const limits = resolveLimits(options);
  const tags = tagConfig(options.tags);
  if (bytes.length > limits.maxBytes) {
    throw new MedgateError(Code.CBOR_TOO_LARGE, 'CBOR input is larger than allowed', {
      got: bytes.length,
      want: limits.maxBytes,
    });
  }
  scan(bytes, limits, tags.accepted);
  try {
    return decode(bytes, tags.cborg);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new MedgateError(cborgErrorCode(cause), `CBOR input refused: ${detail}`, { cause });
  }
}
