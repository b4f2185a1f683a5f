import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../firmware-ts/protocol/bytes.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  CompactRange,
  EMPTY_ROOT,
  leafHash,
  MemoryTree,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../firmware-ts/protocol/merkle/index.js';
import { GatewayErrorCode, isMedgateError } from '../../gateway/errors.js';
import { type DataDir, openDataDir } from '../../gateway/ledger/data-dir.js';
import { Frontier, leafHashFast, nodeHashFast } from '../../gateway/ledger/frontier.js';
import { recordKey } from '../../gateway/ledger/keys.js';
import { NodeCache } from '../../gateway/ledger/node-cache.js';
import { type LeafInput, ReadingLog, type ReadingLogOptions } from '../../gateway/ledger/reading-log.js';

let base: string;
const open: DataDir[] = [];

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'medgate-log-'));
});
afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
  await rm(base, { recursive: true, force: true });
});

async function openLog(options: ReadingLogOptions = {}): Promise<{ dataDir: DataDir; log: ReadingLog }> {
  const dataDir = await openDataDir(base, { create: true });
  open.push(dataDir);
  return { dataDir, log: await ReadingLog.open(dataDir, options) };
}

async function reopen(dataDir: DataDir, log: ReadingLog, options: ReadingLogOptions = {}) {
  await log.close();
  await dataDir.close();
  open.splice(open.indexOf(dataDir), 1);
  return openLog(options);
}

/** A reading-like leaf: unique bytes per (device, seq). */
function input(deviceId: string, seq: number): LeafInput {
  return { leafData: utf8(`reading ${deviceId} ${seq}`), deviceId, seq };
}

/** Appends n leaves all at once (one or a few group commits) and mirrors them in a MemoryTree. */
async function appendN(log: ReadingLog, tree: MemoryTree, n: number, device = 'dev-1'): Promise<void> {
  const inputs = Array.from({ length: n }, (_, i) => input(device, tree.size + i));
  for (const x of inputs) tree.append(leafHash(x.leafData));
  await Promise.all(inputs.map((x) => log.append(x)));
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

describe('ReadingLog: appends and lookups', () => {
  it('assigns consecutive indices, hashes leaves per RFC 9162, and finds them again', async () => {
    const { log } = await openLog();
    expect(log.size).toBe(0);
    expect(await log.root()).toEqual(EMPTY_ROOT);
    for (let seq = 0; seq < 20; seq++) {
      const x = input('dev-a', seq);
      const pos = await log.append(x);
      expect(pos.index).toBe(seq);
      expect(pos.leafHash).toEqual(leafHash(x.leafData));
      expect(log.size).toBe(seq + 1);
    }
    const x7 = input('dev-a', 7);
    const leaf = await log.leaf(7);
    expect(leaf.leafHash).toEqual(leafHash(x7.leafData));
    expect(leaf.leafData).toEqual(x7.leafData);
    expect(await log.indexOf('dev-a', 7)).toBe(7);
    expect(await log.indexOf('dev-a', 20)).toBeUndefined();
    expect(await log.indexOf('dev-b', 7)).toBeUndefined();
    expect(await log.indexOfLeafHash(leafHash(x7.leafData))).toBe(7);
    expect(await log.indexOfLeafHash(new Uint8Array(32))).toBeUndefined();
  });

  it("takes the caller's leaf hash as it is, so the log and a reference tree agree when it is right", async () => {
    const { log } = await openLog();
    const tree = new MemoryTree();
    for (let seq = 0; seq < 5; seq++) {
      const x = input('dev-h', seq);
      const hash = leafHash(x.leafData);
      tree.append(hash);
      expect(await log.append({ ...x, leafHash: hash })).toEqual({ index: seq, leafHash: hash });
    }
    expect(await log.root()).toEqual(tree.root());
    // The log does not hash the bytes again: a wrong hash is what gets logged.
    const wrong = new Uint8Array(32).fill(7);
    expect((await log.append({ ...input('dev-h', 5), leafHash: wrong })).leafHash).toEqual(wrong);
    expect((await log.leaf(5)).leafHash).toEqual(wrong);
  });

  it('keeps device ids that prefix one another apart', async () => {
    const { log } = await openLog();
    await log.append(input('dev', 1));
    await log.append(input('dev1', 1));
    expect(await log.indexOf('dev', 1)).toBe(0);
    expect(await log.indexOf('dev1', 1)).toBe(1);
  });

  it('has the root of a reference tree at every size, and keeps it across a reopen', async () => {
    let { dataDir, log } = await openLog();
    const tree = new MemoryTree();
    // Groups of varied sizes so that batches end at many different tree shapes.
    for (const n of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]) await appendN(log, tree, n);
    expect(log.size).toBe(tree.size);
    for (let size = 0; size <= tree.size; size++) expect(await log.root(size)).toEqual(tree.root(size));
    expect(log.checkpoint()).toEqual({ size: tree.size, root: tree.root() });

    ({ dataDir, log } = await reopen(dataDir, log));
    expect(log.size).toBe(tree.size);
    expect(await log.root()).toEqual(tree.root());
    await appendN(log, tree, 77);
    expect(await log.root()).toEqual(tree.root());
    expect(await log.root(100)).toEqual(tree.root(100));
  });
});

