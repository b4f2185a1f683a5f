/**
 * Reading, the payload of a telemetry COSE_Sign1 (DESIGN §3):
 * `{"dev": tstr, "seq": uint, "t": uint ms, "obs": [{"code", "v", "u"}, ...], ? "fw": uint}`.
 * This checks structure and bounds only; codes, units and plausibility are checked by
 * `checkObservation` (vitals.ts), signatures by the caller with the COSE module.
 */
import { decodeCbor, encodeCbor } from '../cbor.js';
import { DEVICE_ID_PATTERN } from '../ids.js';
import { checkForEncoding, Fields, mapOf } from './fields.js';
import {
  ID_MAX_LENGTH,
  LOINC_PATTERN,
  MAX_TIME_MS,
  READING_CBOR_LIMITS,
  READING_LIMITS,
  UCUM_PATTERN,
} from './limits.js';
import { decodeReadingFast } from './reading-fast.js';

export interface Observation {
  /** LOINC code, for example `8867-4` (heart rate). */
  readonly code: string;
  /** The value, in `u`; any finite number (integers and floats). */
  readonly v: number;
  /** UCUM unit, for example `/min`. */
  readonly u: string;
}

export interface Reading {
  /** Device id of the signer. */
  readonly dev: string;
  /** Rises strictly per device (DESIGN §3: duplicates and replays are told apart by it). */
  readonly seq: number;
  /** Device clock, ms since the Unix epoch. */
  readonly t: number;
  /** 1 to 16 observations. */
  readonly obs: readonly Observation[];
  /** Firmware sequence number installed when the reading was made. */
  readonly fw?: number;
}

const READING_KEYS = Object.freeze(['dev', 'seq', 't', 'obs', 'fw']);
const OBSERVATION_KEYS = Object.freeze(['code', 'v', 'u']);

function decodeObservation(value: unknown, path: string): Observation {
  const f = Fields.of(value, path, OBSERVATION_KEYS);
  const code = f.text('code', { min: 1, max: READING_LIMITS.maxCodeLength, pattern: LOINC_PATTERN });
  const v = f.number('v');
  const u = f.text('u', { min: 1, max: READING_LIMITS.maxUnitLength, pattern: UCUM_PATTERN });
  return Object.freeze({ code, v, u });
}

/** The typed, frozen reading in `value` (a decoded CBOR map), or a coded error naming the field. */
export function decodeReading(value: unknown): Reading {
  const f = Fields.of(value, '', READING_KEYS);
  const dev = f.text('dev', { min: 1, max: ID_MAX_LENGTH, pattern: DEVICE_ID_PATTERN });
  const seq = f.uint('seq', { max: READING_LIMITS.maxSeq });
  const t = f.uint('t', { max: MAX_TIME_MS });
  const obs = f.list(
    'obs',
    { min: READING_LIMITS.minObservations, max: READING_LIMITS.maxObservations },
    decodeObservation,
  );
  const fw = f.optional('fw', (g, key) => g.uint(key, { max: READING_LIMITS.maxFw }));
  return Object.freeze(fw === undefined ? { dev, seq, t, obs } : { dev, seq, t, obs, fw });
}

/**
 * The reading in a telemetry COSE payload: `decodeReading(decodeCbor(payload,
 * READING_CBOR_LIMITS))`, with the deterministic form a device library writes read in one pass
 * first (reading-fast.ts; same result, checked in test/gateway/pipeline-fast-paths.test.ts).
 */
export function decodeReadingPayload(payload: Uint8Array): Reading {
  return decodeReadingFast(payload) ?? decodeReading(decodeCbor(payload, READING_CBOR_LIMITS));
}

/**
 * Deterministic bytes of `reading` (RFC 8949 §4.2.1), for the device's signer. Refuses with
 * MG_ERR_BAD_ARGUMENT, naming the field, anything `decodeReading` would refuse.
 */
export function encodeReading(reading: Reading): Uint8Array {
  const map = mapOf(reading, READING_KEYS);
  // Only a Map made here by mapOf is rewritten, never one the caller passed in.
  if (map !== reading && map instanceof Map && Array.isArray(map.get('obs'))) {
    const obs = map.get('obs') as unknown[];
    const items: unknown[] = [];
    for (let i = 0; i < obs.length; i++) items.push(mapOf(obs[i], OBSERVATION_KEYS));
    map.set('obs', items);
  }
  checkForEncoding(map, decodeReading);
  return encodeCbor(map);
}
