/**
 * Verified readings as the HTTP API serves them (DESIGN §3 JSON): the reading store's entry (leaf
 * index, receive time, `late`, `gap`) joined with the reading's bytes in the reading log, which
 * keeps them once. The bytes were verified when they were accepted and are bound to their leaf
 * hash; they are decoded again here, so an entry that names another reading, or bytes that no
 * longer decode, are reported as a corrupt store rather than served.
 *
 * A reading pruned between the store read and the log read is left out of the answer, as if
 * the store had already lost it (prune deletes the store entries before the log's bytes).
 */
import { decodeCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { decodeReadingPayload } from '../../firmware-ts/protocol/decode/reading.js';
import {
  MAX_READING_COSE_BYTES,
  type VerifiedReadingJson,
} from '../../firmware-ts/protocol/verified-reading.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { ReadingLog } from '../ledger/reading-log.js';
import type { HistoryPage, ReadingStore, StoredReading } from './reading-store.js';
import { verifiedReadingJson } from './verified.js';

export interface VerifiedReadingsDeps {
  /** Chain id the readings were signed for (COSE external_aad; DESIGN §3). */
  readonly chain: string;
  readonly store: Pick<ReadingStore, 'get' | 'history'>;
  readonly log: Pick<ReadingLog, 'leaf'>;
}

export class VerifiedReadings {
  readonly #deps: VerifiedReadingsDeps;

  constructor(deps: VerifiedReadingsDeps) {
    this.#deps = deps;
  }

  /** The verified reading of `dev` with `seq`, if stored and not pruned. */
  async get(dev: string, seq: number): Promise<VerifiedReadingJson | undefined> {
    const entry = await this.#deps.store.get(dev, seq);
    if (entry === undefined) return undefined;
    const [reading] = await this.#join([entry]);
    return reading;
  }

  /** A page of `dev`'s verified readings in seq order (ReadingStore.history's paging). */
  async history(dev: string, page: HistoryPage): Promise<VerifiedReadingJson[]> {
    return this.#join(await this.#deps.store.history(dev, page));
  }

  async #join(entries: readonly StoredReading[]): Promise<VerifiedReadingJson[]> {
    const { log, chain } = this.#deps;
    const leaves = await Promise.all(entries.map((e) => log.leaf(e.leafIndex)));
    const out: VerifiedReadingJson[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as StoredReading;
      const { leafHash, leafData } = leaves[i] as Awaited<(typeof leaves)[number]>;
      if (leafData === undefined) continue; // pruned meanwhile
      let verified: VerifiedReadingJson;
      try {
        const msg = decodeCoseSign1(leafData, MAX_READING_COSE_BYTES);
        const reading = decodeReadingPayload(msg.payload);
        if (reading.dev !== entry.dev || reading.seq !== entry.seq) throw new Error('names another reading');
        // The pipeline's own text writer, parsed: the same JSON as the live feed, for a quarter
        // less CPU than building it field by field (encodeVerifiedReading's generic hex and base64).
        verified = JSON.parse(
          verifiedReadingJson({
            chain,
            msg,
            reading,
            leaf: { index: entry.leafIndex, leafHash },
            received: entry.received,
            late: entry.late,
            gap: entry.gap,
          }),
        ) as VerifiedReadingJson;
      } catch (cause) {
        throw new MedgateError(
          GatewayErrorCode.READING_STORE_CORRUPT,
          `reading store: ${entry.dev} seq ${entry.seq} does not match leaf ${entry.leafIndex} of the log`,
          { cause },
        );
      }
      out.push(verified);
    }
    return out;
  }
}