describe('ReadingLog: proofs from the store', () => {
  it('gives verifying inclusion and consistency proofs for every index and size pair of a small tree', async () => {
    const { log } = await openLog();
    const tree = new MemoryTree();
    await appendN(log, tree, 40);
    const hashes = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => (await log.leaf(i)).leafHash),
    );
    for (let size = 1; size <= 40; size++) {
      const root = tree.root(size);
      for (let index = 0; index < size; index++) {
        const proof = await log.inclusionProof(index, size);
        expect(proof).toEqual(tree.inclusionProof(index, size));
        verifyInclusion(hashes[index] as Uint8Array, index, size, proof, root);
      }
      for (let size1 = 1; size1 <= size; size1++) {
        const proof = await log.consistencyProof(size1, size);
        verifyConsistency(size1, size, proof, tree.root(size1), root);
      }
    }
    // A proof for one leaf does not prove another.
    const wrong = await log.inclusionProof(3, 40);
    expect(() => verifyInclusion(hashes[4] as Uint8Array, 3, 40, wrong, tree.root())).toThrow();
  });

  it.each([
    ['every level but the leaves cached', {}],
    ['nothing cached', { cacheBytes: 0 }],
    ['levels dropped to fit 4 KiB', { cacheBytes: 4096 }],
    ['read back after a reopen', { reopen: true }],
  ])('gives verifying proofs at random positions of a 10,000-leaf log (%s)', async (_name, config) => {
    const { reopen: again, ...options } = config as ReadingLogOptions & { reopen?: boolean };
    let { dataDir, log } = await openLog(options);
    const tree = new MemoryTree();
    for (let i = 0; i < 10; i++) await appendN(log, tree, 1000, `dev-${i}`);
    if (again) ({ dataDir, log } = await reopen(dataDir, log, options));
    expect(log.size).toBe(10_000);
    const next = rng(42);
    for (let k = 0; k < 200; k++) {
      const size = 1 + next(10_000);
      const index = next(size);
      const proof = await log.inclusionProof(index, size);
      verifyInclusion((await log.leaf(index)).leafHash, index, size, proof, await log.root(size));
      expect(proof).toEqual(tree.inclusionProof(index, size));
      const size1 = 1 + next(size);
      const cproof = await log.consistencyProof(size1, size);
      verifyConsistency(size1, size, cproof, await log.root(size1), await log.root(size));
      expect(cproof).toEqual(tree.consistencyProof(size1, size));
    }
    for (const size of [1, 2, 4095, 4096, 4097, 9999, 10_000])
      expect(await log.root(size)).toEqual(tree.root(size));
  });

  it('refuses positions outside the log with the Merkle codes', async () => {
    const { log } = await openLog();
    const tree = new MemoryTree();
    await appendN(log, tree, 5);
    expect(await codeOf(log.inclusionProof(5, 5))).toBe(ProtocolErrorCode.MERKLE_BAD_INDEX);
    expect(await codeOf(log.inclusionProof(0, 6))).toBe(ProtocolErrorCode.MERKLE_BAD_SIZE);
    expect(await codeOf(log.inclusionProof(-1, 5))).toBe(ProtocolErrorCode.MERKLE_BAD_INDEX);
    expect(await codeOf(log.consistencyProof(1, 6))).toBe(ProtocolErrorCode.MERKLE_BAD_SIZE);
    expect(await codeOf(log.consistencyProof(4, 3))).toBe(ProtocolErrorCode.MERKLE_BAD_SIZE);
    expect(await codeOf(log.root(6))).toBe(ProtocolErrorCode.MERKLE_BAD_SIZE);
    expect(await codeOf(log.root(1.5))).toBe(ProtocolErrorCode.MERKLE_BAD_SIZE);
    expect(await codeOf(log.leaf(5))).toBe(ProtocolErrorCode.MERKLE_BAD_INDEX);
  });
});

