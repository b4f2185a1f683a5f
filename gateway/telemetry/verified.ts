/**
 * Builds the verified reading (firmware-ts/protocol/verified-reading.ts) of an accepted
 * reading: display names from the vital-sign catalogue, NEWS2/ADA red-band alerts, the leaf
 * it was logged as, and the original COSE bytes. Shared by the pipeline and recovery.
 */
import type { CoseSign1 } from '../../firmware-ts/protocol/cose.js';
import type { Reading } from '../../firmware-ts/protocol/decode/reading.js';
import type { VerifiedReading } from '../../firmware-ts/protocol/verified-reading.js';
import { news2Alerts, vitalSign } from '../../firmware-ts/protocol/vitals.js';
import type { LeafPosition } from '../ledger/sequencer.js';

export interface VerifiedInput {
  readonly chain: string;
  readonly msg: CoseSign1;
  readonly reading: Reading;
  readonly leaf: LeafPosition;
  /** Gateway clock at acceptance. */
  readonly received: number;
  readonly late: boolean;
  readonly gap?: number | undefined;
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
