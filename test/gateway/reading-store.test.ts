/**
 * gateway/telemetry/reading-store.ts: history in seq order with paging, device heads that
 * only rise and survive pruning, the recovery mark, pruning by age that leaves every receipt
 * valid, what was decided at acceptance, a format 1 store emptied for a rebuild, and the
 * refusals of a store that is locked, of another format, or damaged.
 */
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, describe, expect, it } from 'vitest';
import { utf8 } from '../../firmware-ts/protocol/bytes.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { encodeReceipt, verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import {
  READINGS_SUBDIR,
  ReadingStore,
  type StoredReadingInput,
} from '../../gateway/telemetry/reading-store.js';
import {
  AUTHORITY,
  genesisDir,
  openTestLedger,
  removeTempDirs,
  signedReading,
  TestClock,
  tempDir,
} from '../ledger/ledger-harness.js';

afterAll(removeTempDirs);

const T = 1_700_000_000_000;

function record(deviceId: string, seq: number, leafIndex: number, received = T): StoredReadingInput {
  const hash = new Uint8Array(32).fill(leafIndex & 0xff);
  return { deviceId, seq, leafIndex, leafHash: hash, received, late: false };
}

describe('ReadingStore history', () => {
  it('pages a device in seq order, both ways, without mixing devices whose ids share a prefix', async () => {
    const store = await ReadingStore.open(await tempDir());
    const puts: Promise<void>[] = [];
    let index = 0;
    for (let seq = 0; seq < 25; seq++) puts.push(store.put(record('dev-1', seq, index++)));
    for (let seq = 0; seq < 5; seq++) puts.push(store.put(record('dev-10', seq, index++)));
    puts.push(store.put(record('dev-0', 99, index++)));
    await Promise.all(puts);
    const seqs = async (page: Parameters<ReadingStore['history']>[1], dev = 'dev-1') =>
      (await store.history(dev, page)).map((r) => r.seq);
    expect(await seqs({ limit: 10 })).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await seqs({ afterSeq: 9, limit: 10 })).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(await seqs({ afterSeq: 19, limit: 10 })).toEqual([20, 21, 22, 23, 24]);
    expect(await seqs({ afterSeq: 24, limit: 10 })).toEqual([]);
    expect(await seqs({ limit: 3, reverse: true })).toEqual([24, 23, 22]);
    expect(await seqs({ beforeSeq: 22, limit: 3, reverse: true })).toEqual([21, 20, 19]);
    expect(await seqs({ afterSeq: 2, beforeSeq: 5, limit: 10 })).toEqual([3, 4]);
    expect(await seqs({ limit: 100 }, 'dev-10')).toEqual([0, 1, 2, 3, 4]);
    expect(await seqs({ limit: 100 }, 'dev-2')).toEqual([]);
    expect(await store.get('dev-10', 4)).toEqual({
      dev: 'dev-10',
      seq: 4,
      leafIndex: 29,
      received: T,
      late: false,
    });
    expect(await store.get('dev-10', 5)).toBeUndefined();
    await expect(store.history('dev-1', { limit: 0 })).rejects.toMatchObject({ code: 'MG_ERR_BAD_ARGUMENT' });
    await expect(store.history('dev-1', { limit: 1001 })).rejects.toMatchObject({
      code: 'MG_ERR_BAD_ARGUMENT',
    });
    await expect(store.history('dev-1', { afterSeq: -2, limit: 1 })).rejects.toMatchObject({
      code: 'MG_ERR_BAD_ARGUMENT',
    });
    await expect(store.history('../x', { limit: 1 })).rejects.toMatchObject({ code: 'MG_ERR_BAD_DEVICE_ID' });
    await expect(store.put(record('enrol', 1, 99))).rejects.toMatchObject({ code: 'MG_ERR_BAD_DEVICE_ID' });
    await store.close();
  });

  it('keeps what was decided at acceptance: receive time, late, gap', async () => {
    const store = await ReadingStore.open(await tempDir());
    await store.put({ ...record('d', 7, 3, T + 5), late: true, gap: 2 });
    await store.put({ ...record('d', 8, 4), gap: undefined });
    expect(await store.history('d', { limit: 10 })).toEqual([
      { dev: 'd', seq: 7, leafIndex: 3, received: T + 5, late: true, gap: 2 },
      { dev: 'd', seq: 8, leafIndex: 4, received: T, late: false },
    ]);
    // A gap is 1 or more, a receive time a count of milliseconds: nothing else is stored.
    await expect(store.put({ ...record('d', 9, 5), gap: 0 })).rejects.toMatchObject({
      code: 'MG_ERR_BAD_ARGUMENT',
      field: 'gap',
    });
    await expect(store.put({ ...record('d', 9, 5), received: -1 })).rejects.toMatchObject({
      code: 'MG_ERR_BAD_ARGUMENT',
      field: 'received',
    });
    await store.close();
  });
});