describe('ReadingLog: duplicates and bad input', () => {
  it('refuses a (device, seq) already in the log, or twice in one batch, without using an index', async () => {
    const { log } = await openLog();
    await log.append(input('dev-a', 1));
    const other = { ...input('dev-a', 1), leafData: utf8('other bytes, same device and seq') };
    expect(await codeOf(log.append(other))).toBe(GatewayErrorCode.DUPLICATE_LEAF);

    // Same tick → same batch: the first wins, the second is refused.
    const [a, b] = await Promise.allSettled([
      log.append(input('dev-b', 5)),
      log.append({ ...input('dev-b', 5), leafData: utf8('again') }),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && isMedgateError(b.reason, GatewayErrorCode.DUPLICATE_LEAF)).toBe(true);
    expect(log.size).toBe(2);
    expect((await log.append(input('dev-b', 6))).index).toBe(2);
  });

  it('refuses a (device, seq) of a batch still being committed', async () => {
    // maxBatch 1: each append is its own batch, prepared while the one before is committed.
    const { log } = await openLog({ maxBatch: 1 });
    const results = await Promise.allSettled([
      log.append(input('dev-a', 1)),
      log.append({ ...input('dev-a', 1), leafData: utf8('copy 1') }),
      log.append(input('dev-a', 2)),
      log.append({ ...input('dev-a', 1), leafData: utf8('copy 2') }),
    ]);
    expect(
      results.map((r) => (r.status === 'fulfilled' ? r.value.index : (r.reason as { code: string }).code)),
    ).toEqual([0, GatewayErrorCode.DUPLICATE_LEAF, 1, GatewayErrorCode.DUPLICATE_LEAF]);
    expect(log.stats.batches).toBe(4);
  });

  it('refuses a seq at or below the highest one of a device only when it is really logged', async () => {
    const { log } = await openLog();
    await log.append(input('dev-a', 10));
    // Lower seq, never logged: accepted (the pipeline decides about replays, not the log).
    expect((await log.append(input('dev-a', 3))).index).toBe(1);
    expect(await codeOf(log.append(input('dev-a', 3)))).toBe(GatewayErrorCode.DUPLICATE_LEAF);
    expect(await codeOf(log.append(input('dev-a', 10)))).toBe(GatewayErrorCode.DUPLICATE_LEAF);
  });

  it('refuses duplicates of leaves written before a reopen', async () => {
    let { dataDir, log } = await openLog();
    await log.append(input('dev-a', 1));
    await log.append(input('dev-a', 2));
    ({ dataDir, log } = await reopen(dataDir, log));
    expect(await codeOf(log.append(input('dev-a', 2)))).toBe(GatewayErrorCode.DUPLICATE_LEAF);
    expect(await codeOf(log.append(input('dev-a', 1)))).toBe(GatewayErrorCode.DUPLICATE_LEAF);
    expect((await log.append(input('dev-a', 3))).index).toBe(2);
  });

  it('refuses malformed input with coded errors', async () => {
    const { log } = await openLog();
    const bad = [
      [{ leafData: 'not bytes', deviceId: 'd', seq: 1 }, ProtocolErrorCode.BAD_ARGUMENT],
      [{ leafData: new Uint8Array(1), deviceId: 'bad/id', seq: 1 }, ProtocolErrorCode.BAD_DEVICE_ID],
      [{ leafData: new Uint8Array(1), deviceId: '', seq: 1 }, ProtocolErrorCode.BAD_DEVICE_ID],
      [{ leafData: new Uint8Array(1), deviceId: 'x'.repeat(65), seq: 1 }, ProtocolErrorCode.BAD_DEVICE_ID],
      [{ leafData: new Uint8Array(1), deviceId: 'd', seq: -1 }, ProtocolErrorCode.BAD_ARGUMENT],
      [{ leafData: new Uint8Array(1), deviceId: 'd', seq: 1.5 }, ProtocolErrorCode.BAD_ARGUMENT],
      [
        { leafData: new Uint8Array(1), deviceId: 'd', seq: 1, leafHash: new Uint8Array(31) },
        ProtocolErrorCode.BAD_ARGUMENT,
      ],
      [null, ProtocolErrorCode.BAD_ARGUMENT],
    ] as const;
    for (const [x, code] of bad) expect(await codeOf(log.append(x as unknown as LeafInput))).toBe(code);
    expect(await codeOf(log.indexOfLeafHash(new Uint8Array(31)))).toBe(ProtocolErrorCode.BAD_ARGUMENT);
    expect(log.size).toBe(0);
  });
});

describe('ReadingLog: group commit', () => {
  it('writes 1000 concurrent appends in a few batches, each index once', async () => {
    const { log } = await openLog();
    const tree = new MemoryTree();
    const inputs = Array.from({ length: 1000 }, (_, i) => input(`dev-${i % 7}`, i));
    const positions = await Promise.all(inputs.map((x) => log.append(x)));
    for (const x of inputs) tree.append(leafHash(x.leafData));
    expect(positions.map((p) => p.index)).toEqual(inputs.map((_, i) => i));
    const stats = log.stats;
    expect(stats.leaves).toBe(1000);
    expect(stats.batches).toBeLessThanOrEqual(4);
    expect(await log.root()).toEqual(tree.root());
  });

  it('bounds batches by maxBatch', async () => {
    const { log } = await openLog({ maxBatch: 100 });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(input('dev-a', i))));
    const stats = log.stats;
    expect(stats.largestBatch).toBe(100);
    expect(stats.batches).toBe(10);
  });

  it('close() writes every pending append, then refuses new ones', async () => {
    const { log } = await openLog();
    const pending = Array.from({ length: 50 }, (_, i) => log.append(input('dev-a', i)));
    await log.close();
    expect(log.size).toBe(50);
    expect((await Promise.all(pending)).length).toBe(50);
    expect(await codeOf(log.append(input('dev-a', 99)))).toBe(GatewayErrorCode.LEDGER_CLOSED);
  });
});

