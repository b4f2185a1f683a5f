/**
 * Typed v1 decoders (DESIGN §3): valid examples of each structure, then every field wrong
 * in every way, each refused with its code and the path of the field. The encoders refuse
 * the same things (MG_ERR_BAD_ARGUMENT) and write deterministic bytes.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { decodeAttestation, encodeAttestation } from '../../firmware-ts/protocol/decode/attestation.js';
import { decodeConnectToken, encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { decodeEnrolRequest, encodeEnrolRequest } from '../../firmware-ts/protocol/decode/enrol.js';
import {
  MAX_ATTESTATION_BYTES,
  MAX_TIME_MS,
  READING_CBOR_LIMITS,
  READING_LIMITS,
  TOKEN_CBOR_LIMITS,
} from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading, encodeReading, type Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';

const C = ProtocolErrorCode;

function refusal(run: () => unknown): { code: string; field: string | undefined } {
  try {
    run();
  } catch (err) {
    if (err instanceof MedgateError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected a MedgateError, but nothing was thrown');
}

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);
const utf8 = (s: string) => new TextEncoder().encode(s);

/** A decoded-CBOR-like Map of `record`; nested plain objects and arrays of them become Maps too. */
function toMap(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toMap);
  if (
    value !== null &&
    typeof value === 'object' &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Map)
  ) {
    return new Map(Object.entries(value).map(([k, v]) => [k, toMap(v)]));
  }
  return value;
}

type Edit = (map: Map<unknown, unknown>) => void;

/** Walks `a.0.b` through Maps and arrays; returns the container of the last step and its key. */
function walk(map: Map<unknown, unknown>, path: string): [Map<unknown, unknown> | unknown[], string] {
  const keys = path.split('.');
  let target: unknown = map;
  for (const key of keys.slice(0, -1)) {
    target = Array.isArray(target) ? target[Number(key)] : (target as Map<unknown, unknown>).get(key);
  }
  return [target as Map<unknown, unknown> | unknown[], keys.at(-1) as string];
}
const set =
  (path: string, value: unknown): Edit =>
  (map) => {
    const [target, key] = walk(map, path);
    if (Array.isArray(target)) target[Number(key)] = value;
    else target.set(key, value);
  };
const del =
  (path: string): Edit =>
  (map) => {
    const [target, key] = walk(map, path);
    if (Array.isArray(target)) target.splice(Number(key), 1);
    else target.delete(key);
  };

/** A deep copy of a decoded value (Maps, arrays; bytes shared). */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, clone(v)]));
  return value;
}

type Case = readonly [what: string, edit: Edit, code: string, field: string];

function runCases(valid: unknown, decode: (value: unknown) => unknown, cases: readonly Case[]) {
  it.each(cases)('%s', (_what, edit, code, field) => {
    const value = clone(toMap(valid)) as Map<unknown, unknown>;
    edit(value);
    expect(refusal(() => decode(value))).toEqual({ code, field });
  });
}

// Wrong types, as decodeCbor can produce them.
const notText = [42, 1.5, null, true, bytes(2), [], new Map()] as const;
const notUint = [-1, 1.5, '1', null, false, bytes(1), [1], new Map()] as const;
const notBytes = ['abc', 1, null, [1, 2], new Map()] as const;

const typeCases = (field: string, wrong: readonly unknown[], path = field): Case[] =>
  wrong.map((v) => [`${path} = ${describeValue(v)}`, set(field, v), C.BAD_FIELD, path] as const);

function describeValue(v: unknown): string {
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (v instanceof Map) return 'map';
  return JSON.stringify(v);
}

const reading: Reading = {
  dev: 'ward3-bed12.monitor_A',
  seq: 41,
  t: 1_760_000_000_000,
  obs: [
    { code: '8867-4', v: 72, u: '/min' },
    { code: '2708-6', v: 97, u: '%' },
    { code: '8310-5', v: 36.6, u: 'Cel' },
    { code: '8480-6', v: 121.5, u: 'mm[Hg]' },
  ],
  fw: 7,
};

