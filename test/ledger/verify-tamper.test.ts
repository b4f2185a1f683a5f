/**
 * `verify` finds every alteration of a stored ledger and names the first bad block: a byte
 * flipped in ANY stored block header, transaction, leaf hash, reading, Merkle node or state
 * snapshot (each key, at one or more positions: flip, verify, flip back; a leaf record in both
 * its hash and its reading part); and blocks that a dishonest authority signed correctly but
 * that break the chain's rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BlockHeader, type SignedBlock, signBlock, txRootOf } from '../../firmware-ts/protocol/block.js';
import { EMPTY_ROOT } from '../../firmware-ts/protocol/merkle/index.js';
import { BlockStore, blockKey, parseChainKey, TIP_KEY, txKey } from '../../gateway/ledger/blocks.js';
import { type DataDir, openDataDir } from '../../gateway/ledger/data-dir.js';
import { decodeU64, encodeU64, hashesInRecord, KeyPrefix } from '../../gateway/ledger/keys.js';
import { type VerifyReport, verifyStore } from '../../gateway/ledger/verify.js';
import {
  AUTHORITY,
  genesisDir,
  openTestLedger,
  removeTempDirs,
  signedReading,
  TestClock,
  TxFactory,
} from './ledger-harness.js';

afterAll(removeTempDirs);

/** Log size of each block's checkpoint, by height. */
const sizes: number[] = [];
let dataDir: DataDir;

beforeAll(async () => {
  const dir = await genesisDir();
  const clock = new TestClock();
  const ledger = await openTestLedger(dir, clock, { snapshotEvery: 2 });
  const f = new TxFactory();
  let seq = 0;
  // Blocks with and without transactions and leaves, a block whose log did not grow.
  const plan: [txs: number, leaves: number][] = [
    [2, 5],
    [0, 6],
    [1, 0],
    [3, 11],
    [0, 1],
    [2, 9],
  ];
  for (const [txs, leaves] of plan) {
    clock.advance();
    const pending = Array.from({ length: txs }, () => ledger.submitTx(f.enrol(`dev-${seq++}`, clock.t)));
    await Promise.all(
      Array.from({ length: leaves }, () => ledger.appendReading(signedReading('dev-r', seq++))),
    );
    await ledger.cutBlock();
    await Promise.all(pending);
  }
  await ledger.close();
  dataDir = await openDataDir(dir, { create: true });
  const store = new BlockStore(dataDir.db);
  const tip = (await store.tipHeight())!;
  for (let h = 0; h <= tip; h++) sizes.push((await store.block(h)).header.log.size);
  expect(sizes).toEqual([0, 5, 11, 11, 22, 23, 32]);
});

afterAll(async () => {
  await dataDir?.close();
});

async function verify(): Promise<VerifyReport> {
  return verifyStore(dataDir.db);
}

/** The first block whose checkpoint has at least `size` leaves. */
function firstCovering(size: number): number {
  return sizes.findIndex((s) => s >= size);
}

/** Which block must be named when the value under `key` is altered. */
function expectedHeight(key: Uint8Array): number {
  const prefix = key[0];
  if (prefix === KeyPrefix.block || prefix === KeyPrefix.tx || prefix === KeyPrefix.state) {
    return parseChainKey(key)!.height;
  }
  // n ‖ 0 ‖ i: the record of leaf i, with every node that leaf completes (keys.ts).
  return firstCovering(decodeU64(key.subarray(2))! + 1);
}

describe('verify', () => {
  it('passes on the untouched ledger', async () => {
    const report = await verify();
    expect(report).toMatchObject({ ok: true, blocks: 7, txs: 8, leaves: 32, readings: 32 });
    // 32 leaves: 16 + 8 + 4 + 2 + 1 = 31 nodes above the leaves.
    expect(report.nodes).toBe(31);
  });

  /** Positions to flip in the value of the k-th key of a keyspace; undefined skips the key. */
  type Positions = (key: Uint8Array, value: Uint8Array, k: number) => number[] | undefined;
  /** One position in [from, to) that moves along with k. */
  const along = (k: number, from: number, to: number) => from + ((k * 7919) % (to - from));
  // Headers, transactions and snapshots (few keys): every key at its first, middle and last
  // byte and one more. Leaf records (n ‖ 0 ‖ i: leaf hash ‖ the nodes leaf i completes ‖
  // reading) in each part: the leaf hash and the reading of every record, every stored node,
  // each at one position that moves along.
  const everywhere: Positions = (_key, value, k) => [
    ...new Set([0, value.length >> 1, value.length - 1, (k * 7919) % value.length]),
  ];
  const hashesOf = (key: Uint8Array) => 32 * hashesInRecord(decodeU64(key.subarray(2))!);
  const KEYSPACES: [string, number, number, Positions][] = [
    ['headers', KeyPrefix.block, 7, everywhere],
    ['transactions and the genesis config', KeyPrefix.tx, 9, everywhere],
    ['state snapshots', KeyPrefix.state, 4, everywhere],
    [
      'leaf hashes (leaf records, first 32 bytes)',
      KeyPrefix.node,
      32,
      (_key, _value, k) => [along(k, 0, 32)],
    ],
    // 16 records (the odd leaves) hold the 32 - 1 = 31 nodes above the leaves.
    [
      'Merkle nodes (leaf records, after the leaf hash)',
      KeyPrefix.node,
      16,
      (key, _value, k) => {
        const end = hashesOf(key);
        if (end === 32) return undefined;
        return Array.from({ length: end / 32 - 1 }, (_, j) => along(k + j, 32 * (j + 1), 32 * (j + 2)));
      },
    ],
    [
      'readings (leaf records, after the hashes)',
      KeyPrefix.node,
      32,
      (key, value, k) => [along(k, hashesOf(key), value.length)],
    ],
  ];

  it.each(KEYSPACES)(
    'finds a byte flipped anywhere in the stored %s',
    async (_name, prefix, count, positionsOf) => {
      const db = dataDir.db;
      const entries = await db.iterator({ gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) }).all();
      // 7 headers, 8 txs + the genesis config, 4 snapshots, 32 leaf records, 31 nodes.
      let tampered = 0;
      for (let k = 0; k < entries.length; k++) {
        const [key, value] = entries[k]!;
        const positions = positionsOf(key, value, k);
        if (positions === undefined) continue;
        tampered++;
        for (const at of positions) {
          const bad = new Uint8Array(value); // a copy: a Buffer's slice() would be a view
          bad[at]! ^= 0x01;
          await db.put(key, bad);
          const report = await verify();
          await db.put(key, value);
          const what = `${String.fromCharCode(key[0]!)} ${Buffer.from(key.subarray(1)).toString('hex')} byte ${at}`;
          expect(report.ok, what).toBe(false);
          expect(report.failure?.height, `${what}: ${report.failure?.message}`).toBe(expectedHeight(key));
          expect(report.failure?.code, what).toMatch(/^MG_ERR_CHAIN_/);
        }
      }
      expect(tampered).toBe(count);
      expect((await verify()).ok).toBe(true);
    },
  );
});

