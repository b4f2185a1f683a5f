/**
 * The verified reading (DESIGN §3): what the gateway hands clinicians on `mg/v1/verified/{id}`
 * and from its reading history, as JSON. It carries the device's original COSE_Sign1 so that a
 * clinician can check the signature with the device's key from the ledger and never has to
 * trust the gateway (`verifyVerifiedReading`), and the leaf index and hash that a receipt
 * proves in the reading log (DESIGN §4).
 *
 * ```json
 * { "v": 1,
 *   "chain": "medgate-demo",              // chain id: the COSE external_aad
 *   "dev": "ward3-spo2-07", "seq": 1042,  // as signed
 *   "t": 1700000000000,                   // device clock, ms since the Unix epoch (as signed)
 *   "time": "2023-11-14T22:13:20.000Z",   // the same instant, ISO 8601 UTC, for people
 *   "received": 1700000000180,            // gateway clock when the reading was accepted
 *   "fw": 7,                              // optional, as signed
 *   "obs": [{ "code": "2708-6", "display": "Oxygen saturation", "v": 89, "u": "%" }],
 *   "alerts": [{ "index": 0, "code": "2708-6", "display": "Oxygen saturation", "value": 89,
 *                "unit": "%", "direction": "low", "threshold": { "value": 91, "inclusive": true },
 *                "source": "NEWS2" }],    // optional: single-parameter red bands crossed
 *   "late": true,                         // optional: store-and-forward backlog
 *   "gap": 2,                             // optional: seqs missing just before this one
 *   "leafIndex": 41, "leafHash": "<64 hex>",  // RFC 9162 leaf of the COSE bytes
 *   "kid": "<32 hex>",                    // the signer's kid
 *   "cose": "<base64>" }                  // the COSE_Sign1 exactly as the device sent it
 * ```
 *
 * One value has one spelling: optional fields are absent rather than false, 0 or empty; hex is
 * lowercase; base64 is padded and canonical; `time` must be `t` in ISO form.
 */
import { equalBytes, fromHex, toBase64, toHex } from './bytes.js';
import { decodeCbor } from './cbor.js';
import { chainAad, decodeCoseSign1, verifyCoseSign1 } from './cose.js';
import type { Fields } from './decode/fields.js';
import { base64Bytes, hexHash, jsonFields } from './decode/json-object.js';
import {
  LOINC_PATTERN,
  MAX_TIME_MS,
  READING_CBOR_LIMITS,
  READING_LIMITS,
  UCUM_PATTERN,
} from './decode/limits.js';
import { decodeReading, type Reading } from './decode/reading.js';
import type { Ed25519Backend } from './ed25519/types.js';
import { MedgateError, ProtocolErrorCode } from './errors.js';
import { DEVICE_ID_PATTERN } from './ids.js';
import { KID_LENGTH } from './kid.js';
import { leafHash } from './merkle/index.js';
import { CHAIN_ID_RULE } from './tx/envelope.js';
import type { Alert, AlertSource } from './vitals.js';

export const VERIFIED_READING_VERSION = 1;

/**
 * Largest COSE_Sign1 of a reading: the payload is at most READING_CBOR_LIMITS.maxBytes (1 KiB)
 * and the envelope adds about 100 bytes.
 */
export const MAX_READING_COSE_BYTES = 2048;

/** Longest verified reading JSON text accepted by `parseVerifiedReading`. */
export const MAX_VERIFIED_READING_CHARS = 16 * 1024;

const MAX_DISPLAY_LENGTH = 128;
/** Each observation crosses at most one band (low or high). */
const MAX_ALERTS = READING_LIMITS.maxObservations;
const KID_HEX = /^[0-9a-f]{32}$/;
const DIRECTIONS = Object.freeze(['low', 'high'] as const);
const SOURCES: readonly AlertSource[] = Object.freeze(['NEWS2', 'ADA']);

export const VERIFIED_READING_KEYS = Object.freeze([
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
] as const);
const OBSERVATION_KEYS = Object.freeze(['code', 'display', 'v', 'u'] as const);
const ALERT_KEYS = Object.freeze([
  'index',
  'code',
  'display',
  'value',
  'unit',
  'direction',
  'threshold',
  'source',
] as const);
const THRESHOLD_KEYS = Object.freeze(['value', 'inclusive'] as const);

export interface VerifiedObservation {
  readonly code: string;
  /** Display name from the vital-sign catalogue (vitals.ts). */
  readonly display: string;
  readonly v: number;
  readonly u: string;
}

/** A verified reading with its byte fields decoded. */
export interface VerifiedReading {
  readonly chain: string;
  readonly dev: string;
  readonly seq: number;
  readonly t: number;
  readonly received: number;
  readonly fw?: number;
  readonly obs: readonly VerifiedObservation[];
  /** Present only when at least one red band is crossed. */
  readonly alerts?: readonly Alert[];
  readonly late?: true;
  /** Number of seqs skipped right before this one (at least 1). */
  readonly gap?: number;
  readonly leafIndex: number;
  readonly leafHash: Uint8Array;
  readonly kid: Uint8Array;
  readonly cose: Uint8Array;
}