describe('reading', () => {
  it('decodes a valid reading from its bytes, frozen, and re-encodes it byte for byte', () => {
    const encoded = encodeReading(reading);
    const decoded = decodeReading(decodeCbor(encoded, READING_CBOR_LIMITS));
    expect(decoded).toEqual(reading);
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(Object.isFrozen(decoded.obs)).toBe(true);
    expect(Object.isFrozen(decoded.obs[0])).toBe(true);
    expect(toHex(encodeReading(decoded))).toBe(toHex(encoded));
  });

  it('leaves fw out when absent', () => {
    const { fw: _fw, ...rest } = reading;
    const decoded = decodeReading(decodeCbor(encodeReading(rest)));
    expect(decoded).toEqual(rest);
    expect('fw' in decoded).toBe(false);
  });

  it('writes the deterministic bytes: keys sorted bytewise, shortest ints and floats', () => {
    const small = { dev: 'd1', seq: 1, t: 2, obs: [{ code: '8867-4', v: 72.5, u: '/min' }] };
    const expected = [
      'a4', // map of 4; keys in bytewise order of their encodings:
      '6174 02', // "t": 2
      '63646576 626431', // "dev": "d1"
      '636f6273 81', // "obs": [ 1 item
      'a3 6175 642f6d696e', //   { "u": "/min",
      '6176 f95488', //     "v": 72.5 (float16)
      '64636f6465 66383836372d34', //     "code": "8867-4" } ]
      '63736571 01', // "seq": 1
    ].join('');
    expect(toHex(encodeReading(small))).toBe(expected.replace(/ /g, ''));
  });

  it('accepts floats of any finite width and integer values for v', () => {
    const map = toMap(reading) as Map<string, unknown>;
    const bytesIn = decodeCbor(
      new Uint8Array([
        ...[0xa4, 0x63, ...utf8('dev'), 0x61, ...utf8('x')],
        ...[0x63, ...utf8('seq'), 0x00, 0x61, ...utf8('t'), 0x00],
        ...[0x63, ...utf8('obs'), 0x81, 0xa3, 0x64, ...utf8('code'), 0x66, ...utf8('8867-4')],
        ...[0x61, ...utf8('v'), 0xfb, 0x40, 0x52, 0x20, 0, 0, 0, 0, 0], // 72.5 as float64
        ...[0x61, ...utf8('u'), 0x64, ...utf8('/min')],
      ]),
    );
    expect(decodeReading(bytesIn).obs[0]?.v).toBe(72.5);
    expect(decodeReading(map).obs[0]?.v).toBe(72);
  });

  it('accepts the bounds themselves', () => {
    const max: Reading = {
      dev: 'x'.repeat(64),
      seq: READING_LIMITS.maxSeq,
      t: MAX_TIME_MS,
      obs: Array.from({ length: READING_LIMITS.maxObservations }, () => ({
        code: '1234567-8',
        v: -123456.789, // a float64: 9 bytes
        u: 'u'.repeat(16),
      })),
      fw: READING_LIMITS.maxFw,
    };
    const encoded = encodeReading(max);
    // The largest valid reading fits the reading's CBOR limits.
    expect(encoded.length).toBeLessThanOrEqual(READING_CBOR_LIMITS.maxBytes);
    expect(decodeReading(decodeCbor(encoded, READING_CBOR_LIMITS))).toEqual(max);
    expect(decodeReading(toMap({ ...reading, seq: 0, t: 0, fw: 0 }))).toMatchObject({ seq: 0, t: 0, fw: 0 });
  });

  const cases: Case[] = [
    ['dev missing', del('dev'), C.MISSING_FIELD, 'dev'],
    ...typeCases('dev', notText),
    ['dev empty', set('dev', ''), C.BAD_FIELD, 'dev'],
    ['dev of 65 characters', set('dev', 'x'.repeat(65)), C.BAD_FIELD, 'dev'],
    ['dev with a space', set('dev', 'bed 12'), C.BAD_FIELD, 'dev'],
    ['dev with a slash', set('dev', 'a/b'), C.BAD_FIELD, 'dev'],
    ['dev with a wildcard', set('dev', '+'), C.BAD_FIELD, 'dev'],
    ['dev as a principal', set('dev', 'admin:alice'), C.BAD_FIELD, 'dev'],
    ['dev "..", reserved', set('dev', '..'), C.BAD_FIELD, 'dev'],
    ['dev "enrol", reserved', set('dev', 'enrol'), C.BAD_FIELD, 'dev'],
    ['dev non-ASCII', set('dev', 'bédside'), C.BAD_FIELD, 'dev'],
    ['seq missing', del('seq'), C.MISSING_FIELD, 'seq'],
    ...typeCases('seq', notUint),
    ['seq 2^53', set('seq', 2 ** 53), C.BAD_FIELD, 'seq'],
    ['t missing', del('t'), C.MISSING_FIELD, 't'],
    ...typeCases('t', notUint),
    ['t after 2200', set('t', MAX_TIME_MS + 1), C.BAD_FIELD, 't'],
    ['obs missing', del('obs'), C.MISSING_FIELD, 'obs'],
    ['obs empty', set('obs', []), C.BAD_FIELD, 'obs'],
    [
      'obs of 17',
      set(
        'obs',
        Array.from({ length: 17 }, () => toMap(reading.obs[0])),
      ),
      C.BAD_FIELD,
      'obs',
    ],
    ['obs a map', set('obs', new Map()), C.BAD_FIELD, 'obs'],
    ['obs a string', set('obs', '8867-4'), C.BAD_FIELD, 'obs'],
    ['obs[0] a number', set('obs.0', 1), C.BAD_FIELD, 'obs[0]'],
    ['obs[1] a plain object', set('obs.1', { code: '8867-4', v: 1, u: '/min' }), C.BAD_FIELD, 'obs[1]'],
    ['obs[1] missing code', del('obs.1.code'), C.MISSING_FIELD, 'obs[1].code'],
    ['obs[1] missing v', del('obs.1.v'), C.MISSING_FIELD, 'obs[1].v'],
    ['obs[1] missing u', del('obs.1.u'), C.MISSING_FIELD, 'obs[1].u'],
    ['obs[2] unknown key', set('obs.2.x', 1), C.UNKNOWN_FIELD, 'obs[2].x'],
    ...typeCases('obs.0.code', notText, 'obs[0].code'),
    ['obs[0].code without check digit', set('obs.0.code', '8867'), C.BAD_FIELD, 'obs[0].code'],
    ['obs[0].code of 8 digits', set('obs.0.code', '12345678-9'), C.BAD_FIELD, 'obs[0].code'],
    ['obs[0].code with letters', set('obs.0.code', 'LP1234-5'), C.BAD_FIELD, 'obs[0].code'],
    ['obs[0].code of 17 characters', set('obs.0.code', `${'1'.repeat(15)}-4`), C.BAD_FIELD, 'obs[0].code'],
    ...typeCases('obs.3.v', ['72', null, true, bytes(1), [72], new Map()], 'obs[3].v'),
    ['obs[3].v NaN', set('obs.3.v', Number.NaN), C.BAD_FIELD, 'obs[3].v'],
    ['obs[3].v Infinity', set('obs.3.v', Number.POSITIVE_INFINITY), C.BAD_FIELD, 'obs[3].v'],
    ...typeCases('obs.2.u', notText, 'obs[2].u'),
    ['obs[2].u empty', set('obs.2.u', ''), C.BAD_FIELD, 'obs[2].u'],
    ['obs[2].u with a space', set('obs.2.u', 'mm Hg'), C.BAD_FIELD, 'obs[2].u'],
    ['obs[2].u of 17 characters', set('obs.2.u', 'u'.repeat(17)), C.BAD_FIELD, 'obs[2].u'],
    ['obs[2].u non-ASCII', set('obs.2.u', '°C'), C.BAD_FIELD, 'obs[2].u'],
    ['obs[2].u control character', set('obs.2.u', 'Cel\n'), C.BAD_FIELD, 'obs[2].u'],
    ...typeCases('fw', notUint),
    ['fw 2^32', set('fw', 2 ** 32), C.BAD_FIELD, 'fw'],
    ['unknown field', set('extra', 1), C.UNKNOWN_FIELD, 'extra'],
    ['"__proto__" field', set('__proto__', 1), C.UNKNOWN_FIELD, '__proto__'],
  ];
  runCases(reading, decodeReading, cases);

  it('refuses integer keys and non-maps at the root', () => {
    const map = toMap(reading) as Map<unknown, unknown>;
    map.set(1, 2);
    expect(refusal(() => decodeReading(map))).toEqual({ code: C.BAD_FIELD, field: '(root)' });
    expect(refusal(() => decodeReading(reading))).toEqual({ code: C.BAD_FIELD, field: '(root)' });
    expect(refusal(() => decodeReading(null))).toEqual({ code: C.BAD_FIELD, field: '(root)' });
    expect(refusal(() => decodeReading([reading]))).toEqual({ code: C.BAD_FIELD, field: '(root)' });
  });

  it('encodeReading refuses what decodeReading refuses, as MG_ERR_BAD_ARGUMENT with the field', () => {
    const bad = (r: unknown) => refusal(() => encodeReading(r as Reading));
    expect(bad({ ...reading, seq: -1 })).toEqual({ code: C.BAD_ARGUMENT, field: 'seq' });
    expect(bad({ ...reading, dev: undefined })).toEqual({ code: C.BAD_ARGUMENT, field: 'dev' });
    expect(bad({ ...reading, obs: [...reading.obs, { code: '8867-4', v: Number.NaN, u: '/min' }] })).toEqual({
      code: C.BAD_ARGUMENT,
      field: 'obs[4].v',
    });
    expect(bad({ ...reading, obs: [null] })).toEqual({ code: C.BAD_ARGUMENT, field: 'obs[0]' });
    expect(bad(null)).toEqual({ code: C.BAD_ARGUMENT, field: '(root)' });
    expect(bad('reading')).toEqual({ code: C.BAD_ARGUMENT, field: '(root)' });
    try {
      encodeReading({ ...reading, t: undefined } as unknown as Reading);
    } catch (err) {
      expect((err as MedgateError).cause).toBeInstanceOf(MedgateError);
      expect(((err as MedgateError).cause as MedgateError).code).toBe(C.MISSING_FIELD);
    }
  });

  it('encodeReading ignores extra properties and never mutates a Map it is given', () => {
    const extra = { ...reading, note: 'ignored' } as Reading;
    expect(toHex(encodeReading(extra))).toBe(toHex(encodeReading(reading)));
    const map = toMap(reading) as Map<string, unknown>;
    const obs = map.get('obs');
    expect(toHex(encodeReading(map as unknown as Reading))).toBe(toHex(encodeReading(reading)));
    expect(map.get('obs')).toBe(obs);
    map.set('extra', 1);
    expect(refusal(() => encodeReading(map as unknown as Reading))).toEqual({
      code: C.BAD_ARGUMENT,
      field: 'extra',
    });
  });
});

