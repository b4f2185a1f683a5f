/**
 * CBOR (RFC 8949): every refusal of decodeCbor with its code, on hand-written hex; the
 * deterministic encoding (§4.2.1) with RFC 8949 Appendix A vectors; the encoder's own
 * refusals; tag 18 for COSE; the codes given to cborg's own errors; round-trip properties.
 */
import { decode as cborgDecode, encode as cborgEncode, rfc8949EncodeOptions } from 'cborg';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../firmware-ts/protocol/bytes.js';
import {
  CborTag,
  cborgErrorCode,
  DEFAULT_CBOR_LIMITS,
  decodeCbor,
  encodeCbor,
} from '../../firmware-ts/protocol/cbor.js';
import { isMedgateError, MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import coseVector from '../vectors/cose-eddsa-sig-01.json' with { type: 'json' };

const C = ProtocolErrorCode;

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof MedgateError) return err.code;
    throw err;
  }
  throw new Error('expected a MedgateError, but nothing was thrown');
}

const hex = (h: string) => fromHex(h.replace(/\s+/g, ''));
const nested = (levels: number, open = 0x81) => {
  const bytes = new Uint8Array(levels + 1).fill(open);
  bytes[levels] = 0x00;
  return bytes;
};

describe('decodeCbor refusals', () => {
  const cases: readonly (readonly [string, string, string])[] = [
    // [what, hex, code]
    ['1-byte argument for 1', '1801', C.CBOR_NON_SHORTEST],
    ['1-byte argument for 23', '1817', C.CBOR_NON_SHORTEST],
    ['2-byte argument for 23', '190017', C.CBOR_NON_SHORTEST],
    ['2-byte argument for 255', '1900ff', C.CBOR_NON_SHORTEST],
    ['4-byte argument for 65535', '1a0000ffff', C.CBOR_NON_SHORTEST],
    ['8-byte argument for 2^32-1', '1b00000000ffffffff', C.CBOR_NON_SHORTEST],
    ['negative int, 1-byte argument for -1', '3800', C.CBOR_NON_SHORTEST],
    ['byte string length', '5801ff', C.CBOR_NON_SHORTEST],
    ['text string length', '780161', C.CBOR_NON_SHORTEST],
    ['array length', '980100', C.CBOR_NON_SHORTEST],
    ['map length', 'b801616100', C.CBOR_NON_SHORTEST],
    ['nested non-shortest', '82 01 1801', C.CBOR_NON_SHORTEST],
    ['indefinite array', '9fff', C.CBOR_INDEFINITE_LENGTH],
    ['indefinite array with items', '9f0102ff', C.CBOR_INDEFINITE_LENGTH],
    ['indefinite map', 'bfff', C.CBOR_INDEFINITE_LENGTH],
    ['indefinite byte string', '5f4100ff', C.CBOR_INDEFINITE_LENGTH],
    ['indefinite text string', '7f6161ff', C.CBOR_INDEFINITE_LENGTH],
    ['nested indefinite', '819fff', C.CBOR_INDEFINITE_LENGTH],
    ['duplicate text key', 'a2 6161 01 6161 02', C.CBOR_DUPLICATE_KEY],
    ['duplicate int key', 'a2 01 01 01 02', C.CBOR_DUPLICATE_KEY],
    ['duplicate negative key', 'a2 20 01 20 02', C.CBOR_DUPLICATE_KEY],
    ['nested duplicate', '81 a2 6161 01 6161 02', C.CBOR_DUPLICATE_KEY],
    ['trailing byte', '0000', C.CBOR_TRAILING_BYTES],
    ['trailing after map', 'a0 00', C.CBOR_TRAILING_BYTES],
    ['trailing break', '80ff', C.CBOR_TRAILING_BYTES],
    ['17 levels of arrays', toHex(nested(17)), C.CBOR_TOO_DEEP],
    ['17 levels of maps', `${'a16161'.repeat(17)}00`, C.CBOR_TOO_DEEP],
    ['string claiming 4 GB', '5affffffff', C.CBOR_TOO_LARGE],
    ['text claiming 4 GB', '7affffffff00', C.CBOR_TOO_LARGE],
    ['string claiming 2^32 (8-byte length)', '5b0000000100000000', C.CBOR_TOO_LARGE],
    ['array claiming 2^32 items', '9b0000000100000000', C.CBOR_TOO_LARGE],
    ['array of 65536 items', '9a00010000', C.CBOR_TOO_LARGE],
    ['map of 2^32-1 pairs', 'baffffffff', C.CBOR_TOO_LARGE],
    ['empty input', '', C.CBOR_MALFORMED],
    ['truncated argument', '18', C.CBOR_MALFORMED],
    ['truncated 8-byte argument', '1b000000', C.CBOR_MALFORMED],
    ['truncated byte string', '44010203', C.CBOR_MALFORMED],
    ['truncated array', '8201', C.CBOR_MALFORMED],
    ['truncated map value', 'a16161', C.CBOR_MALFORMED],
    ['array count beyond input', '9903e8 00', C.CBOR_MALFORMED],
    ['reserved ai 28', '1c', C.CBOR_MALFORMED],
    ['reserved ai 29 (bytes)', '5d', C.CBOR_MALFORMED],
    ['reserved ai 30 (tag)', 'de', C.CBOR_MALFORMED],
    ['reserved ai 28 (major 7)', 'fc', C.CBOR_MALFORMED],
    ['ai 31 on an unsigned int', '1f', C.CBOR_MALFORMED],
    ['ai 31 on a negative int', '3f', C.CBOR_MALFORMED],
    ['ai 31 on a tag', 'df', C.CBOR_MALFORMED],
    ['stray break', 'ff', C.CBOR_MALFORMED],
    ['stray break in an array', '81ff', C.CBOR_MALFORMED],
    ['two-byte simple value below 32', 'f818', C.CBOR_MALFORMED],
    ['truncated float', 'fa0000', C.CBOR_MALFORMED],
    ['invalid UTF-8', '62c328', C.CBOR_MALFORMED],
    ['UTF-8 surrogate', '63eda080', C.CBOR_MALFORMED],
    ['overlong UTF-8', '62c0af', C.CBOR_MALFORMED],
    ['invalid UTF-8 in a map key', 'a1 61ff 00', C.CBOR_MALFORMED],
    ['tag 1 (epoch time)', 'c100', C.CBOR_UNSUPPORTED],
    ['tag 0 (date string)', 'c0 6161', C.CBOR_UNSUPPORTED],
    ['tag 2 (bignum)', 'c2 4101', C.CBOR_UNSUPPORTED],
    ['tag 18 when not asked for', 'd2 80', C.CBOR_UNSUPPORTED],
    ['tag 55799 (self-described CBOR)', 'd9d9f7 00', C.CBOR_UNSUPPORTED],
    ['undefined', 'f7', C.CBOR_UNSUPPORTED],
    ['simple value 0', 'e0', C.CBOR_UNSUPPORTED],
    ['simple value 19', 'f3', C.CBOR_UNSUPPORTED],
    ['simple value 255', 'f8ff', C.CBOR_UNSUPPORTED],
    ['float16 NaN', 'f97e00', C.CBOR_UNSUPPORTED],
    ['float16 +Infinity', 'f97c00', C.CBOR_UNSUPPORTED],
    ['float16 -Infinity', 'f9fc00', C.CBOR_UNSUPPORTED],
    ['float32 NaN', 'fa7fc00000', C.CBOR_UNSUPPORTED],
    ['float32 Infinity', 'fa7f800000', C.CBOR_UNSUPPORTED],
    ['float64 NaN', 'fb7ff8000000000000', C.CBOR_UNSUPPORTED],
    ['float64 -Infinity', 'fbfff0000000000000', C.CBOR_UNSUPPORTED],
    ['float32 2^53', 'fa5a000000', C.CBOR_UNSUPPORTED],
    ['float32 max', 'fa7f7fffff', C.CBOR_UNSUPPORTED],
    ['float64 2^53', 'fb4340000000000000', C.CBOR_UNSUPPORTED],
    ['float64 -1e300', 'fbfe37e43c8800759c', C.CBOR_UNSUPPORTED],
    ['unsigned 2^53', '1b0020000000000000', C.CBOR_UNSUPPORTED],
    ['unsigned 2^64-1', '1bffffffffffffffff', C.CBOR_UNSUPPORTED],
    ['negative -(2^53)', '3b001fffffffffffff', C.CBOR_UNSUPPORTED],
    ['byte string map key', 'a1 4100 00', C.CBOR_UNSUPPORTED],
    ['array map key', 'a1 80 00', C.CBOR_UNSUPPORTED],
    ['map map key', 'a1 a0 00', C.CBOR_UNSUPPORTED],
    ['boolean map key', 'a1 f5 00', C.CBOR_UNSUPPORTED],
    ['null map key', 'a1 f6 00', C.CBOR_UNSUPPORTED],
    ['float map key', 'a1 f93c00 00', C.CBOR_UNSUPPORTED],
    ['tagged map key', 'a1 d2 00 00', C.CBOR_UNSUPPORTED],
  ];

  it.each(cases)('%s (%s) → %s', (_what, input, code) => {
    expect(codeOf(() => decodeCbor(hex(input), { tags: [] }))).toBe(code);
  });

  it('refuses 100,000 nested arrays with MG_ERR_CBOR_TOO_DEEP, not a stack overflow', () => {
    expect(codeOf(() => decodeCbor(nested(100_000), { maxBytes: 200_000 }))).toBe(C.CBOR_TOO_DEEP);
    expect(codeOf(() => decodeCbor(nested(100_000, 0xd2), { maxBytes: 200_000, tags: [18] }))).toBe(
      C.CBOR_TOO_DEEP,
    );
    expect(codeOf(() => decodeCbor(nested(100_000, 0xa1)))).toBe(C.CBOR_TOO_LARGE); // over maxBytes first
  });

  it('accepts exactly maxDepth levels, and counts tags as levels', () => {
    expect(decodeCbor(nested(16))).toEqual([[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]);
    expect(codeOf(() => decodeCbor(nested(3), { maxDepth: 2 }))).toBe(C.CBOR_TOO_DEEP);
    expect(decodeCbor(hex('d2 81 00'), { tags: [18], maxDepth: 2 })).toEqual(new CborTag(18, [0]));
    expect(codeOf(() => decodeCbor(hex('d2 81 00'), { tags: [18], maxDepth: 1 }))).toBe(C.CBOR_TOO_DEEP);
    expect(decodeCbor(hex('80'), { maxDepth: 1 })).toEqual([]);
    expect(codeOf(() => decodeCbor(hex('80'), { maxDepth: 0 }))).toBe(C.CBOR_TOO_DEEP);
  });

  it('enforces maxBytes, maxStringBytes and maxItems', () => {
    expect(codeOf(() => decodeCbor(new Uint8Array(DEFAULT_CBOR_LIMITS.maxBytes + 1)))).toBe(C.CBOR_TOO_LARGE);
    expect(codeOf(() => decodeCbor(hex('4401020304'), { maxBytes: 4 }))).toBe(C.CBOR_TOO_LARGE);
    expect(decodeCbor(hex('4401020304'), { maxStringBytes: 4 })).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(codeOf(() => decodeCbor(hex('4401020304'), { maxStringBytes: 3 }))).toBe(C.CBOR_TOO_LARGE);
    expect(codeOf(() => decodeCbor(hex('6461626364'), { maxStringBytes: 3 }))).toBe(C.CBOR_TOO_LARGE);
    expect(decodeCbor(hex('83010203'), { maxItems: 3 })).toEqual([1, 2, 3]);
    expect(codeOf(() => decodeCbor(hex('83010203'), { maxItems: 2 }))).toBe(C.CBOR_TOO_LARGE);
    expect(codeOf(() => decodeCbor(hex('a2 01 02 03 04'), { maxItems: 1 }))).toBe(C.CBOR_TOO_LARGE);
  });

  it('refuses bad arguments with MG_ERR_BAD_ARGUMENT', () => {
    expect(codeOf(() => decodeCbor('00' as unknown as Uint8Array))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => decodeCbor(hex('00'), { maxDepth: 100_000 }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => decodeCbor(hex('00'), { maxBytes: -1 }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => decodeCbor(hex('00'), { maxItems: Number.NaN }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => decodeCbor(hex('00'), { tags: [-1] }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => decodeCbor(hex('00'), { tags: [1.5] }))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => decodeCbor(hex('00'), { tags: '18' as unknown as number[] }))).toBe(C.BAD_ARGUMENT);
  });

  it('says where it stopped', () => {
    try {
      decodeCbor(hex('82 01 1801'));
      expect.unreachable();
    } catch (err) {
      expect(isMedgateError(err, C.CBOR_NON_SHORTEST)).toBe(true);
      expect((err as MedgateError).got).toEqual({ offset: 2 });
    }
  });
});

describe('decodeCbor accepts', () => {
  it.each([
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['1b001fffffffffffff', Number.MAX_SAFE_INTEGER],
    ['3b001ffffffffffffe', -Number.MAX_SAFE_INTEGER],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['f93e00', 1.5],
    ['fb3fb999999999999a', 0.1],
    ['60', ''],
    ['62c3bc', 'ü'],
    ['64f0908591', '\u{10151}'],
    ['40', new Uint8Array()],
    ['80', []],
    ['a0', new Map()],
  ] as const)('%s', (input, value) => {
    expect(decodeCbor(hex(input))).toEqual(value);
  });

  it('decodes maps to Map, with integer and text keys kept apart', () => {
    const value = decodeCbor(hex('a3 01 02 6131 03 20 04'));
    expect(value).toBeInstanceOf(Map);
    expect([...(value as Map<unknown, unknown>)]).toEqual([
      [1, 2],
      ['1', 3],
      [-1, 4],
    ]);
  });

  it('keeps __proto__ as an ordinary key (no prototype poisoning)', () => {
    const value = decodeCbor(encodeCbor(new Map([['__proto__', new Map([['polluted', true]])]])));
    expect(value).toBeInstanceOf(Map);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts floats of any width that hold a finite value (documented: not re-encoded)', () => {
    expect(decodeCbor(hex('fb3ff8000000000000'))).toBe(1.5);
    expect(decodeCbor(hex('fa3fc00000'))).toBe(1.5);
    expect(decodeCbor(hex('f97bff'))).toBe(65504);
    expect(decodeCbor(hex('f90001'))).toBe(2 ** -24);
    expect(decodeCbor(hex('f98000'))).toBe(-0);
    expect(decodeCbor(hex('fb433fffffffffffff'))).toBe(2 ** 53 - 1); // just below the float limit
    expect(decodeCbor(hex('fa59ffffff'))).toBe(2 ** 53 - 2 ** 29);
  });

  it('accepts map keys out of order (documented: signed bytes are never re-encoded)', () => {
    expect(decodeCbor(hex('a2 6162 01 6161 02'))).toEqual(
      new Map([
        ['b', 1],
        ['a', 2],
      ]),
    );
  });
});

describe('tag 18 (COSE_Sign1)', () => {
  const output = hex(coseVector.output.cbor);

  it('decodes the cose-wg example to a CborTag and re-encodes it byte for byte', () => {
    const value = decodeCbor(output, { tags: [18] });
    expect(value).toBeInstanceOf(CborTag);
    const tagged = value as CborTag<unknown[]>;
    expect(tagged.tag).toBe(18);
    expect(tagged.value).toHaveLength(4);
    expect(tagged.value[1]).toEqual(new Map([[4, new TextEncoder().encode('11')]]));
    expect(toHex(encodeCbor(value))).toBe(toHex(output));
  });

  it('accepts several tags, and the same tag set again (cached)', () => {
    expect(decodeCbor(hex('d1 d2 00'), { tags: [17, 18] })).toEqual(new CborTag(17, new CborTag(18, 0)));
    expect(decodeCbor(hex('d2 00'), { tags: [17, 18] })).toEqual(new CborTag(18, 0));
    expect(codeOf(() => decodeCbor(hex('d1 00'), { tags: [18] }))).toBe(C.CBOR_UNSUPPORTED);
  });

  it('is refused unless asked for, and only the tags asked for are accepted', () => {
    expect(codeOf(() => decodeCbor(output))).toBe(C.CBOR_UNSUPPORTED);
    expect(codeOf(() => decodeCbor(output, { tags: [17] }))).toBe(C.CBOR_UNSUPPORTED);
    expect(codeOf(() => decodeCbor(hex('d2 c1 00'), { tags: [18] }))).toBe(C.CBOR_UNSUPPORTED);
    expect(codeOf(() => decodeCbor(hex('d812 80'), { tags: [18] }))).toBe(C.CBOR_NON_SHORTEST);
  });

  it('encodes a CborTag as a tag, and refuses bad tag numbers', () => {
    expect(toHex(encodeCbor(new CborTag(18, [1, 2])))).toBe('d2820102');
    expect(toHex(encodeCbor(new CborTag(1000, 'a')))).toBe('d903e86161');
    expect(toHex(encodeCbor({ x: new CborTag(0, 1) }))).toBe('a16178c001');
    expect(codeOf(() => new CborTag(-1, 0))).toBe(C.BAD_ARGUMENT);
    expect(codeOf(() => new CborTag(2 ** 53, 0))).toBe(C.BAD_ARGUMENT);
    expect(Object.isFrozen(new CborTag(1, 0))).toBe(true);
  });
});

describe('encodeCbor: deterministic encoding (RFC 8949 §4.2.1, vectors from Appendix A)', () => {
  it.each([
    [0, '00'],
    [1, '01'],
    [10, '0a'],
    [23, '17'],
    [24, '1818'],
    [25, '1819'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [1.1, 'fb3ff199999999999a'],
    [1.5, 'f93e00'],
    [2 ** -24, 'f90001'],
    [0.00006103515625, 'f90400'],
    [-4.1, 'fbc010666666666666'],
    [100000.5, 'fa47c35040'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['"\\', '62225c'],
    ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'],
    ['\ud800\udd51', '64f0908591'],
    [new Uint8Array(), '40'],
    [new Uint8Array([1, 2, 3, 4]), '4401020304'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [
      Array.from({ length: 25 }, (_, i) => i + 1),
      '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    ],
    [{}, 'a0'],
    [
      new Map([
        [1, 2],
        [3, 4],
      ]),
      'a201020304',
    ],
    [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    [['a', { b: 'c' }], '826161a161626163'],
  ] as const)('%j → %s', (value, expected) => {
    const bytes = encodeCbor(value);
    expect(toHex(bytes)).toBe(expected);
    // Canonical input: decode then encode gives the same bytes.
    expect(toHex(encodeCbor(decodeCbor(bytes)))).toBe(expected);
  });

  it('sorts map keys bytewise by their encoding, not length first (§4.2.1)', () => {
    const map = new Map<string | number, number>([
      ['aa', 6],
      ['b', 5],
      ['a', 4],
      [-1, 2],
      [100, 1],
      [10, 3],
    ]);
    // 0a < 1864 < 20 < 6161 < 6162 < 626161; length-first (RFC 7049 §3.9) would put 20 before 1864.
    expect(toHex(encodeCbor(map))).toBe('a6 0a03 186401 2002 616104 616205 62616106'.replace(/ /g, ''));
    expect(toHex(encodeCbor({ b: 1, aa: 3, a: 2 }))).toBe('a361610261620162616103');
  });

  it('orders keys exactly as cborg’s rfc8949EncodeOptions does (bytewise over the encodings)', () => {
    const key = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 20, maxLength: 30 }),
      fc.maxSafeInteger(),
      fc.integer({ min: -300, max: 300 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.integer()), { maxLength: 12 }), (entries) => {
        const map = new Map(entries);
        expect(toHex(encodeCbor(map))).toBe(toHex(cborgEncode(map, rfc8949EncodeOptions)));
      }),
      { numRuns: 1000 },
    );
  });

  it('returns a plain Uint8Array that owns its bytes (never a pooled Node Buffer)', () => {
    for (const value of [1, 'x'.repeat(300), { a: new Uint8Array(100) }, [1, 2, 3]]) {
      const bytes = encodeCbor(value);
      expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
      expect(bytes.buffer.byteLength).toBe(bytes.length);
      const before = toHex(bytes);
      bytes.slice()[0] = 0xff; // a copy, as for any Uint8Array
      encodeCbor({ other: 'value' });
      expect(toHex(bytes)).toBe(before);
    }
  });

  it('writes integral numbers as integers and -0 as 0 (JavaScript cannot tell 1.0 from 1)', () => {
    expect(toHex(encodeCbor(1.0))).toBe('01');
    expect(toHex(encodeCbor(-4.0))).toBe('23');
    expect(toHex(encodeCbor(-0))).toBe('00');
    expect(toHex(encodeCbor(65504))).toBe('19ffe0');
  });

  it('writes every float in the shortest width that holds it exactly', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), (x) => {
        fc.pre(!Number.isInteger(x));
        const bytes = encodeCbor(x);
        expect(decodeCbor(bytes)).toBe(x);
        const width = { 249: 2, 250: 4, 251: 8 }[bytes[0] as number];
        expect(bytes.length).toBe(1 + (width ?? -1));
        if (width === 8) expect(Math.fround(x)).not.toBe(x); // not exact in float32
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeCbor refusals (MG_ERR_BAD_ARGUMENT)', () => {
  class Point {
    x = 1;
  }
  const circular: Record<string, unknown> = {};
  circular.self = circular;

  it.each([
    ['undefined', undefined, '(root)'],
    ['NaN', Number.NaN, '(root)'],
    ['Infinity', Number.POSITIVE_INFINITY, '(root)'],
    ['-Infinity', Number.NEGATIVE_INFINITY, '(root)'],
    ['2^53', 2 ** 53, '(root)'],
    ['-(2^53)', -(2 ** 53), '(root)'],
    ['1e300 (an unsafe integer in JavaScript)', 1e300, '(root)'],
    ['bigint', 10n, '(root)'],
    ['symbol', Symbol('s'), '(root)'],
    ['function', () => 1, '(root)'],
    ['Date', new Date(0), '(root)'],
    ['Set', new Set([1]), '(root)'],
    ['Uint16Array', new Uint16Array(2), '(root)'],
    ['class instance', new Point(), '(root)'],
    ['lone surrogate', '\ud800', '(root)'],
    ['lone surrogate in a key', { '\udc00': 1 }, '(root)'],
    ['boolean Map key', new Map([[true, 1]]), '(root)'],
    ['float Map key', new Map([[1.5, 1]]), '(root)'],
    ['undefined in an object', { a: { b: undefined } }, 'a.b'],
    ['NaN in an array', { obs: [{ v: 1 }, { v: Number.NaN }] }, 'obs[1].v'],
    ['hole in a sparse array', Object.assign(new Array(3), { 0: 1, 2: 3 }), '[1]'],
    ['undefined in a Map', new Map([['k', undefined]]), 'k'],
    ['undefined in a tag', new CborTag(18, [undefined]), '<tag 18>[0]'],
    ['circular structure', circular, undefined],
  ] as const)('%s', (_what, value, field) => {
    try {
      encodeCbor(value);
      expect.unreachable();
    } catch (err) {
      expect(isMedgateError(err, C.BAD_ARGUMENT)).toBe(true);
      if (field !== undefined) expect((err as MedgateError).field).toBe(field);
    }
  });
});

describe('cborgErrorCode: the codes for cborg’s own messages', () => {
  // cborg decoding with the same options as decodeCbor, but without the pre-scan: each of
  // its messages must map to the code the pre-scan gives. Pins cborg's wording.
  const strict = {
    strict: true,
    allowIndefinite: false,
    allowUndefined: false,
    allowInfinity: false,
    allowNaN: false,
    allowBigInt: false,
    rejectDuplicateMapKeys: true,
    useMaps: true,
  };
  // [hex, code for cborg's message, code of decodeCbor when its pre-scan differs]
  it.each([
    ['a2616101616102', C.CBOR_DUPLICATE_KEY],
    ['1801', C.CBOR_NON_SHORTEST],
    ['3900ff', C.CBOR_NON_SHORTEST],
    ['5b00000000000000ff', C.CBOR_NON_SHORTEST],
    ['9fff', C.CBOR_INDEFINITE_LENGTH],
    ['bfff', C.CBOR_INDEFINITE_LENGTH],
    ['5f4100ff', C.CBOR_INDEFINITE_LENGTH],
    ['7f6161ff', C.CBOR_INDEFINITE_LENGTH],
    ['ff', C.CBOR_INDEFINITE_LENGTH, C.CBOR_MALFORMED], // cborg reads a stray break as indefinite syntax
    ['0000', C.CBOR_TRAILING_BYTES],
    ['c100', C.CBOR_UNSUPPORTED],
    ['e0', C.CBOR_UNSUPPORTED],
    ['f8ff', C.CBOR_UNSUPPORTED],
    ['f7', C.CBOR_UNSUPPORTED],
    ['f97e00', C.CBOR_UNSUPPORTED],
    ['f97c00', C.CBOR_UNSUPPORTED],
    ['1b0020000000000000', C.CBOR_UNSUPPORTED],
    ['3b0020000000000000', C.CBOR_UNSUPPORTED],
    ['5b0020000000000000', C.CBOR_UNSUPPORTED, C.CBOR_TOO_LARGE], // cborg: unsafe integer
    ['', C.CBOR_MALFORMED],
    ['18', C.CBOR_MALFORMED],
    ['1c', C.CBOR_MALFORMED],
    ['8201', C.CBOR_MALFORMED],
    ['a101', C.CBOR_MALFORMED],
    ['4401', C.CBOR_MALFORMED],
    ['fa0000', C.CBOR_MALFORMED],
    ['5b0000000100000000', C.CBOR_MALFORMED, C.CBOR_TOO_LARGE], // cborg: not enough data
    ['9b0000000100000000', C.CBOR_MALFORMED, C.CBOR_TOO_LARGE],
  ] as const)('%s → %s', (input, code, prescanCode?: string) => {
    let thrown: unknown;
    try {
      cborgDecode(hex(input), strict);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(cborgErrorCode(thrown)).toBe(code);
    expect(codeOf(() => decodeCbor(hex(input)))).toBe(prescanCode ?? code);
  });

  it('maps cborg’s 64-bit length message (reachable only with big integers on) to TOO_LARGE', () => {
    for (const input of ['5b0020000000000000', '9b0020000000000000', 'bb0020000000000000']) {
      let thrown: unknown;
      try {
        cborgDecode(hex(input), { ...strict, allowBigInt: true });
      } catch (err) {
        thrown = err;
      }
      expect((thrown as Error).message).toMatch(/64-bit integer/);
      expect(cborgErrorCode(thrown)).toBe(C.CBOR_TOO_LARGE);
    }
  });

  it('gives MALFORMED to anything it does not recognise', () => {
    expect(cborgErrorCode(new Error('something new'))).toBe(C.CBOR_MALFORMED);
    expect(cborgErrorCode('not an error')).toBe(C.CBOR_MALFORMED);
  });
});

describe('round trips (fast-check)', () => {
  const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.maxSafeInteger());
  const leaf = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }).map((x) => (Object.is(x, -0) ? 0 : x)),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.uint8Array({ maxLength: 40 }),
  );
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('value'), { maxLength: 5 }),
      fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries) => new Map(entries)),
    ),
  }));

  it('decode(encode(x)) equals x, and encode(decode(bytes)) is byte-identical', () => {
    fc.assert(
      fc.property(value, (x) => {
        const bytes = encodeCbor(x);
        const back = decodeCbor(bytes, { maxDepth: 64 });
        expect(back).toEqual(x);
        expect(toHex(encodeCbor(back))).toBe(toHex(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('whatever decodeCbor accepts from random bytes re-encodes to something it accepts again', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let decoded: unknown;
        try {
          decoded = decodeCbor(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(MedgateError);
          return;
        }
        const again = encodeCbor(decoded);
        expect(toHex(encodeCbor(decodeCbor(again)))).toBe(toHex(again));
      }),
      { numRuns: 2000 },
    );
  });
});
