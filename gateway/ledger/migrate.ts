/**
 * Migrations of the data directory layout (keys.ts), run by openDataDir before anything else
 * reads the database. A step is a run of atomic LevelDB batches that a crash may cut at any
 * point and that runs again on the next open: the format marker moves only once it is done.
 */
import type { LedgerDb } from './data-dir.js';
import { decodeU64, encodeU64, HASH_BYTES, hashesInRecord, META, metaKey, recordKey } from './keys.js';

const FORMAT_KEY = metaKey(META.format);
/** Format 1 kept readings under `r` ‖ leaf index u64. */
const FORMAT1_READING = 0x72;
/** Leaves migrated per batch. */
const CHUNK = 512;

/** Format 1's key of node (level, index): `n` ‖ level u8 ‖ index u64 (level 0 = the record key). */
function format1NodeKey(level: number, index: number): Uint8Array {
  const key = recordKey(index);
  key[1] = level;
  return key;
}

function format1ReadingKey(index: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = FORMAT1_READING;
  key.set(encodeU64(index), 1);
  return key;
}

/**
 * Format 1 → 2: the nodes a leaf completes (`n` ‖ level ‖ index) and its reading (`r` ‖ index)
 * move into its record (`n` ‖ 0 ‖ index), which held the leaf hash alone. A record is rewritten
 * in the batch that deletes what moved into it, so a record longer than 32 bytes is done; one
 * whose nodes are missing is left as it is, for `medgate ledger verify` to report. The marker
 * is written last, synced (LevelDB's log is in order: that sync makes every batch durable).
 */
export async function migrate1to2(db: LedgerDb): Promise<void> {
  const sizeBytes = await db.get(metaKey(META.logSize));
  const size = sizeBytes === undefined ? 0 : (decodeU64(sizeBytes) ?? 0);
  for (let start = 0; start < size; start += CHUNK) {
    const end = Math.min(size, start + CHUNK);
    const nodeKeys: Uint8Array[] = [];
    for (let i = start; i < end; i++) {
      for (let level = 1; level < hashesInRecord(i); level++) {
        nodeKeys.push(format1NodeKey(level, (i + 1) / 2 ** level - 1));
      }
    }
    const readingKeys = Array.from({ length: end - start }, (_, k) => format1ReadingKey(start + k));
    const recordKeys = Array.from({ length: end - start }, (_, k) => recordKey(start + k));
    const [records, readings, nodes] = await Promise.all([
      db.getMany(recordKeys),
      db.getMany(readingKeys),
      nodeKeys.length === 0 ? [] : db.getMany(nodeKeys),
    ]);
    const batch = db.batch();
    let at = 0;
    for (let k = 0; k < end - start; k++) {
      const parents = hashesInRecord(start + k) - 1;
      const own = nodes.slice(at, at + parents);
      const ownKeys = nodeKeys.slice(at, at + parents);
      at += parents;
      const record = records[k];
      if (record?.length !== HASH_BYTES || own.some((n) => n?.length !== HASH_BYTES)) continue;
      const reading = readings[k] ?? new Uint8Array(0);
      const merged = new Uint8Array(HASH_BYTES * (1 + parents) + reading.length);
      merged.set(record, 0);
      for (let j = 0; j < parents; j++) merged.set(own[j] as Uint8Array, HASH_BYTES * (1 + j));
      merged.set(reading, HASH_BYTES * (1 + parents));
      batch.put(recordKeys[k] as Uint8Array, merged);
      if (readings[k] !== undefined) batch.del(readingKeys[k] as Uint8Array);
      for (const key of ownKeys) batch.del(key);
    }
    await batch.write();
  }
  await db.put(FORMAT_KEY, new TextEncoder().encode('2'), { sync: true });
}