const nonce = bytes(16, 0xab);

describe('connect token', () => {
  const token = { dev: 'pump-7', t: 1_760_000_000_000, nonce };

  it.each(['pump-7', 'admin:alice', 'clinician:dr.who', 'admin:enrol'])('decodes a token for %s', (dev) => {
    const encoded = encodeConnectToken({ ...token, dev });
    const decoded = decodeConnectToken(decodeCbor(encoded, TOKEN_CBOR_LIMITS));
    expect(decoded).toMatchObject({ purpose: 'connect', dev, t: token.t, nonce });
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(toHex(encodeConnectToken(decoded))).toBe(toHex(encoded));
  });

  it('splits the principal', () => {
    const decode = (dev: string) =>
      decodeConnectToken(toMap({ purpose: 'connect', ...token, dev })).principal;
    expect(decode('pump-7')).toEqual({ role: 'device', id: 'pump-7' });
    expect(decode('admin:alice')).toEqual({ role: 'admin', id: 'alice' });
    expect(decode('clinician:bob')).toEqual({ role: 'clinician', id: 'bob' });
  });

  const valid = { purpose: 'connect', ...token };
  runCases(valid, decodeConnectToken, [
    ['purpose enrol', set('purpose', 'enrol'), C.BAD_PURPOSE, 'purpose'],
    ['purpose empty', set('purpose', ''), C.BAD_PURPOSE, 'purpose'],
    ['purpose Connect', set('purpose', 'Connect'), C.BAD_PURPOSE, 'purpose'],
    ['purpose missing', del('purpose'), C.MISSING_FIELD, 'purpose'],
    ...typeCases('purpose', notText),
    ['dev missing', del('dev'), C.MISSING_FIELD, 'dev'],
    ...typeCases('dev', notText),
    ['dev with an unknown role', set('dev', 'root:alice'), C.BAD_FIELD, 'dev'],
    ['dev with an empty id', set('dev', 'admin:'), C.BAD_FIELD, 'dev'],
    ['dev admin:..', set('dev', 'admin:..'), C.BAD_FIELD, 'dev'],
    ['dev with two roles', set('dev', 'admin:clinician:x'), C.BAD_FIELD, 'dev'],
    ['dev enrol', set('dev', 'enrol'), C.BAD_FIELD, 'dev'],
    ['dev of 65', set('dev', 'a'.repeat(65)), C.BAD_FIELD, 'dev'],
    ['dev admin id of 65', set('dev', `admin:${'a'.repeat(65)}`), C.BAD_FIELD, 'dev'],
    ['t missing', del('t'), C.MISSING_FIELD, 't'],
    ...typeCases('t', notUint),
    ['t after 2200', set('t', MAX_TIME_MS + 1), C.BAD_FIELD, 't'],
    ['nonce missing', del('nonce'), C.MISSING_FIELD, 'nonce'],
    ...typeCases('nonce', notBytes),
    ['nonce of 15 bytes', set('nonce', bytes(15)), C.BAD_FIELD, 'nonce'],
    ['nonce of 17 bytes', set('nonce', bytes(17)), C.BAD_FIELD, 'nonce'],
    ['unknown field', set('pub', bytes(32)), C.UNKNOWN_FIELD, 'pub'],
  ]);

  it('refuses an enrolment request as a connect token with MG_ERR_BAD_PURPOSE', () => {
    const enrol = decodeCbor(encodeEnrolRequest(enrolRequest));
    expect(refusal(() => decodeConnectToken(enrol))).toEqual({ code: C.BAD_PURPOSE, field: 'purpose' });
  });

  it('encodeConnectToken fills in the purpose and refuses bad fields', () => {
    const map = decodeCbor(encodeConnectToken(token)) as Map<string, unknown>;
    expect(map.get('purpose')).toBe('connect');
    expect(refusal(() => encodeConnectToken({ ...token, nonce: bytes(8) }))).toEqual({
      code: C.BAD_ARGUMENT,
      field: 'nonce',
    });
  });
});

