/**
 * firmware-ts/protocol/verified-reading.ts: the JSON clinicians get. Round trip, one spelling
 * per value, hostile JSON refused field by field, and `verifyVerifiedReading` catching every
 * field that was changed after signing.
 */
import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../firmware-ts/protocol/bytes.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { encodeReading, type Reading } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import {
  decodeVerifiedReading,
  encodeVerifiedReading,
  parseVerifiedReading,
  type VerifiedReading,
  verifiedReadingText,
  verifyVerifiedReading,
} from '../../firmware-ts/protocol/verified-reading.js';
import { news2Alerts, vitalSign } from '../../firmware-ts/protocol/vitals.js';
import { CHAIN, keyFor } from '../ledger/ledger-harness.js';

const T = 1_700_000_000_000;

function sample(over: Partial<Reading> = {}): VerifiedReading {
  const reading: Reading = {
    dev: 'dev-1',
    seq: 42,
    t: T,
    obs: [
      { code: '2708-6', v: 89, u: '%' },
      { code: '8310-5', v: 36.6, u: 'Cel' },
    ],
    fw: 7,
    ...over,
  };
  const cose = signCoseSign1(encodeReading(reading), keyFor('dev-1').signer, chainAad(CHAIN));
  const alerts = news2Alerts(reading.obs);
  return {
    chain: CHAIN,
    dev: reading.dev,
    seq: reading.seq,
    t: reading.t,
    received: T + 180,
    ...(reading.fw === undefined ? {} : { fw: reading.fw }),
    obs: reading.obs.map((o) => ({ ...o, display: vitalSign(o.code)!.display })),
    ...(alerts.length > 0 ? { alerts } : {}),
    late: true,
    gap: 2,
    leafIndex: 41,
    leafHash: leafHash(cose),
    kid: keyFor('dev-1').kid,
    cose,
  };
}

/** The JSON value of `sample()` with `change` applied. */
function json(change: (j: Record<string, unknown>) => unknown = () => {}): Record<string, unknown> {
  const j = JSON.parse(verifiedReadingText(sample())) as Record<string, unknown>;
  change(j);
  return j;
}