describe('ReadingStore heads and mark', () => {
  it('keeps the highest seq per device, across a reopen', async () => {
    const dir = await tempDir();
    let store = await ReadingStore.open(dir);
    await Promise.all([store.put(record('d', 5, 0)), store.put(record('d', 3, 1))]);
    expect(await store.head('d')).toEqual({ seq: 5, leafIndex: 0, leafHash: new Uint8Array(32).fill(0) });
    await store.close();
    store = await ReadingStore.open(dir);
    // A lower seq stored after a restart (a redelivered reading whose write had failed) does not lower it.
    await store.put(record('d', 4, 2));
    expect((await store.head('d'))?.seq).toBe(5);
    await store.put(record('d', 6, 3));
    expect((await store.head('d'))?.seq).toBe(6);
    expect(await store.head('other')).toBeUndefined();
    await store.close();
  });

  it('moves the mark over contiguous stored leaves only, and keeps it across a reopen', async () => {
    const dir = await tempDir();
    let store = await ReadingStore.open(dir);
    expect(store.fresh).toBe(true);
    expect(store.mark).toBe(0);
    await Promise.all([store.put(record('d', 0, 0)), store.put(record('d', 2, 2))]);
    expect(store.mark).toBe(1);
    expect(await store.missing(0, 4)).toEqual([1, 3]);
    await store.put(record('d', 1, 1));
    expect(store.mark).toBe(3);
    store.advanceMark(5);
    await store.put(record('d', 5, 5));
    expect(store.mark).toBe(6);
    await store.close();
    store = await ReadingStore.open(dir);
    expect(store.fresh).toBe(false);
    expect(store.mark).toBe(6);
    await store.close();
  });
});

describe('ReadingStore.prune', () => {
  it('deletes readings by age, and their bytes in the log, while every receipt still verifies', async () => {
    const dir = await genesisDir();
    const clock = new TestClock();
    const ledger = await openTestLedger(dir, clock);
    const store = await ReadingStore.open(dir);
    const day = 24 * 60 * 60 * 1000;
    const readings = [];
    for (let seq = 1; seq <= 6; seq++) {
      const r = signedReading('dev-1', seq);
      const leaf = await ledger.appendReading(r);
      readings.push({ ...r, leaf });
      // Three readings received ten days ago, three today.
      const received = seq <= 3 ? T - 10 * day : T;
      await store.put({
        deviceId: 'dev-1',
        seq,
        leafIndex: leaf.index,
        leafHash: leaf.leafHash,
        received,
        late: false,
      });
    }
    await ledger.cutBlock();
    const result = await store.prune(T - day, ledger.log);
    expect(result).toEqual({ removed: 3, beforeIndex: 3 });
    expect(ledger.log.prunedBefore).toBe(3);
    expect(await store.get('dev-1', 3)).toBeUndefined();
    expect(await store.get('dev-1', 4)).toMatchObject({ seq: 4, leafIndex: 3, received: T });
    expect((await store.history('dev-1', { limit: 10 })).length).toBe(3);
    // Replay protection is kept: the head stays.
    expect((await store.head('dev-1'))?.seq).toBe(6);
    for (const r of readings) {
      const receipt = await ledger.receipt(r.leaf.index);
      expect(receipt.reading === undefined).toBe(r.leaf.index < 3);
      const verified = verifyReceipt(encodeReceipt(receipt), [AUTHORITY.pub], nobleBackend);
      expect(verified.leafHash).toEqual(leafHash(r.leafData));
    }
    // Nothing older is left: a second prune removes nothing.
    expect(await store.prune(T - day, ledger.log)).toEqual({ removed: 0, beforeIndex: 0 });
    await store.close();
    await ledger.close();
  });

  it('never prunes past the mark: a leaf not stored yet keeps its bytes for recovery', async () => {
    const store = await ReadingStore.open(await tempDir());
    await Promise.all([store.put(record('d', 0, 0, T - 10)), store.put(record('d', 2, 2, T - 10))]);
    expect(store.mark).toBe(1);
    const log = {
      prunedBefore: 0,
      pruned: [] as number[],
      async prune(n: number) {
        this.pruned.push(n);
      },
    };
    expect(await store.prune(T, log)).toEqual({ removed: 1, beforeIndex: 1 });
    expect(log.pruned).toEqual([1]);
    expect(await store.get('d', 2)).toBeDefined();
    await store.close();
  });
});

