/**
 * The LevelDB key layout of the ledger, in one place. One database holds every keyspace;
 * the first byte of a key names its keyspace. Integers are unsigned 64-bit big-endian so
 * that LevelDB's bytewise order is numeric order (range scans and prunes are ranges).
 *
 * | prefix | key                                   | value                                | owner       |
 * | ------ | ------------------------------------- | ------------------------------------ | ----------- |
 * | `m`    | `m` ‖ name (UTF-8)                    | per name, see META                   | every part  |
 * | `n`    | `n` ‖ 0 ‖ leaf index u64              | leaf record: hashes ‖ reading bytes  | reading log |
 * | `h`    | `h` ‖ leaf hash (32)                  | leaf index u64                       | reading log |
 * | `d`    | `d` ‖ len u8 ‖ device id ‖ seq u64    | leaf index u64                       | reading log |
 * | `b`    | reserved: blocks                      |                                      | chain       |
 * | `t`    | reserved: transactions                |                                      | chain       |
 * | `s`    | reserved: state snapshots             |                                      | chain       |
 *
 * The leaf record of leaf i holds, in one value, everything the append of leaf i made: its
 * leaf hash, then the hash of every perfect subtree (RFC 9162) that leaf completes, lowest
 * first (one per trailing one bit of i: subtree (level L, index k) is complete with leaf
 * (k+1)·2^L − 1), then the reading (COSE_Sign1 bytes). So every stored node sits in one
 * record, any proof or root costs O(log n) point reads, and a leaf costs three puts: its
 * record and two index entries. Pruning (reading-log.ts) cuts a record to its hashes; readers
 * take the reading only at or above `log.prunedBefore`.
 *
 * Format 1 (migrate.ts) kept every node under `n` ‖ level ‖ index and readings under `r`.
 */

export const KeyPrefix = Object.freeze({
  meta: 0x6d, // 'm'
  node: 0x6e, // 'n' (leaf records)
  leafByHash: 0x68, // 'h'
  leafByDevice: 0x64, // 'd'
  block: 0x62, // 'b'
  tx: 0x74, // 't'
  state: 0x73, // 's'
});

/** Names of the `m` keys. */
export const META = Object.freeze({
  /** Data directory format version, decimal UTF-8 (data-dir.ts). */
  format: 'format',
  /** Durable reading-log size, u64; written in the same batch as the leaves. */
  logSize: 'log.size',
  /** Reading bytes below this leaf index were pruned, u64. */
  logPrunedBefore: 'log.prunedBefore',
});

const TWO_32 = 0x1_0000_0000;

/**
 * Bytes for a key or value. The encoders below return Node Buffers (a Uint8Array subclass)
 * cut from Buffer.allocUnsafe's shared slab: cheaper than a Uint8Array each, and LevelDB
 * copies what it is given. Every encoder writes every byte.
 */
function alloc(size: number): Uint8Array {
  return Buffer.allocUnsafe(size);
}

/** Writes `value` (a safe non-negative integer) as u64 big-endian at `offset`. */
/** Writes `value` (a safe integer ≥ 0) big-endian in 8 bytes at `offset`: keys sort by number. */
export function writeU64(out: Uint8Array, offset: number, value: number): void {
  const hi = Math.floor(value / TWO_32);
  const lo = value >>> 0;
  out[offset] = hi >>> 24;
  out[offset + 1] = (hi >>> 16) & 0xff;
  out[offset + 2] = (hi >>> 8) & 0xff;
  out[offset + 3] = hi & 0xff;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = (lo >>> 16) & 0xff;
  out[offset + 6] = (lo >>> 8) & 0xff;
  out[offset + 7] = lo & 0xff;
}

/** Reads what writeU64 wrote. */
export function readU64(bytes: Uint8Array, offset: number): number {
  const b = (i: number) => bytes[offset + i] as number;
  const hi = ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
  const lo = ((b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7)) >>> 0;
  return hi * TWO_32 + lo;
}

/** Bytes of a hash; a leaf record starts with hashes of this size. */
export const HASH_BYTES = 32;

/** The leaf whose record holds the perfect subtree (level, index): the last leaf under it. */
export function recordOf(level: number, index: number): number {
  return (index + 1) * 2 ** level - 1;
}

/** Hashes at the start of leaf `index`'s record: the leaf's, and one per trailing one bit. */
export function hashesInRecord(index: number): number {
  let n = 1;
  for (let i = index; i % 2 === 1; i = (i - 1) / 2) n++;
  return n;
}

/** u64 big-endian encoding of an index or size (values of `h`, `d` and `m` keys). */
export function encodeU64(value: number): Uint8Array {
  const out = alloc(8);
  writeU64(out, 0, value);
  return out;
}

/** Inverse of encodeU64; undefined unless `bytes` is exactly 8 bytes holding a safe integer. */
export function decodeU64(bytes: Uint8Array): number | undefined {
  if (bytes.length !== 8) return undefined;
  const value = readU64(bytes, 0);
  return Number.isSafeInteger(value) ? value : undefined;
}

export function metaKey(name: string): Uint8Array {
  const out = alloc(1 + name.length);
  out[0] = KeyPrefix.meta;
  for (let i = 0; i < name.length; i++) out[i + 1] = name.charCodeAt(i) & 0x7f;
  return out;
}

/** Key of leaf `index`'s record: `n` ‖ 0 ‖ index (the 0 is format 1's level byte). */
export function recordKey(index: number): Uint8Array {
  const out = alloc(10);
  out[0] = KeyPrefix.node;
  out[1] = 0;
  writeU64(out, 2, index);
  return out;
}

export function leafByHashKey(leafHash: Uint8Array): Uint8Array {
  const out = alloc(1 + leafHash.length);
  out[0] = KeyPrefix.leafByHash;
  out.set(leafHash, 1);
  return out;
}

/**
 * Key of the (device, seq) index. The length prefix keeps one device's keys apart from a
 * longer id that starts with it, and sorts one device's readings by seq. `deviceId` must
 * already be validated (ASCII, 1 to 64 characters).
 */
export function leafByDeviceKey(deviceId: string, seq: number): Uint8Array {
  const n = deviceId.length;
  const out = alloc(2 + n + 8);
  out[0] = KeyPrefix.leafByDevice;
  out[1] = n;
  for (let i = 0; i < n; i++) out[2 + i] = deviceId.charCodeAt(i);
  writeU64(out, 2 + n, seq);
  return out;
}

/**
 * A leaf record: the hashes of `nodes` (what Frontier.append returned: the leaf, then each
 * subtree it completes), then `reading`.
 */
export function leafRecord(nodes: readonly { readonly hash: Uint8Array }[], reading: Uint8Array): Uint8Array {
  const hashes = HASH_BYTES * nodes.length;
  const out = alloc(hashes + reading.length);
  for (let k = 0; k < nodes.length; k++) out.set((nodes[k] as { hash: Uint8Array }).hash, HASH_BYTES * k);
  out.set(reading, hashes);
  return out;
}