describe('ReadingLog: failures', () => {
  it('rejects every caller of a failed batch, keeps the durable state, and goes on from it', async () => {
    let fail = false;
    let { dataDir, log } = await openLog({
      maxBatch: 10,
      beforeWrite: () => {
        if (fail) throw new Error('injected write failure');
      },
    });
    const tree = new MemoryTree();
    await appendN(log, tree, 10, 'dev-a');
    const before = log.checkpoint();

    fail = true;
    const failed = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => log.append(input('dev-b', i))),
    );
    for (const r of failed) {
      expect(r.status === 'rejected' && isMedgateError(r.reason, GatewayErrorCode.LEDGER_WRITE_FAILED)).toBe(
        true,
      );
    }
    expect(log.checkpoint()).toEqual(before);
    expect(log.stats.failedBatches).toBe(1);

    fail = false;
    // The refused leaves were never logged: the same (device, seq) are accepted now.
    const again = Array.from({ length: 25 }, (_, i) => input('dev-b', i));
    for (const x of again) tree.append(leafHash(x.leafData));
    const positions = await Promise.all(again.map((x) => log.append(x)));
    expect(positions.map((p) => p.index)).toEqual(again.map((_, i) => 10 + i));
    expect((await log.leaf(10)).leafHash).toEqual(leafHash(input('dev-b', 0).leafData));
    expect(await log.root()).toEqual(tree.root());

    ({ dataDir, log } = await reopen(dataDir, log));
    expect(log.checkpoint()).toEqual({ size: 35, root: tree.root() });
  });

  it('fails a batch prepared on top of a failed one, and every batch after it succeeds', async () => {
    let failNext = 0;
    const { log } = await openLog({
      maxBatch: 5,
      beforeWrite: () => {
        if (failNext > 0) {
          failNext--;
          throw new Error('injected write failure');
        }
      },
    });
    failNext = 1;
    // 4 batches of 5: the first fails; the second was prepared on top of it and must be
    // prepared again, not written with the wrong indices.
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => log.append(input('dev-a', i))),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.index);
    const bad = results.filter((r) => r.status === 'rejected');
    expect(bad.length).toBe(5);
    expect(ok).toEqual(Array.from({ length: 15 }, (_, i) => i));
    const tree = new MemoryTree();
    for (let i = 5; i < 20; i++) tree.append(leafHash(input('dev-a', i).leafData));
    expect(await log.root()).toEqual(tree.root());
  });

  it('rejects pending appends when the database closes underneath, and reopens consistent', async () => {
    const first = await openLog();
    const tree = new MemoryTree();
    await appendN(first.log, tree, 30);
    const pending = Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => first.log.append(input('dev-z', i))),
    );
    await first.dataDir.close();
    const settled = await pending;
    for (const r of settled) {
      expect(r.status === 'rejected' && isMedgateError(r.reason, GatewayErrorCode.LEDGER_WRITE_FAILED)).toBe(
        true,
      );
    }
    open.splice(open.indexOf(first.dataDir), 1);

    const { log } = await openLog();
    expect(log.checkpoint()).toEqual({ size: 30, root: tree.root() });
    await appendN(log, tree, 3, 'dev-z');
    expect(await log.root()).toEqual(tree.root());
  });

  it('refuses a second reading log on the same data directory until the first is closed', async () => {
    const { dataDir, log } = await openLog();
    expect(await codeOf(ReadingLog.open(dataDir))).toBe(GatewayErrorCode.DATA_DIR_LOCKED);
    await log.close();
    const again = await ReadingLog.open(dataDir);
    await again.close();
  });

  it('refuses to open when a stored border node is missing', async () => {
    const { dataDir, log } = await openLog();
    await appendN(log, new MemoryTree(), 6); // rootIds(6) = (2,0), (1,2)
    await log.close();
    await dataDir.db.del(recordKey(5)); // node (1, 2) is in the record of leaf 5 (keys.ts)
    expect(await codeOf(ReadingLog.open(dataDir))).toBe(GatewayErrorCode.LEDGER_CORRUPT);
  });
});