describe('ReadingStore refusals', () => {
  it('a second open is MG_ERR_DATA_DIR_LOCKED; another format MG_ERR_DATA_DIR_FORMAT; a bad head MG_ERR_READING_STORE_CORRUPT', async () => {
    const dir = await tempDir();
    const store = await ReadingStore.open(dir);
    await expect(ReadingStore.open(dir)).rejects.toMatchObject({ code: 'MG_ERR_DATA_DIR_LOCKED' });
    await store.close();

    const db = new Level<Uint8Array, Uint8Array>(join(dir, READINGS_SUBDIR), {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.put(Uint8Array.of(0x68, ...utf8('d')), Uint8Array.of(1, 2, 3));
    await db.close();
    const damaged = await ReadingStore.open(dir);
    await expect(damaged.head('d')).rejects.toMatchObject({ code: 'MG_ERR_READING_STORE_CORRUPT' });
    await damaged.close();

    const other = new Level<Uint8Array, Uint8Array>(join(dir, READINGS_SUBDIR), {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await other.put(Uint8Array.of(0x6d, ...utf8('format')), utf8('99'));
    await other.close();
    await expect(ReadingStore.open(dir)).rejects.toMatchObject({ code: 'MG_ERR_DATA_DIR_FORMAT' });
  });

  it('empties a format 1 store at open, for recovery to rebuild from the log', async () => {
    const dir = await tempDir();
    const v1 = new Level<Uint8Array, Uint8Array>(join(dir, READINGS_SUBDIR), {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    // A format 1 store: a mark, a head, and a reading kept as its JSON.
    await v1.put(Uint8Array.of(0x6d, ...utf8('format')), utf8('1'));
    await v1.put(Uint8Array.of(0x6d, ...utf8('mark')), new Uint8Array(8).fill(0, 0, 7).fill(9, 7));
    await v1.put(Uint8Array.of(0x68, ...utf8('d')), new Uint8Array(48));
    await v1.put(Uint8Array.of(0x72, 1, ...utf8('d'), 0, 0, 0, 0, 0, 0, 0, 1), utf8('{"dev":"d"}'));
    await v1.close();
    const store = await ReadingStore.open(dir);
    expect(store.fresh).toBe(true);
    expect(store.mark).toBe(0);
    expect(await store.head('d')).toBeUndefined();
    expect(await store.get('d', 1)).toBeUndefined();
    await store.put(record('d', 1, 0));
    await store.close();
    const reopened = await ReadingStore.open(dir);
    expect(reopened.fresh).toBe(false);
    expect(await reopened.get('d', 1)).toMatchObject({ seq: 1, leafIndex: 0 });
    await reopened.close();
  });

  it('a malformed reading entry is MG_ERR_READING_STORE_CORRUPT', async () => {
    const dir = await tempDir();
    const store = await ReadingStore.open(dir);
    await store.put(record('d', 1, 0));
    await store.close();
    const db = new Level<Uint8Array, Uint8Array>(join(dir, READINGS_SUBDIR), {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.put(Uint8Array.of(0x72, 1, ...utf8('d'), 0, 0, 0, 0, 0, 0, 0, 1), utf8('{"dev":"d"}'));
    await db.close();
    const damaged = await ReadingStore.open(dir);
    await expect(damaged.get('d', 1)).rejects.toMatchObject({ code: 'MG_ERR_READING_STORE_CORRUPT' });
    await expect(damaged.history('d', { limit: 5 })).rejects.toMatchObject({
      code: 'MG_ERR_READING_STORE_CORRUPT',
    });
    await damaged.close();
  });

  it('refuses puts after close', async () => {
    const store = await ReadingStore.open(await tempDir());
    await store.close();
    await expect(store.put(record('d', 1, 0))).rejects.toMatchObject({ code: 'MG_ERR_TELEMETRY_CLOSED' });
  });
});