describe('verify against a dishonest authority', () => {
  /** Appends signed blocks after the tip, runs verify, removes them again. */
  async function withExtraBlocks(
    build: (
      tip: SignedBlock,
      txsOf: (h: number) => Promise<Uint8Array[]>,
    ) => Promise<{ header: BlockHeader; txs: Uint8Array[] }[]>,
  ): Promise<VerifyReport> {
    const store = new BlockStore(dataDir.db);
    const tipHeight = (await store.tipHeight())!;
    let prev = await store.block(tipHeight);
    const extra = await build(prev, (h) => store.txs(h));
    for (const { header, txs } of extra) {
      const block = signBlock({ ...header, prev: header.prev ?? prev.hash }, AUTHORITY.signer);
      await store.write({ block, txs });
      prev = block;
    }
    try {
      return await verify();
    } finally {
      for (const { header, txs } of extra) {
        await dataDir.db.del(blockKey(header.height));
        for (let i = 0; i < txs.length; i++) await dataDir.db.del(txKey(header.height, i));
      }
      await dataDir.db.put(TIP_KEY, encodeU64(tipHeight));
    }
  }

  function next(tip: SignedBlock, over: Partial<BlockHeader> = {}): BlockHeader {
    return {
      ...tip.header,
      height: tip.header.height + 1,
      prev: tip.hash,
      txRoot: EMPTY_ROOT,
      txCount: 0,
      ...over,
    };
  }

  it('names a block whose transaction the state machine refuses (a replayed transaction)', async () => {
    const report = await withExtraBlocks(async (tip, txsOf) => {
      const [replayed] = await txsOf(1);
      return [{ header: next(tip, { txRoot: txRootOf([replayed!]), txCount: 1 }), txs: [replayed!] }];
    });
    expect(report.failure).toMatchObject({
      height: 7,
      code: 'MG_ERR_CHAIN_TX_REFUSED',
      causeCode: 'MG_ERR_TX_NONCE_STALE',
    });
  });

  it('names a block earlier than its predecessor, one with a wrong prev, one whose log shrank', async () => {
    expect(
      (await withExtraBlocks(async (tip) => [{ header: next(tip, { t: tip.header.t - 1 }), txs: [] }]))
        .failure,
    ).toMatchObject({ height: 7, code: 'MG_ERR_CHAIN_TIME' });
    expect(
      (
        await withExtraBlocks(async (tip) => [
          { header: next(tip, { prev: new Uint8Array(32).fill(9) }), txs: [] },
        ])
      ).failure,
    ).toMatchObject({ height: 7, code: 'MG_ERR_CHAIN_BROKEN_LINK' });
    expect(
      (
        await withExtraBlocks(async (tip) => [
          { header: next(tip, { log: { size: 22, root: tip.header.log.root } }), txs: [] },
        ])
      ).failure,
    ).toMatchObject({ height: 7, code: 'MG_ERR_CHAIN_CHECKPOINT' });
    // The first bad block is named even when later ones are bad too.
    const two = await withExtraBlocks(async (tip) => [
      { header: next(tip, { t: tip.header.t - 1 }), txs: [] },
      { header: { ...next(tip), height: 8, prev: new Uint8Array(32) }, txs: [] },
    ]);
    expect(two.failure).toMatchObject({ height: 7, code: 'MG_ERR_CHAIN_TIME' });
  });

  it('names a missing block and a tip pointer that disagrees with the blocks', async () => {
    const db = dataDir.db;
    const saved = (await db.get(blockKey(3)))!;
    await db.del(blockKey(3));
    const missing = await verify();
    await db.put(blockKey(3), saved);
    expect(missing.failure).toMatchObject({ height: 3, code: 'MG_ERR_CHAIN_BAD_BLOCK' });

    await db.put(TIP_KEY, encodeU64(4));
    const behind = await verify();
    await db.put(TIP_KEY, encodeU64(6));
    expect(behind.failure).toMatchObject({ height: null, code: 'MG_ERR_CHAIN_TIP' });
    expect((await verify()).ok).toBe(true);
  });
});