/** The JSON form, as published and served. */
export interface VerifiedReadingJson {
  readonly v: 1;
  readonly chain: string;
  readonly dev: string;
  readonly seq: number;
  readonly t: number;
  readonly time: string;
  readonly received: number;
  readonly fw?: number;
  readonly obs: readonly VerifiedObservation[];
  readonly alerts?: readonly Alert[];
  readonly late?: true;
  readonly gap?: number;
  readonly leafIndex: number;
  readonly leafHash: string;
  readonly kid: string;
  readonly cose: string;
}

function bad(field: string, message: string, got?: unknown): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_FIELD, `${field}: ${message}`, { field, got });
}

/** The JSON form of `r` (fields in a fixed order; optional fields only when set). */
export function encodeVerifiedReading(r: VerifiedReading): VerifiedReadingJson {
  return {
    v: VERIFIED_READING_VERSION,
    chain: r.chain,
    dev: r.dev,
    seq: r.seq,
    t: r.t,
    time: new Date(r.t).toISOString(),
    received: r.received,
    ...(r.fw === undefined ? {} : { fw: r.fw }),
    obs: r.obs.map((o) => ({ code: o.code, display: o.display, v: o.v, u: o.u })),
    ...(r.alerts === undefined || r.alerts.length === 0 ? {} : { alerts: r.alerts.map(alertJson) }),
    ...(r.late === true ? { late: true as const } : {}),
    ...(r.gap === undefined || r.gap < 1 ? {} : { gap: r.gap }),
    leafIndex: r.leafIndex,
    leafHash: toHex(r.leafHash),
    kid: toHex(r.kid),
    cose: toBase64(r.cose),
  };
}

/** An alert with its keys in the order the verified reading writes them. */
export function alertJson(a: Alert): Alert {
  return {
    index: a.index,
    code: a.code,
    display: a.display,
    value: a.value,
    unit: a.unit,
    direction: a.direction,
    threshold: { value: a.threshold.value, inclusive: a.threshold.inclusive },
    source: a.source,
  };
}

/** `encodeVerifiedReading` as JSON text (what goes on the wire). */
export function verifiedReadingText(r: VerifiedReading): string {
  return JSON.stringify(encodeVerifiedReading(r));
}

function decodeObservation(value: unknown, path: string): VerifiedObservation {
  const f = jsonFields(value, path, OBSERVATION_KEYS);
  return Object.freeze({
    code: f.text('code', { min: 1, max: READING_LIMITS.maxCodeLength, pattern: LOINC_PATTERN }),
    display: f.text('display', { min: 1, max: MAX_DISPLAY_LENGTH }),
    v: f.number('v'),
    u: f.text('u', { min: 1, max: READING_LIMITS.maxUnitLength, pattern: UCUM_PATTERN }),
  });
}

function oneOf<T extends string>(f: Fields, key: string, values: readonly T[]): T {
  const text = f.text(key, { min: 1, max: 16 });
  if (!(values as readonly string[]).includes(text))
    throw bad(f.at(key), `must be one of ${values.join(', ')}`);
  return text as T;
}

function decodeAlert(value: unknown, path: string, obs: readonly VerifiedObservation[]): Alert {
  const f = jsonFields(value, path, ALERT_KEYS);
  const index = f.uint('index', { max: obs.length - 1 });
  const code = f.text('code', { min: 1, max: READING_LIMITS.maxCodeLength });
  const display = f.text('display', { min: 1, max: MAX_DISPLAY_LENGTH });
  const alertValue = f.number('value');
  const unit = f.text('unit', { min: 1, max: READING_LIMITS.maxUnitLength });
  const direction = oneOf(f, 'direction', DIRECTIONS);
  const t = jsonFields(f.raw('threshold'), f.at('threshold'), THRESHOLD_KEYS);
  const threshold = Object.freeze({ value: t.number('value'), inclusive: t.bool('inclusive') });
  const source = oneOf(f, 'source', SOURCES);
  // An alert restates its observation: it must name it exactly.
  const o = obs[index] as VerifiedObservation;
  if (o.code !== code || o.v !== alertValue || o.u !== unit) {
    throw bad(path, `does not match obs[${index}]`);
  }
  return Object.freeze({ index, code, display, value: alertValue, unit, direction, threshold, source });
}

/**
 * Strict decoding of a verified reading's parsed JSON (untrusted). Refuses with
 * MG_ERR_BAD_FIELD / MG_ERR_MISSING_FIELD / MG_ERR_UNKNOWN_FIELD naming the field. It checks
 * the form only; `verifyVerifiedReading` checks the content against the signed bytes.
 */