describe('ReadingLog: pruning the reading store', () => {
  it('drops reading bytes below an index and keeps every proof valid', async () => {
    let { dataDir, log } = await openLog();
    const tree = new MemoryTree();
    await appendN(log, tree, 100);
    const rootBefore = await log.root();
    await log.prune(60);
    expect(log.prunedBefore).toBe(60);
    const old = await log.leaf(10);
    expect(old.leafData).toBeUndefined();
    expect(old.leafHash).toEqual(leafHash(input('dev-1', 10).leafData));
    expect((await log.leaf(60)).leafData).toEqual(input('dev-1', 60).leafData);
    expect(await log.root()).toEqual(rootBefore);
    for (const index of [0, 10, 59, 60, 99]) {
      verifyInclusion(
        tree.getNode({ level: 0, index }),
        index,
        100,
        await log.inclusionProof(index, 100),
        rootBefore,
      );
    }
    expect(await log.indexOf('dev-1', 10)).toBe(10);
    expect(await codeOf(log.prune(101))).toBe(ProtocolErrorCode.MERKLE_BAD_SIZE);
    await log.prune(30); // below the mark: nothing to do

    ({ dataDir, log } = await reopen(dataDir, log));
    expect(log.prunedBefore).toBe(60);
    expect((await log.leaf(59)).leafData).toBeUndefined();
    await log.prune(100);
    expect((await log.leaf(99)).leafData).toBeUndefined();
  });
});

