/**
 * Brings the reading store up to the reading log at start. A reading is acknowledged once its
 * leaf is durable; storing it and publishing its verified JSON come after, so a crash in
 * between leaves logged readings the store lacks (and their devices' heads behind). The store's
 * mark says where to look: every leaf from the mark to the log's size that is not stored is
 * rebuilt from the reading bytes the log keeps (verified when they were accepted, and
 * hash-bound to their leaf), then published to clinicians unless the store is being rebuilt
 * from nothing. Leaves whose bytes were pruned are skipped.
 *
 * Rebuilt readings get `received` = now, and `late` when that is past the skew window: the
 * gateway did not record when it accepted them, and clinicians did get them late.
 */
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { decodeCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { READING_CBOR_LIMITS } from '../../firmware-ts/protocol/decode/limits.js';
import { decodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { MAX_READING_COSE_BYTES, verifiedReadingText } from '../../firmware-ts/protocol/verified-reading.js';
import type { ReadingLog } from '../ledger/reading-log.js';
import type { ReadingStore } from './reading-store.js';
import { buildVerifiedReading } from './verified.js';

/** Leaves checked per round. */
const CHUNK = 512;

export interface RecoveryDeps {
  readonly chain: string;
  readonly log: Pick<ReadingLog, 'size' | 'prunedBefore' | 'leaf'>;
  readonly store: ReadingStore;
  readonly publish?: (
    topic: string,
    payload: string,
    opts: { qos: 0 | 1 | 2; retain: boolean },
  ) => Promise<void>;
  readonly now: () => number;
  readonly skewMs: number;
  /** A leaf that could not be read back as a reading, or whose publication failed. */
  readonly onError?: (leafIndex: number, error: unknown) => void;
}

export interface RecoveryResult {
  /** Leaf range examined. */
  readonly from: number;
  readonly to: number;
  readonly recovered: number;
}

export async function recoverReadings(deps: RecoveryDeps): Promise<RecoveryResult> {
  const { log, store } = deps;
  const from = store.mark;
  const to = log.size;
  const announce = !store.fresh && deps.publish !== undefined;
  const lastSeq = new Map<string, number>();
  let recovered = 0;
  for (let start = from; start < to; start += CHUNK) {
    const end = Math.min(to, start + CHUNK);
    const puts: Promise<void>[] = [];
    for (const index of await store.missing(start, end)) {
      if (index < log.prunedBefore) continue;
      const { leafHash, leafData } = await log.leaf(index);
      if (leafData === undefined) continue;
      try {
        const msg = decodeCoseSign1(leafData, MAX_READING_COSE_BYTES);
        const reading = decodeReading(decodeCbor(msg.payload, READING_CBOR_LIMITS));
        const last = lastSeq.get(reading.dev) ?? (await store.head(reading.dev))?.seq ?? -1;
        if (reading.seq > last) lastSeq.set(reading.dev, reading.seq);
        const received = deps.now();
        const late = received - reading.t > deps.skewMs;
        const gap = last >= 0 && reading.seq > last + 1 ? reading.seq - last - 1 : undefined;
        puts.push(
          store.put({
            deviceId: reading.dev,
            seq: reading.seq,
            leafIndex: index,
            leafHash,
            received,
            late,
            gap,
          }),
        );
        if (announce) {
          const leaf = { index, leafHash };
          const verified = buildVerifiedReading({
            chain: deps.chain,
            msg,
            reading,
            leaf,
            received,
            late,
            gap,
          });
          const json = verifiedReadingText(verified);
          deps.publish!(verifiedTopic(reading.dev), json, { qos: 1, retain: false }).catch((err: unknown) =>
            deps.onError?.(index, err),
          );
        }
        recovered++;
      } catch (err) {
        // Not a reading this gateway can read back (another writer's leaf): leave it to proofs.
        deps.onError?.(index, err);
      }
    }
    await Promise.all(puts);
    store.advanceMark(end);
  }
  await store.flush();
  return { from, to, recovered };
}