const enrolRequest = {
  dev: 'glucometer-0042',
  pub: bytes(32, 0x11),
  model: 'acme.gluco-2',
  t: 1_760_000_000_000,
  nonce,
  att: bytes(200, 0xd2),
};

describe('enrolment request', () => {
  it('decodes a valid request and re-encodes it byte for byte', () => {
    const encoded = encodeEnrolRequest(enrolRequest);
    const decoded = decodeEnrolRequest(decodeCbor(encoded, TOKEN_CBOR_LIMITS));
    expect(decoded).toEqual({ purpose: 'enrol', ...enrolRequest });
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(toHex(encodeEnrolRequest(decoded))).toBe(toHex(encoded));
  });

  it('fits the token CBOR limits at its largest', () => {
    const largest = { ...enrolRequest, dev: 'd'.repeat(64), model: 'm'.repeat(64), t: MAX_TIME_MS };
    const encoded = encodeEnrolRequest({ ...largest, att: bytes(MAX_ATTESTATION_BYTES) });
    expect(encoded.length).toBeLessThanOrEqual(TOKEN_CBOR_LIMITS.maxBytes);
    expect(decodeEnrolRequest(decodeCbor(encoded, TOKEN_CBOR_LIMITS)).att).toHaveLength(
      MAX_ATTESTATION_BYTES,
    );
  });

  runCases({ purpose: 'enrol', ...enrolRequest }, decodeEnrolRequest, [
    ['purpose connect', set('purpose', 'connect'), C.BAD_PURPOSE, 'purpose'],
    ['purpose missing', del('purpose'), C.MISSING_FIELD, 'purpose'],
    ...typeCases('purpose', notText),
    ['dev missing', del('dev'), C.MISSING_FIELD, 'dev'],
    ...typeCases('dev', notText),
    ['dev admin:x (devices only)', set('dev', 'admin:x'), C.BAD_FIELD, 'dev'],
    ['dev enrol', set('dev', 'enrol'), C.BAD_FIELD, 'dev'],
    ['pub missing', del('pub'), C.MISSING_FIELD, 'pub'],
    ...typeCases('pub', notBytes),
    ['pub of 31 bytes', set('pub', bytes(31)), C.BAD_FIELD, 'pub'],
    ['pub of 33 bytes', set('pub', bytes(33)), C.BAD_FIELD, 'pub'],
    ['model missing', del('model'), C.MISSING_FIELD, 'model'],
    ...typeCases('model', notText),
    ['model with a space', set('model', 'acme gluco'), C.BAD_FIELD, 'model'],
    ['model empty', set('model', ''), C.BAD_FIELD, 'model'],
    ['model of 65', set('model', 'm'.repeat(65)), C.BAD_FIELD, 'model'],
    ['t missing', del('t'), C.MISSING_FIELD, 't'],
    ...typeCases('t', notUint),
    ['nonce missing', del('nonce'), C.MISSING_FIELD, 'nonce'],
    ['nonce of 32 bytes', set('nonce', bytes(32)), C.BAD_FIELD, 'nonce'],
    ['att missing', del('att'), C.MISSING_FIELD, 'att'],
    ...typeCases('att', notBytes),
    ['att empty', set('att', bytes(0)), C.BAD_FIELD, 'att'],
    ['att of 1025 bytes', set('att', bytes(MAX_ATTESTATION_BYTES + 1)), C.BAD_FIELD, 'att'],
    ['unknown field', set('obs', []), C.UNKNOWN_FIELD, 'obs'],
  ]);

  it('refuses a connect token as an enrolment request with MG_ERR_BAD_PURPOSE', () => {
    const connect = decodeCbor(encodeConnectToken({ dev: 'x', t: 1, nonce }));
    expect(refusal(() => decodeEnrolRequest(connect))).toEqual({ code: C.BAD_PURPOSE, field: 'purpose' });
  });
});

