/**
 * gateway/telemetry/verified-readings.ts: the reading store's entries joined with the bytes the
 * reading log keeps give the verified reading JSON the pipeline published (same text), which a
 * clinician re-verifies with the device's key; a reading pruned from the log is left out; an
 * entry that names another leaf is MG_ERR_READING_STORE_CORRUPT, never served.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { decodeReadingPayload } from '../../firmware-ts/protocol/decode/reading.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { decodeVerifiedReading, verifyVerifiedReading } from '../../firmware-ts/protocol/verified-reading.js';
import { ReadingStore } from '../../gateway/telemetry/reading-store.js';
import { verifiedReadingJson } from '../../gateway/telemetry/verified.js';
import { VerifiedReadings } from '../../gateway/telemetry/verified-readings.js';
import {
  CHAIN,
  genesisDir,
  keyFor,
  openTestLedger,
  removeTempDirs,
  signedReading,
  TestClock,
} from '../ledger/ledger-harness.js';

afterAll(removeTempDirs);

const T = 1_700_000_000_000;

async function setup() {
  const dir = await genesisDir();
  const ledger = await openTestLedger(dir, new TestClock());
  const store = await ReadingStore.open(dir);
  const readings = new VerifiedReadings({ chain: CHAIN, store, log: ledger.log });
  /** Logs reading `seq` of dev-1 and stores its entry; returns the text the pipeline would publish. */
  const accept = async (seq: number, extra: { late?: boolean; gap?: number } = {}) => {
    const input = signedReading('dev-1', seq);
    const leaf = await ledger.appendReading(input);
    const late = extra.late ?? false;
    const received = T + seq;
    await store.put({
      deviceId: 'dev-1',
      seq,
      leafIndex: leaf.index,
      leafHash: leaf.leafHash,
      received,
      late,
      gap: extra.gap,
    });
    const msg = decodeCoseSign1(input.leafData);
    return verifiedReadingJson({
      chain: CHAIN,
      msg,
      reading: decodeReadingPayload(msg.payload),
      leaf,
      received,
      late,
      gap: extra.gap,
    });
  };
  const close = async () => {
    await store.close();
    await ledger.close();
  };
  return { ledger, store, readings, accept, close };
}

describe('VerifiedReadings', () => {
  it('serves exactly the JSON the pipeline published, which verifies with the device key', async () => {
    const { readings, accept, close } = await setup();
    const published = [await accept(1), await accept(2, { late: true }), await accept(5, { gap: 2 })];
    const page = await readings.history('dev-1', { limit: 10 });
    expect(page.map((r) => JSON.stringify(r))).toEqual(published);
    expect(page.map((r) => [r.late, r.gap])).toEqual([
      [undefined, undefined],
      [true, undefined],
      [undefined, 2],
    ]);
    expect(JSON.stringify(await readings.get('dev-1', 2))).toBe(published[1]);
    expect(await readings.get('dev-1', 3)).toBeUndefined();
    const reversed = await readings.history('dev-1', { limit: 2, reverse: true });
    expect(reversed.map((r) => r.seq)).toEqual([5, 2]);
    const verified = verifyVerifiedReading(decodeVerifiedReading(page[2]), keyFor('dev-1').pub, nobleBackend);
    expect(verified.seq).toBe(5);
    await close();
  });

  it('leaves out a reading whose bytes the log pruned', async () => {
    const { ledger, readings, accept, close } = await setup();
    await accept(1);
    await accept(2);
    await ledger.cutBlock();
    // The log's bytes of leaf 0 go while the store still names it (prune's order is the other way).
    await ledger.log.prune(1);
    expect((await readings.history('dev-1', { limit: 10 })).map((r) => r.seq)).toEqual([2]);
    expect(await readings.get('dev-1', 1)).toBeUndefined();
    await close();
  });

  it('refuses to serve an entry that names another leaf: MG_ERR_READING_STORE_CORRUPT', async () => {
    const { ledger, store, readings, accept, close } = await setup();
    await accept(1);
    await accept(2);
    // dev-1 seq 3 pointing at the leaf of seq 1.
    const leaf = await ledger.log.leaf(0);
    await store.put({
      deviceId: 'dev-1',
      seq: 3,
      leafIndex: 0,
      leafHash: leaf.leafHash,
      received: T,
      late: false,
    });
    await expect(readings.get('dev-1', 3)).rejects.toMatchObject({ code: 'MG_ERR_READING_STORE_CORRUPT' });
    await expect(readings.history('dev-1', { limit: 10 })).rejects.toMatchObject({
      code: 'MG_ERR_READING_STORE_CORRUPT',
    });
    await close();
  });
});