describe('Frontier and NodeCache (the append and proof helpers)', () => {
  it('hashes and appends exactly as protocol/merkle does', () => {
    const next = rng(7);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => next(256));
    for (const n of [0, 1, 31, 180, 2000]) {
      const data = bytes(n);
      expect(leafHashFast(data)).toEqual(leafHash(data));
    }
    const [l, r] = [bytes(32), bytes(32)];
    expect(nodeHashFast(l, r)).toEqual(nodeHash(l, r));

    const reference = new CompactRange();
    let frontier = new Frontier(0, []);
    for (let i = 0; i < 300; i++) {
      const leaf = leafHash(bytes(1 + next(40)));
      const want = reference.append(leaf).map(({ id, hash }) => ({ level: id.level, index: id.index, hash }));
      expect(frontier.append(leaf)).toEqual(want);
      expect(frontier.root()).toEqual(reference.root());
      if (i % 37 === 0) {
        // A copy moves on alone; one restored from the border goes on like the original.
        const copy = frontier.copy();
        copy.append(leaf);
        expect(copy.size).toBe(frontier.size + 1);
        expect(frontier.root()).toEqual(reference.root());
        frontier = new Frontier(
          reference.size,
          reference.border().map((b) => b.hash),
        );
      }
    }
    expect(frontier.size).toBe(300);
  });

  it('caches levels within its budget and drops the lowest as the tree grows', () => {
    const cache = new NodeCache(1, 64 * 32);
    const h = (v: number) => new Uint8Array(32).fill(v);
    cache.grow(16); // 16·64 bytes fit: levels >= 1
    expect(cache.holds(0)).toBe(false);
    expect(cache.holds(1)).toBe(true);
    cache.set(1, 3, h(1));
    cache.set(4, 0, h(4));
    cache.set(0, 0, h(9)); // below the cached levels: ignored
    expect(cache.get(1, 3)).toEqual(h(1));
    expect(cache.get(1, 2)).toBeUndefined();
    expect(cache.get(1, 5000)).toBeUndefined();
    expect(cache.get(0, 0)).toBeUndefined();
    cache.set(1, 500, h(5)); // widens the level
    expect(cache.get(1, 500)).toEqual(h(5));
    expect(cache.get(1, 3)).toEqual(h(1));
    cache.grow(1 << 10); // 1024·64/2^m <= 2048 → m = 5
    expect(cache.holds(4)).toBe(false);
    expect(cache.get(1, 3)).toBeUndefined();
    expect(cache.holds(5)).toBe(true);
    expect(new NodeCache(0, 0).holds(20)).toBe(false);
  });
});