describe('vendor attestation payload', () => {
  const attestation = { dev: 'glucometer-0042', pub: bytes(32, 0x11), model: 'acme.gluco-2' };

  it('decodes a valid payload and re-encodes it byte for byte', () => {
    const encoded = encodeAttestation(attestation);
    const decoded = decodeAttestation(decodeCbor(encoded, TOKEN_CBOR_LIMITS));
    expect(decoded).toEqual(attestation);
    expect(Object.isFrozen(decoded)).toBe(true);
    expect(toHex(encodeAttestation(decoded))).toBe(toHex(encoded));
  });

  runCases(attestation, decodeAttestation, [
    ['dev missing', del('dev'), C.MISSING_FIELD, 'dev'],
    ...typeCases('dev', notText),
    ['dev enrol', set('dev', 'enrol'), C.BAD_FIELD, 'dev'],
    ['pub missing', del('pub'), C.MISSING_FIELD, 'pub'],
    ...typeCases('pub', notBytes),
    ['pub of 64 bytes', set('pub', bytes(64)), C.BAD_FIELD, 'pub'],
    ['model missing', del('model'), C.MISSING_FIELD, 'model'],
    ...typeCases('model', notText),
    ['model ..', set('model', '..'), C.BAD_FIELD, 'model'],
    ['purpose is not a field', set('purpose', 'enrol'), C.UNKNOWN_FIELD, 'purpose'],
  ]);

  it('encodeAttestation refuses bad fields with MG_ERR_BAD_ARGUMENT', () => {
    expect(refusal(() => encodeAttestation({ ...attestation, pub: bytes(31) }))).toEqual({
      code: C.BAD_ARGUMENT,
      field: 'pub',
    });
  });
});
