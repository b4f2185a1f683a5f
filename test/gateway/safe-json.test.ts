/**
 * gateway/util/safe-json.ts: hostile JSON (prototype poisoning, depth, size, bad UTF-8) is
 * refused with a coded error naming where; ordinary JSON parses as JSON.parse would.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMedgateError } from '../../gateway/errors.js';
import { safeJsonParse } from '../../gateway/util/safe-json.js';

function refusal(fn: () => unknown): { code: string; field: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (isMedgateError(err)) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('safeJsonParse', () => {
  it('parses what JSON.parse parses, from text and from UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'small' }), (text) => {
        // fc.json can generate a "__proto__" key; that one is the refusal tested below.
        if (/"(__proto__|constructor|prototype)"/.test(text)) return;
        expect(safeJsonParse(text)).toEqual(JSON.parse(text));
        expect(safeJsonParse(new TextEncoder().encode(text))).toEqual(JSON.parse(text));
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['{"__proto__": {"admin": true}}', '__proto__'],
    ['{"a": [{"b": {"constructor": {"prototype": {"x": 1}}}}]}', 'a[0].b.constructor'],
    ['{"a": {"prototype": 1}}', 'a.prototype'],
    ['{"\\u005f_proto__": 1}', '__proto__'],
    ['[1, {"__proto__": null}]', '[1].__proto__'],
  ])('refuses %s with MG_ERR_JSON_FORBIDDEN_KEY at %s', (text, field) => {
    expect(refusal(() => safeJsonParse(text))).toEqual({ code: 'MG_ERR_JSON_FORBIDDEN_KEY', field });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('allows those words as values and inside longer keys', () => {
    expect(safeJsonParse('{"name": "__proto__", "constructors": 1, "my_prototype": 2}')).toEqual({
      name: '__proto__',
      constructors: 1,
      my_prototype: 2,
    });
  });

  it('refuses malformed JSON and invalid UTF-8 with MG_ERR_JSON_MALFORMED', () => {
    for (const text of ['', '{', '{"a":1,}', "{'a':1}", 'NaN', '[1] [2]']) {
      expect(refusal(() => safeJsonParse(text)).code).toBe('MG_ERR_JSON_MALFORMED');
    }
    expect(refusal(() => safeJsonParse(Uint8Array.of(0x22, 0xff, 0x22))).code).toBe('MG_ERR_JSON_MALFORMED');
  });

  it('refuses input over maxLength and nesting over maxDepth with MG_ERR_JSON_TOO_LARGE', () => {
    expect(refusal(() => safeJsonParse('[1,2,3]', { maxLength: 6 })).code).toBe('MG_ERR_JSON_TOO_LARGE');
    expect(safeJsonParse('[1,2,3]', { maxLength: 7 })).toEqual([1, 2, 3]);
    expect(refusal(() => safeJsonParse(new Uint8Array(11), { maxLength: 10 })).code).toBe(
      'MG_ERR_JSON_TOO_LARGE',
    );
    expect(safeJsonParse('[[[1]]]', { maxDepth: 3 })).toEqual([[[1]]]);
    expect(refusal(() => safeJsonParse('[[[[1]]]]', { maxDepth: 3 }))).toEqual({
      code: 'MG_ERR_JSON_TOO_LARGE',
      field: '[0][0][0]',
    });
    // Deep nesting within the default length limit: refused by depth, without recursion.
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(refusal(() => safeJsonParse(deep)).code).toBe('MG_ERR_JSON_TOO_LARGE');
  });
});