export function decodeVerifiedReading(value: unknown): VerifiedReading {
  const f = jsonFields(value, '', VERIFIED_READING_KEYS);
  f.uint('v', { min: VERIFIED_READING_VERSION, max: VERIFIED_READING_VERSION });
  const chain = f.text('chain', CHAIN_ID_RULE);
  const dev = f.text('dev', { min: 1, max: 64, pattern: DEVICE_ID_PATTERN });
  const seq = f.uint('seq', { max: READING_LIMITS.maxSeq });
  const t = f.uint('t', { max: MAX_TIME_MS });
  const time = f.text('time', { min: 24, max: 24 });
  if (time !== new Date(t).toISOString()) throw bad('time', 'must be t as an ISO 8601 UTC time');
  const received = f.uint('received', { max: MAX_TIME_MS });
  const fw = f.optional('fw', (g, key) => g.uint(key, { max: READING_LIMITS.maxFw }));
  const obs = f.list(
    'obs',
    { min: READING_LIMITS.minObservations, max: READING_LIMITS.maxObservations },
    decodeObservation,
  );
  const alerts = f.optional('alerts', (g, key) =>
    g.list(key, { min: 1, max: MAX_ALERTS }, (item, path) => decodeAlert(item, path, obs)),
  );
  const late = f.optional('late', (g, key) => {
    if (g.bool(key) !== true) throw bad(key, 'must be true when present');
    return true as const;
  });
  const gap = f.optional('gap', (g, key) => g.uint(key, { min: 1 }));
  const leafIndex = f.uint('leafIndex');
  const leaf = hexHash(f, 'leafHash');
  const kidText = f.text('kid', { min: 2 * KID_LENGTH, max: 2 * KID_LENGTH });
  if (!KID_HEX.test(kidText)) throw bad('kid', `must be ${2 * KID_LENGTH} lowercase hex digits`);
  const kid = fromHex(kidText, 'kid');
  const cose = base64Bytes(f, 'cose', MAX_READING_COSE_BYTES);
  return Object.freeze({
    chain,
    dev,
    seq,
    t,
    received,
    ...(fw === undefined ? {} : { fw }),
    obs,
    ...(alerts === undefined ? {} : { alerts }),
    ...(late === undefined ? {} : { late }),
    ...(gap === undefined ? {} : { gap }),
    leafIndex,
    leafHash: leaf,
    kid,
    cose,
  });
}

/**
 * Parses verified reading JSON text (an MQTT payload, an HTTP body) and decodes it strictly.
 * JSON.parse makes `__proto__` an own key, which the closed field list then refuses, so
 * nothing reaches a prototype. MG_ERR_BAD_FIELD for text that is too long or not JSON.
 */
export function parseVerifiedReading(text: string | Uint8Array): VerifiedReading {
  const s = typeof text === 'string' ? text : new TextDecoder('utf-8', { fatal: true }).decode(text);
  if (s.length > MAX_VERIFIED_READING_CHARS) {
    throw bad('(root)', `must be at most ${MAX_VERIFIED_READING_CHARS} characters`, s.length);
  }
  let value: unknown;
  try {
    value = JSON.parse(s);
  } catch {
    throw bad('(root)', 'is not JSON');
  }
  return decodeVerifiedReading(value);
}

function mismatch(field: string): MedgateError {
  return new MedgateError(
    ProtocolErrorCode.VERIFIED_MISMATCH,
    `${field}: differs from the signed COSE_Sign1 of the reading`,
    { field },
  );
}

/**
 * Checks a verified reading without trusting whoever served it: the COSE bytes verify under
 * `publicKey` (the device's key from the ledger) with the chain id as external_aad, the kid
 * and leaf hash are those of the bytes, and every field that restates the signed reading
 * (dev, seq, t, fw, each observation's code, value and unit) equals it. Returns the signed
 * reading. Throws the COSE codes, MG_ERR_BAD_SIGNATURE, MG_ERR_COSE_KID_MISMATCH, the reading
 * decoder's codes, or MG_ERR_VERIFIED_MISMATCH naming the field.
 */
export function verifyVerifiedReading(
  r: VerifiedReading,
  publicKey: Uint8Array,
  backend: Ed25519Backend,
): Reading {
  const msg = decodeCoseSign1(r.cose, MAX_READING_COSE_BYTES);
  verifyCoseSign1(msg, publicKey, chainAad(r.chain), backend);
  if (!equalBytes(msg.kid, r.kid)) throw mismatch('kid');
  if (!equalBytes(leafHash(r.cose), r.leafHash)) throw mismatch('leafHash');
  const signed = decodeReading(decodeCbor(msg.payload, READING_CBOR_LIMITS));
  if (signed.dev !== r.dev) throw mismatch('dev');
  if (signed.seq !== r.seq) throw mismatch('seq');
  if (signed.t !== r.t) throw mismatch('t');
  if (signed.fw !== r.fw) throw mismatch('fw');
  if (signed.obs.length !== r.obs.length) throw mismatch('obs');
  for (let i = 0; i < signed.obs.length; i++) {
    const a = signed.obs[i]!;
    const b = r.obs[i]!;
    if (a.code !== b.code || a.v !== b.v || a.u !== b.u) throw mismatch(`obs[${i}]`);
  }
  return signed;
}
