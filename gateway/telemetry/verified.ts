/**
 * Builds the verified reading (firmware-ts/protocol/verified-reading.ts) of an accepted
 * reading: display names from the vital-sign catalogue, NEWS2/ADA red-band alerts, the leaf
 * it was logged as, and the original COSE bytes. Shared by the pipeline and recovery.
 *
 * `verifiedReadingJson` writes the same text as `verifiedReadingText(buildVerifiedReading(…))`
 * (test/gateway/pipeline-verified.test.ts compares them) without the intermediate objects: it
 * runs once per accepted reading on the MQTT thread, where the generic path (object spreads,
 * JSON.stringify of the whole document, a character-by-character hex and base64) was the
 * largest cost after the signature (callgrind: about 45,000 of 494,000 instructions a reading
 * on the MQTT thread).
 */
import type { CoseSign1 } from '../../firmware-ts/protocol/cose.js';
import type { Observation, Reading } from '../../firmware-ts/protocol/decode/reading.js';
import {
  alertJson,
  VERIFIED_READING_VERSION,
  type VerifiedReading,
} from '../../firmware-ts/protocol/verified-reading.js';
import { type Alert, news2Alerts, vitalSign } from '../../firmware-ts/protocol/vitals.js';
import type { LeafPosition } from '../ledger/sequencer.js';
import { hexOf } from './hex.js';
import { isoTime } from './iso-time.js';

export interface VerifiedInput {
  readonly chain: string;
  readonly msg: CoseSign1;
  readonly reading: Reading;
  readonly leaf: LeafPosition;
  /** Gateway clock at acceptance. */
  readonly received: number;
  readonly late: boolean;
  readonly gap?: number | undefined;
  /** `msg.kid` in lowercase hex, when the caller has it already. */
  readonly kidHex?: string;
}

export function buildVerifiedReading(input: VerifiedInput): VerifiedReading {
  const { reading, msg, leaf } = input;
  const alerts = news2Alerts(reading.obs);
  return {
    chain: input.chain,
    dev: reading.dev,
    seq: reading.seq,
    t: reading.t,
    received: input.received,
    ...(reading.fw === undefined ? {} : { fw: reading.fw }),
    // Every code passed checkObservations, so the catalogue knows it; the code stands in otherwise.
    obs: reading.obs.map((o) => ({
      code: o.code,
      display: vitalSign(o.code)?.display ?? o.code,
      v: o.v,
      u: o.u,
    })),
    ...(alerts.length === 0 ? {} : { alerts }),
    ...(input.late ? { late: true as const } : {}),
    ...(input.gap === undefined || input.gap < 1 ? {} : { gap: input.gap }),
    leafIndex: leaf.index,
    leafHash: leaf.leafHash,
    kid: msg.kid,
    cose: msg.bytes,
  };
}

/** JSON string literals of short strings that repeat (codes, units, display names, chain ids). */
const QUOTED_LIMIT = 4096;
const quotedCache = new Map<string, string>();

function quoted(text: string): string {
  let q = quotedCache.get(text);
  if (q === undefined) {
    q = JSON.stringify(text);
    if (quotedCache.size >= QUOTED_LIMIT) quotedCache.clear();
    quotedCache.set(text, q);
  }
  return q;
}

/** `"code":…,"display":…,"u":…` parts of an observation, per (code, unit): `v` sits between them. */
function observationText(o: Observation): string {
  const display = vitalSign(o.code)?.display ?? o.code;
  return `{"code":${quoted(o.code)},"display":${quoted(display)},"v":${JSON.stringify(o.v)},"u":${quoted(o.u)}}`;
}

/** The alert as encodeVerifiedReading writes it (same keys, same order). */
function alertText(a: Alert): string {
  return JSON.stringify(alertJson(a));
}

/**
 * The verified reading JSON text of an accepted reading: exactly
 * `verifiedReadingText(buildVerifiedReading(input))`, written directly.
 */
export function verifiedReadingJson(input: VerifiedInput): string {
  const { reading, msg, leaf } = input;
  const obs = reading.obs;
  let obsText = '';
  for (let i = 0; i < obs.length; i++) {
    obsText += (i === 0 ? '' : ',') + observationText(obs[i] as Observation);
  }
  const alerts = news2Alerts(obs);
  let alertsText = '';
  if (alerts.length > 0) {
    alertsText = ',"alerts":[';
    for (let i = 0; i < alerts.length; i++)
      alertsText += (i === 0 ? '' : ',') + alertText(alerts[i] as Alert);
    alertsText += ']';
  }
  const cose = msg.bytes;
  // JSON.stringify of a finite number is its ToString; seq, t, received and indices are integers.
  return (
    `{"v":${VERIFIED_READING_VERSION},"chain":${quoted(input.chain)},"dev":${quoted(reading.dev)}` +
    `,"seq":${reading.seq},"t":${reading.t},"time":"${isoTime(reading.t)}"` +
    `,"received":${input.received}${reading.fw === undefined ? '' : `,"fw":${reading.fw}`}` +
    `,"obs":[${obsText}]${alertsText}${input.late ? ',"late":true' : ''}` +
    `${input.gap === undefined || input.gap < 1 ? '' : `,"gap":${input.gap}`}` +
    `,"leafIndex":${leaf.index},"leafHash":"${hexOf(leaf.leafHash)}","kid":"${input.kidHex ?? hexOf(msg.kid)}"` +
    `,"cose":"${Buffer.from(cose.buffer, cose.byteOffset, cose.byteLength).toString('base64')}"}`
  );
}
