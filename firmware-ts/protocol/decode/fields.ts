/**
 * A bounded reader over one decoded CBOR map. Every typed decoder of the v1 structures is
 * written with it, so that each bad field is refused the same way: a coded MedgateError whose
 * `field` is the full path (for example `obs[2].v`). Closed maps: a key the structure does
 * not define is refused (MG_ERR_UNKNOWN_FIELD), so nothing can hide inside signed data.
 */
import { MedgateError, ProtocolErrorCode } from '../errors.js';

export interface TextRule {
  readonly min?: number;
  readonly max: number;
  readonly pattern?: RegExp;
}

export interface BytesRule {
  /** Exact length; otherwise min/max apply. */
  readonly len?: number;
  readonly min?: number;
  readonly max?: number;
}

export interface NumberRule {
  readonly min?: number;
  readonly max?: number;
}

export interface CountRule {
  readonly min?: number;
  readonly max: number;
}

function bad(field: string, message: string, got?: unknown, want?: unknown): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_FIELD, `${field}: ${message}`, { field, got, want });
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return 'bytes';
  if (value instanceof Map) return 'map';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export class Fields {
  private constructor(
    private readonly entries: ReadonlyMap<unknown, unknown>,
    /** Path of this map, '' at the top. */
    readonly path: string,
  ) {}

  /**
   * Opens `value` as a closed map whose keys are all text strings from `allowed`.
   * @param path the path of `value` in the enclosing structure ('' at the top).
   */
  static of(value: unknown, path: string, allowed: readonly string[]): Fields {
    const where = path === '' ? '(root)' : path;
    if (!(value instanceof Map)) throw bad(where, `must be a map, got ${typeName(value)}`);
    for (const key of value.keys()) {
      if (typeof key !== 'string') throw bad(where, 'map keys must be text strings', typeName(key));
      if (!allowed.includes(key)) {
        const field = path === '' ? key : `${path}.${key}`;
        throw new MedgateError(ProtocolErrorCode.UNKNOWN_FIELD, `${field}: not a field of this structure`, {
          field,
        });
      }
    }
    return new Fields(value, path);
  }

  /** Full path of `key` in this map. */
  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The raw value, required to be present. */
  raw(key: string): unknown {
    if (!this.entries.has(key)) {
      throw new MedgateError(ProtocolErrorCode.MISSING_FIELD, `${this.at(key)}: required field is missing`, {
        field: this.at(key),
      });
    }
    return this.entries.get(key);
  }

  text(key: string, rule: TextRule): string {
    const value = this.raw(key);
    const field = this.at(key);
    if (typeof value !== 'string') throw bad(field, `must be a text string, got ${typeName(value)}`);
    if (value.length < (rule.min ?? 0) || value.length > rule.max) {
      throw bad(field, `length must be ${rule.min ?? 0}..${rule.max}`, value.length);
    }
    if (rule.pattern !== undefined && !rule.pattern.test(value))
      throw bad(field, 'has characters not allowed');
    return value;
  }

  /** A non-negative safe integer (CBOR major type 0). */
  uint(key: string, rule: NumberRule = {}): number {
    const value = this.raw(key);
    const field = this.at(key);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw bad(field, `must be an unsigned integer, got ${typeName(value)}`);
    }
    if (value < (rule.min ?? 0) || value > (rule.max ?? Number.MAX_SAFE_INTEGER)) {
      throw bad(field, 'is out of range', value, rule);
    }
    return value;
  }

  /** A finite number (integer or float). */
  number(key: string, rule: NumberRule = {}): number {
    const value = this.raw(key);
    const field = this.at(key);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw bad(field, `must be a finite number, got ${typeName(value)}`);
    }
    if (value < (rule.min ?? -Number.MAX_VALUE) || value > (rule.max ?? Number.MAX_VALUE)) {
      throw bad(field, 'is out of range', value, rule);
    }
    return value;
  }

  bytes(key: string, rule: BytesRule): Uint8Array {
    const value = this.raw(key);
    const field = this.at(key);
    if (!(value instanceof Uint8Array)) throw bad(field, `must be a byte string, got ${typeName(value)}`);
    if (rule.len !== undefined && value.length !== rule.len) {
      throw bad(field, `must be ${rule.len} bytes`, value.length, rule.len);
    }
    if (value.length < (rule.min ?? 0) || value.length > (rule.max ?? Number.MAX_SAFE_INTEGER)) {
      throw bad(field, 'has a length out of range', value.length, rule);
    }
    return value;
  }

  bool(key: string): boolean {
    const value = this.raw(key);
    if (typeof value !== 'boolean') throw bad(this.at(key), `must be a boolean, got ${typeName(value)}`);
    return value;
  }

  array(key: string, rule: CountRule): readonly unknown[] {
    const value = this.raw(key);
    const field = this.at(key);
    if (!Array.isArray(value)) throw bad(field, `must be an array, got ${typeName(value)}`);
    if (value.length < (rule.min ?? 0) || value.length > rule.max) {
      throw bad(field, `must hold ${rule.min ?? 0}..${rule.max} items`, value.length);
    }
    return value;
  }

  /**
   * An array whose every item is read by `read`, given the item and its path (`obs[2]`).
   * Returns a frozen array.
   */
  list<T>(key: string, rule: CountRule, read: (item: unknown, path: string) => T): readonly T[] {
    const items = this.array(key, rule);
    const field = this.at(key);
    const out: T[] = [];
    // An index loop, not map(): holes in a sparse array are read (and refused) as undefined.
    for (let i = 0; i < items.length; i++) out.push(read(items[i], `${field}[${i}]`));
    return Object.freeze(out);
  }

  /** A nested closed map. */
  map(key: string, allowed: readonly string[]): Fields {
    return Fields.of(this.raw(key), this.at(key), allowed);
  }

  /** Runs `read` only when `key` is present. */
  optional<T>(key: string, read: (fields: this, key: string) => T): T | undefined {
    return this.has(key) ? read(this, key) : undefined;
  }
}