describe('verified reading JSON', () => {
  it('round-trips, and a clinician verifies it with either backend', () => {
    const r = sample();
    const text = verifiedReadingText(r);
    const j = JSON.parse(text);
    expect(Object.keys(j)).toEqual([
      'v',
      'chain',
      'dev',
      'seq',
      't',
      'time',
      'received',
      'fw',
      'obs',
      'alerts',
      'late',
      'gap',
      'leafIndex',
      'leafHash',
      'kid',
      'cose',
    ]);
    expect(j.time).toBe('2023-11-14T22:13:20.000Z');
    expect(j.cose).toBe(toBase64(r.cose));
    const back = parseVerifiedReading(text);
    expect(back).toEqual(r);
    expect(parseVerifiedReading(new TextEncoder().encode(text))).toEqual(r);
    expect(encodeVerifiedReading(back)).toEqual(j);
    for (const backend of [nobleBackend, nodeBackend]) {
      expect(verifyVerifiedReading(back, keyFor('dev-1').pub, backend).seq).toBe(42);
    }
  });

  it('leaves optional fields out rather than writing false, 0 or empty', () => {
    const {
      alerts: _a,
      late: _l,
      gap: _g,
      fw: _f,
      ...plain
    } = sample({ obs: [{ code: '8867-4', v: 70, u: '/min' }] });
    const cose = signCoseSign1(
      encodeReading({ dev: 'dev-1', seq: 42, t: T, obs: [{ code: '8867-4', v: 70, u: '/min' }] }),
      keyFor('dev-1').signer,
      chainAad(CHAIN),
    );
    const r: VerifiedReading = { ...plain, cose, leafHash: leafHash(cose) };
    const j = encodeVerifiedReading(r);
    expect('alerts' in j || 'late' in j || 'gap' in j || 'fw' in j).toBe(false);
    verifyVerifiedReading(parseVerifiedReading(JSON.stringify(j)), keyFor('dev-1').pub, nobleBackend);
  });

  type Json = Record<string, unknown> & {
    kid: string;
    cose: string;
    obs: { v: unknown }[];
    alerts: { index: number; value: number; direction: string }[];
  };
  const hostile: [string, (j: Json) => unknown, string, string][] = [
    ['an unknown field', (j) => Object.assign(j, { extra: 1 }), 'MG_ERR_UNKNOWN_FIELD', 'extra'],
    [
      'a __proto__ key',
      (j) => Object.defineProperty(j, '__proto__', { value: {}, enumerable: true }),
      'MG_ERR_UNKNOWN_FIELD',
      '__proto__',
    ],
    ['a missing leafHash', (j) => delete j.leafHash, 'MG_ERR_MISSING_FIELD', 'leafHash'],
    ['another version', (j) => Object.assign(j, { v: 2 }), 'MG_ERR_BAD_FIELD', 'v'],
    [
      'a time that is not t',
      (j) => Object.assign(j, { time: '2023-11-14T22:13:21.000Z' }),
      'MG_ERR_BAD_FIELD',
      'time',
    ],
    ['late: false', (j) => Object.assign(j, { late: false }), 'MG_ERR_BAD_FIELD', 'late'],
    ['gap: 0', (j) => Object.assign(j, { gap: 0 }), 'MG_ERR_BAD_FIELD', 'gap'],
    ['an uppercase kid', (j) => Object.assign(j, { kid: j.kid.toUpperCase() }), 'MG_ERR_BAD_FIELD', 'kid'],
    ['a short leafHash', (j) => Object.assign(j, { leafHash: 'ab' }), 'MG_ERR_BAD_FIELD', 'leafHash'],
    [
      'unpadded base64',
      (j) => Object.assign(j, { cose: j.cose.replace(/=+$/, '') }),
      'MG_ERR_BAD_FIELD',
      'cose',
    ],
    ['a seq that is a float', (j) => Object.assign(j, { seq: 1.5 }), 'MG_ERR_BAD_FIELD', 'seq'],
    ['a device id with a slash', (j) => Object.assign(j, { dev: 'a/b' }), 'MG_ERR_BAD_FIELD', 'dev'],
    ['no observations', (j) => Object.assign(j, { obs: [] }), 'MG_ERR_BAD_FIELD', 'obs'],
    ['an observation value as text', (j) => (j.obs[0]!.v = '89'), 'MG_ERR_BAD_FIELD', 'obs[0].v'],
    [
      'an alert on a missing observation',
      (j) => (j.alerts[0]!.index = 5),
      'MG_ERR_BAD_FIELD',
      'alerts[0].index',
    ],
    [
      'an alert that restates its observation wrongly',
      (j) => (j.alerts[0]!.value = 95),
      'MG_ERR_BAD_FIELD',
      'alerts[0]',
    ],
    ['an alert direction', (j) => (j.alerts[0]!.direction = 'up'), 'MG_ERR_BAD_FIELD', 'alerts[0].direction'],
  ];
  it.each(hostile)('refuses %s', (_name, change, code, field) => {
    const value = json((j) => change(j as Json));
    const err = (() => {
      try {
        decodeVerifiedReading(value);
      } catch (e) {
        return e as { code: string; field?: string };
      }
      return undefined;
    })();
    expect(err?.code).toBe(code);
    expect(err?.field).toBe(field);
  });

  it('refuses text that is not JSON or is too long', () => {
    expect(() => parseVerifiedReading('{')).toThrow(expect.objectContaining({ code: 'MG_ERR_BAD_FIELD' }));
    expect(() => parseVerifiedReading(' '.repeat(20_000))).toThrow(
      expect.objectContaining({ code: 'MG_ERR_BAD_FIELD' }),
    );
    expect(() => parseVerifiedReading('null')).toThrow(expect.objectContaining({ code: 'MG_ERR_BAD_FIELD' }));
    expect(() => parseVerifiedReading('[]')).toThrow(expect.objectContaining({ code: 'MG_ERR_BAD_FIELD' }));
    // JSON.parse makes __proto__ an own key: the closed field list refuses it, nothing is polluted.
    const poisoned = verifiedReadingText(sample()).replace('{', '{"__proto__":{"polluted":1},');
    expect(() => parseVerifiedReading(poisoned)).toThrow(
      expect.objectContaining({ code: 'MG_ERR_UNKNOWN_FIELD', field: '__proto__' }),
    );
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });

  it.each([
    ['dev', { dev: 'dev-2' }],
    ['seq', { seq: 43 }],
    ['t', { t: T + 1 }],
    ['fw', { fw: 8 }],
    ['obs[1]', { obs: [sample().obs[0]!, { ...sample().obs[1]!, v: 38.5 }] }],
    ['obs', { obs: [sample().obs[0]!] }],
    ['kid', { kid: keyFor('dev-2').kid }],
    ['leafHash', { leafHash: new Uint8Array(32) }],
  ] as const)('verifyVerifiedReading names a changed %s: MG_ERR_VERIFIED_MISMATCH', (field, change) => {
    const r = { ...sample(), ...change } as VerifiedReading;
    expect(() => verifyVerifiedReading(r, keyFor('dev-1').pub, nobleBackend)).toThrow(
      expect.objectContaining({ code: 'MG_ERR_VERIFIED_MISMATCH', field }),
    );
  });

  it('verifyVerifiedReading refuses another key, another chain and altered bytes', () => {
    const r = sample();
    expect(() => verifyVerifiedReading(r, keyFor('dev-2').pub, nobleBackend)).toThrow(
      expect.objectContaining({ code: 'MG_ERR_COSE_KID_MISMATCH' }),
    );
    expect(() => verifyVerifiedReading({ ...r, chain: 'other' }, keyFor('dev-1').pub, nobleBackend)).toThrow(
      expect.objectContaining({ code: 'MG_ERR_BAD_SIGNATURE' }),
    );
    const cose = r.cose.slice();
    cose[cose.length - 1]! ^= 1;
    expect(() => verifyVerifiedReading({ ...r, cose }, keyFor('dev-1').pub, nobleBackend)).toThrow(
      expect.objectContaining({ code: 'MG_ERR_BAD_SIGNATURE' }),
    );
  });
});
