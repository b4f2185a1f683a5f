/**
 * Opening a format-1 data directory (nodes under `n` ‖ level ‖ index, readings under `r` ‖
 * index, leaf records holding the leaf hash alone) moves every node and reading into its leaf
 * record, also after a migration cut short, and the log reads and proves the same afterwards.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { utf8 } from '../../firmware-ts/protocol/bytes.js';
import { leafHash, MemoryTree, verifyInclusion } from '../../firmware-ts/protocol/merkle/index.js';
import { DATA_DIR_FORMAT, type DataDir, openDataDir } from '../../gateway/ledger/data-dir.js';
import { encodeU64, hashesInRecord, KeyPrefix, META, metaKey, recordKey } from '../../gateway/ledger/keys.js';
import { ReadingLog } from '../../gateway/ledger/reading-log.js';

const LEAVES = 40;
const PRUNED = 10;
const reading = (i: number) => utf8(`reading ${i} ${'x'.repeat(i % 7)}`);
const format1Reading = (i: number) => Uint8Array.of(0x72, ...encodeU64(i));
const format1Node = (level: number, index: number) =>
  Uint8Array.of(KeyPrefix.node, level, ...encodeU64(index));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'medgate-migrate-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A log of LEAVES leaves in format 1, readings below PRUNED pruned; leaves from `migrated` on
 * are already in format 2, as a migration cut short after some batches leaves them.
 */
async function format1Dir(migrated = LEAVES): Promise<MemoryTree> {
  const dataDir = await openDataDir(dir, { create: true });
  const log = await ReadingLog.open(dataDir);
  const tree = new MemoryTree();
  for (let i = 0; i < LEAVES; i++) {
    tree.append(leafHash(reading(i)));
    await log.append({ leafData: reading(i), deviceId: 'dev-a', seq: i });
  }
  await log.close();
  const db = dataDir.db;
  for (let i = 0; i < migrated; i++) {
    const record = (await db.get(recordKey(i)))!;
    const hashes = hashesInRecord(i);
    await db.put(recordKey(i), record.slice(0, 32));
    for (let level = 1; level < hashes; level++) {
      await db.put(format1Node(level, (i + 1) / 2 ** level - 1), record.slice(32 * level, 32 * level + 32));
    }
    if (i >= PRUNED) await db.put(format1Reading(i), record.slice(32 * hashes));
  }
  await db.put(metaKey(META.logPrunedBefore), encodeU64(PRUNED));
  await db.put(metaKey(META.format), utf8('1'));
  await dataDir.close();
  return tree;
}

async function expectMigrated(dataDir: DataDir, tree: MemoryTree): Promise<void> {
  const db = dataDir.db;
  expect(new TextDecoder().decode(await db.get(metaKey(META.format)))).toBe(String(DATA_DIR_FORMAT));
  expect(await db.keys({ gte: Uint8Array.of(0x72), lt: Uint8Array.of(0x73) }).all()).toEqual([]);
  expect(
    await db.keys({ gte: Uint8Array.of(KeyPrefix.node, 1), lt: Uint8Array.of(KeyPrefix.node + 1) }).all(),
  ).toEqual([]);
  const log = await ReadingLog.open(dataDir);
  expect(log.checkpoint()).toEqual({ size: LEAVES, root: tree.root() });
  for (const [index, size] of [
    [0, LEAVES],
    [13, 17],
    [LEAVES - 1, LEAVES],
  ] as const) {
    const proof = await log.inclusionProof(index, size);
    verifyInclusion(leafHash(reading(index)), index, size, proof, tree.root(size));
  }
  for (let i = 0; i < LEAVES; i++) {
    const leaf = await log.leaf(i);
    expect(leaf.leafHash).toEqual(leafHash(reading(i)));
    if (i < PRUNED) {
      expect(leaf.leafData).toBeUndefined();
      expect((await db.get(recordKey(i)))?.length).toBe(32 * hashesInRecord(i));
    } else expect(leaf.leafData).toEqual(reading(i));
  }
  await log.close();
}

describe('data directory format 1 → 2', () => {
  it('moves every reading into its leaf record when the directory is opened', async () => {
    const tree = await format1Dir();
    const dataDir = await openDataDir(dir, { create: true });
    try {
      await expectMigrated(dataDir, tree);
    } finally {
      await dataDir.close();
    }
  });

  it('finishes a migration cut short by a crash', async () => {
    const tree = await format1Dir(25);
    const dataDir = await openDataDir(dir, { create: true });
    try {
      await expectMigrated(dataDir, tree);
    } finally {
      await dataDir.close();
    }
  });
});