/**
 * Checks a signed token's `purpose` before anything else, so that a token made for another
 * purpose (an enrolment token used to connect) is refused as MG_ERR_BAD_PURPOSE rather than
 * by whichever of its other fields happens to be unknown here. Absent or mistyped purposes
 * are left to the structure's own decoder (MISSING_FIELD / BAD_FIELD).
 */
export function checkPurpose(value: unknown, want: string): void {
  if (!(value instanceof Map)) return;
  const purpose: unknown = value.get('purpose');
  if (typeof purpose === 'string' && purpose !== want) {
    throw new MedgateError(ProtocolErrorCode.BAD_PURPOSE, `purpose: this token is for another purpose`, {
      field: 'purpose',
      got: purpose.length <= 32 ? purpose : `${purpose.slice(0, 32)}…`,
      want,
    });
  }
}

/**
 * For encoders: a Map of the fields `keys` of `value` that are not undefined. Anything that
 * is not a plain record (null, arrays, Maps, bytes, primitives) is returned as it is, for
 * the structure's decoder to refuse with a precise message. Other properties are ignored.
 */
export function mapOf(value: unknown, keys: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value) || value instanceof Map || value instanceof Uint8Array) return value;
  const record = value as Record<string, unknown>;
  const map = new Map<string, unknown>();
  for (const key of keys) {
    const item = record[key];
    if (item !== undefined) map.set(key, item);
  }
  return map;
}

/**
 * Runs `check` (a structure's decoder) over `map`, turning its refusal into
 * MG_ERR_BAD_ARGUMENT: for an encoder the bad value comes from the caller, not the wire.
 * The field path and the original error (as `cause`) are kept.
 */
export function checkForEncoding(map: unknown, check: (value: unknown) => unknown): void {
  try {
    check(map);
  } catch (err) {
    if (!(err instanceof MedgateError)) throw err;
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, err.message, {
      field: err.field,
      got: err.got,
      want: err.want,
      cause: err,
    });
  }
}
