/**
 * JSON.parse for untrusted text (config files now, HTTP bodies later) with prototype-poisoning
 * protection. `JSON.parse('{"__proto__": {...}}')` makes an own property named `__proto__`;
 * harmless by itself, it poisons the prototype as soon as the value is merged with spread,
 * Object.assign or a deep merge. So, like fastify's secure-json-parse, any object carrying a
 * `__proto__`, `constructor` or `prototype` key is refused (medgate's schemas use none of them).
 * Keys are checked after parsing, so escaped spellings (`"\u005f_proto__"`) are caught too.
 */
import { GatewayErrorCode, MedgateError } from '../errors.js';

/** Keys that can reach an object's prototype when a parsed value is merged into another. */
export const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface SafeJsonOptions {
  /** Largest input, in UTF-16 code units of the text (default 1 MiB). */
  readonly maxLength?: number;
  /** Deepest nesting of arrays and objects (default 64). */
  readonly maxDepth?: number;
}

export const SAFE_JSON_DEFAULTS = Object.freeze({ maxLength: 1024 * 1024, maxDepth: 64 });

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON path for messages and the error's `field`: `limits.skewMs`, `items[3].id`. */
function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Parses `input` (text, or UTF-8 bytes as an HTTP body arrives) and returns the value.
 * Throws MedgateError MG_ERR_JSON_MALFORMED (syntax, invalid UTF-8), MG_ERR_JSON_TOO_LARGE
 * (length or depth over the limit) or MG_ERR_JSON_FORBIDDEN_KEY (`field` = path of the key).
 */
export function safeJsonParse(input: string | Uint8Array, options: SafeJsonOptions = {}): unknown {
  const maxLength = options.maxLength ?? SAFE_JSON_DEFAULTS.maxLength;
  const maxDepth = options.maxDepth ?? SAFE_JSON_DEFAULTS.maxDepth;
  // Bytes are at least as many as the code units they decode to: check before decoding.
  if (input.length > maxLength) {
    throw new MedgateError(GatewayErrorCode.JSON_TOO_LARGE, `JSON input is larger than ${maxLength}`, {
      got: input.length,
      want: maxLength,
    });
  }
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = utf8.decode(input);
    } catch (cause) {
      throw new MedgateError(GatewayErrorCode.JSON_MALFORMED, 'JSON input is not valid UTF-8', { cause });
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    // V8's parser throws RangeError (stack exhausted) on very deep nesting: a size problem.
    if (cause instanceof RangeError) {
      throw new MedgateError(GatewayErrorCode.JSON_TOO_LARGE, 'JSON is nested too deeply to parse', {
        cause,
      });
    }
    throw new MedgateError(GatewayErrorCode.JSON_MALFORMED, `malformed JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  checkTree(value, maxDepth);
  return value;
}

/** Walks the parsed tree with an explicit stack (no recursion on attacker-chosen depth). */
function checkTree(root: unknown, maxDepth: number): void {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: root, path: '', depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value, path, depth } = item;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= maxDepth) {
      throw new MedgateError(GatewayErrorCode.JSON_TOO_LARGE, `JSON is nested deeper than ${maxDepth}`, {
        field: path,
        want: maxDepth,
      });
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        stack.push({ value: value[i], path: child(path, i), depth: depth + 1 });
      continue;
    }
    for (const key of Object.keys(value)) {
      const where = child(path, key);
      if (FORBIDDEN_JSON_KEYS.has(key)) {
        throw new MedgateError(
          GatewayErrorCode.JSON_FORBIDDEN_KEY,
          `JSON key '${key}' is not allowed (${where})`,
          {
            field: where,
            got: key,
          },
        );
      }
      stack.push({ value: (value as Record<string, unknown>)[key], path: where, depth: depth + 1 });
    }
  }
}
