/**
 * The durable reading log: an RFC 9162 Merkle tree on the data directory's LevelDB.
 *
 * Every perfect subtree is stored as it completes, in the record of the leaf that completes it
 * (keys.ts), so roots and proofs cost O(log n) point reads and opening costs O(log n): the
 * compact range is rebuilt from the border nodes of the stored size. A batch of leaves (their
 * records, with the nodes and readings), their indexes and the new size are one atomic
 * LevelDB batch written with sync, so a crash at any instant leaves a consistent log and
 * every acknowledged leaf in it (DESIGN §4). `prune` cuts the readings off the records; every
 * proof stays valid (DESIGN §2).
 */
import { abytes } from '../../firmware-ts/protocol/bytes.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  consistencyPlan,
  EMPTY_ROOT,
  inclusionPlan,
  type NodeId,
  rootFromNodes,
  rootIds,
} from '../../firmware-ts/protocol/merkle/index.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { DataDir, LedgerDb } from './data-dir.js';
import { type CompletedNode, Frontier, leafHashFast } from './frontier.js';
import { GroupCommit, type GroupCommitStats, type Settled } from './group-commit.js';
import {
  decodeU64,
  encodeU64,
  HASH_BYTES,
  hashesInRecord,
  leafByDeviceKey,
  leafByHashKey,
  leafRecord,
  META,
  metaKey,
  recordKey,
  recordOf,
} from './keys.js';
import { NodeCache } from './node-cache.js';
import type { LeafInput, LeafPosition, LogCheckpoint, Sequencer } from './sequencer.js';

export type { LeafInput, LeafPosition } from './sequencer.js';

export interface ReadingLogOptions {
  /** Most leaves per durable batch. Default 1024. */
  maxBatch?: number;
  /** How long an append to an idle log waits for company, in ms. Default 0 (end of tick). */
  maxDelayMs?: number;
  /** Lowest tree level kept in memory for proofs (0 = leaf hashes). Default 1. */
  cacheMinLevel?: number;
  /** Memory for cached levels; lower levels are dropped as the log grows. Default 32 MiB. */
  cacheBytes?: number;
  /**
   * Test seam: called before each batch is committed; throwing fails that batch as a failed
   * write would. Not for production use.
   */
  beforeWrite?: (info: { batch: number; leaves: number }) => void;
}

export interface ReadingLogStats extends GroupCommitStats {
  /** Leaves written (items minus those refused as duplicates or failed). */
  leaves: number;
}

/** Databases with an open ReadingLog. */
const openLogs = new WeakSet<LedgerDb>();

/** Device ids are 1 to 64 characters of A-Za-z0-9._- (DESIGN §3). */
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const SIZE_KEY = metaKey(META.logSize);
const PRUNED_KEY = metaKey(META.logPrunedBefore);
/** Leaf records rewritten per batch by `prune`. */
const PRUNE_CHUNK = 1024;

interface Pending {
  readonly input: LeafInput;
  readonly leafHash: Uint8Array;
}

/** A batch built on top of every batch before it, waiting for its commit. */
interface Prepared {
  readonly generation: number;
  readonly batch: ReturnType<LedgerDb['batch']>;
  readonly results: Settled<LeafPosition>[];
  /** Accepted leaves, for the duplicate checks of later batches. */
  readonly accepted: LeafInput[];
  readonly size: number;
  readonly range: Frontier;
  readonly leaves: number;
  /** Completed nodes of the cached levels, cached once the batch is on disk. */
  readonly cached: CompletedNode[];
}

export class ReadingLog implements Sequencer {
  readonly #db: LedgerDb;
  readonly #gc: GroupCommit<Pending, LeafPosition, Prepared>;
  readonly #cache: NodeCache;
  readonly #reads: ReadCoalescer;
  readonly #beforeWrite: ReadingLogOptions['beforeWrite'];
  // Durable state: what the disk holds.
  #size: number;
  #root: Uint8Array;
  // Tip: the durable state plus every prepared batch (at most two: one committing, one prepared).
  #tipRange: Frontier;
  #tipSize: number;
  #inFlight: Prepared[] = [];
  /**
   * Highest seq per device in the log or in flight, for devices seen since open (an upper
   * bound: a leaf refused later may have raised it); one entry per device of the fleet. A seq
   * above it needs no lookup, the normal case since the pipeline logs rising seqs (DESIGN §3).
   */
  #deviceMax = new Map<string, number>();
  /** Bumped when a commit fails: batches prepared before that are void. */
  #generation = 0;
  /** A failed commit may or may not have reached the disk: re-read the state before the next. */
  #stale = false;
  #prunedBefore: number;
  #pruning: Promise<void> = Promise.resolve();
  #closed = false;
  #leaves = 0;
  #commits = 0;

  private constructor(db: LedgerDb, range: Frontier, prunedBefore: number, o: ReadingLogOptions) {
    this.#db = db;
    this.#tipRange = range;
    this.#size = this.#tipSize = range.size;
    this.#root = range.root();
    this.#prunedBefore = prunedBefore;
    this.#cache = new NodeCache(o.cacheMinLevel ?? 1, o.cacheBytes ?? 32 * 1024 * 1024);
    this.#cache.grow(range.size);
    this.#reads = new ReadCoalescer(db);
    this.#beforeWrite = o.beforeWrite;
    this.#gc = new GroupCommit(
      {
        prepare: (items) => this.#prepare(items),
        commit: (prepared) => this.#commit(prepared),
        discard: (prepared) => this.#discard(prepared),
      },
      {
        maxBatch: positiveInt(o.maxBatch ?? 1024, 'maxBatch'),
        maxDelayMs: nonNegative(o.maxDelayMs ?? 0, 'maxDelayMs'),
      },
    );
  }

  /** Opens the log stored in `dataDir`, restoring its size and compact range in O(log n) reads. */
  static async open(dataDir: DataDir, options: ReadingLogOptions = {}): Promise<ReadingLog> {
    const db = dataDir.db;
    // One writer per log: a second one would hand out the same indices.
    if (openLogs.has(db)) {
      throw new MedgateError(
        GatewayErrorCode.DATA_DIR_LOCKED,
        `the reading log of data directory ${dataDir.path} is already open`,
        { field: 'dataDir' },
      );
    }
    openLogs.add(db);
    try {
      const range = await loadRange(db);
      const prunedBefore = await readU64Meta(db, PRUNED_KEY, 'log.prunedBefore');
      return new ReadingLog(db, range, prunedBefore ?? 0, options);
    } catch (err) {
      openLogs.delete(db);
      throw err;
    }
  }

  /** Durable size: leaves whose append has resolved. */
  get size(): number {
    return this.#size;
  }

  /** Reading bytes of leaves below this index were pruned. */
  get prunedBefore(): number {
    return this.#prunedBefore;
  }

  get stats(): ReadingLogStats {
    return { ...this.#gc.stats, leaves: this.#leaves };
  }

  checkpoint(): LogCheckpoint {
    return { size: this.#size, root: this.#root.slice() };
  }

  /**
   * Appends a leaf; resolves once it is durable. Rejects with MG_ERR_DUPLICATE_LEAF when
   * (deviceId, seq) is already in the log or earlier in the same batch,
   * MG_ERR_LEDGER_WRITE_FAILED when its batch could not be written (nothing of it applied).
   */
  append(input: LeafInput): Promise<LeafPosition> {
    if (this.#closed) {
      return Promise.reject(new MedgateError(GatewayErrorCode.LEDGER_CLOSED, 'the reading log is closed'));
    }
    let leafHash: Uint8Array;
    try {
      checkLeafInput(input);
      leafHash = input.leafHash ?? leafHashFast(input.leafData);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#gc.submit({ input, leafHash });
  }

  appendLeaf(input: LeafInput): Promise<LeafPosition> {
    return this.append(input);
  }

  /** Root of the tree of the first `size` leaves (default: the durable size). */
  async root(size: number = this.#size): Promise<Uint8Array> {
    this.#checkSize(size, 'size');
    if (size === this.#size) return this.#root.slice();
    if (size === 0) return EMPTY_ROOT.slice();
    return rootFromNodes(await this.#nodes(rootIds(size)));
  }

  /** Leaf hash at `index`, and its reading bytes unless they were pruned. */
  async leaf(index: number): Promise<{ leafHash: Uint8Array; leafData?: Uint8Array }> {
    this.#checkIndex(index, this.#size);
    const record = await this.#db.get(recordKey(index));
    const hashes = HASH_BYTES * hashesInRecord(index);
    if (record === undefined || record.length < hashes) throw corrupt(`leaf ${index} is missing`);
    const leafHash = new Uint8Array(record.subarray(0, HASH_BYTES)); // a copy: keeps no record alive
    // Below the mark the bytes are gone, or about to be (prune writes the mark first).
    if (index < this.#prunedBefore) return { leafHash };
    return { leafHash, leafData: plain(record.subarray(hashes)) };
  }

  /**
   * Index of the leaf with this hash. Equal hashes mean equal reading bytes, hence the same
   * (device, seq), which the log holds once; should a caller log the same bytes under two
   * pairs anyway, this is the later index.
   */
  async indexOfLeafHash(leafHash: Uint8Array): Promise<number | undefined> {
    abytes(leafHash, 32, 'leafHash');
    return this.#readIndex(leafByHashKey(leafHash));
  }

  /** Index of the leaf logged for (deviceId, seq). */
  async indexOf(deviceId: string, seq: number): Promise<number | undefined> {
    checkDeviceSeq(deviceId, seq);
    return this.#readIndex(leafByDeviceKey(deviceId, seq));
  }

  /** RFC 9162 §2.1.3 inclusion proof of leaf `index` in the tree of `size` leaves. */
  async inclusionProof(index: number, size: number): Promise<Uint8Array[]> {
    this.#checkSize(size, 'size');
    this.#checkIndex(index, size);
    const plan = inclusionPlan(index, size);
    return plan.rehash(await this.#nodes(plan.ids));
  }

  /** RFC 9162 §2.1.4 consistency proof between the trees of `size1` and `size2` leaves. */
  async consistencyProof(size1: number, size2: number): Promise<Uint8Array[]> {
    this.#checkSize(size2, 'size2');
    const plan = consistencyPlan(size1, size2);
    return plan.rehash(await this.#nodes(plan.ids));
  }

  /**
   * Deletes the reading bytes of leaves below `beforeIndex`; hashes, nodes and indexes stay,
   * so every proof stays valid (DESIGN §2). Requires beforeIndex <= size.
   */
  async prune(beforeIndex: number): Promise<void> {
    this.#checkSize(beforeIndex, 'beforeIndex');
    // One prune at a time, so that the stored mark only rises.
    const run = this.#pruning.then(async () => {
      const from = this.#prunedBefore;
      if (beforeIndex <= from) return;
      // The mark first, durably: from then on no reader returns these bytes. A crash during
      // the cut below leaves some on disk; they still hash to their leaves, so the log verifies.
      await this.#db.put(PRUNED_KEY, encodeU64(beforeIndex), { sync: true });
      this.#prunedBefore = beforeIndex;
      await this.#cutReadings(from, beforeIndex);
    });
    this.#pruning = run.catch(() => {});
    return run;
  }

  /**
   * Writes every pending append and waits for a running prune, then refuses new appends.
   * Does not close the data directory.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#gc.flush();
    await this.#pruning;
    openLogs.delete(this.#db);
  }

  /** Cuts the leaf records of [from, to) to their hashes, a bounded chunk per batch. */
  async #cutReadings(from: number, to: number): Promise<void> {
    for (let start = from; start < to; start += PRUNE_CHUNK) {
      const end = Math.min(to, start + PRUNE_CHUNK);
      const records = await this.#db.iterator({ gte: recordKey(start), lt: recordKey(end) }).all();
      const batch = this.#db.batch();
      for (const [key, record] of records) {
        const hashes = HASH_BYTES * hashesInRecord(decodeU64(key.subarray(2)) ?? 0);
        if (record.length > hashes) batch.put(key, record.subarray(0, hashes));
      }
      // No sync: the mark is what must be durable; a lost cut only leaves bytes no one reads.
      await batch.write();
    }
  }

  async #readIndex(key: Uint8Array): Promise<number | undefined> {
    const value = await this.#db.get(key);
    if (value === undefined) return undefined;
    const index = decodeU64(value);
    if (index === undefined) throw corrupt('a leaf index entry is malformed');
    return index;
  }

  /** Stored hashes of `ids`, in order: cached upper levels, one getMany for the rest. */
  async #nodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = new Array(ids.length);
    const missKeys: Uint8Array[] = [];
    const missAt: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as NodeId;
      const hit = this.#cache.get(id.level, id.index);
      if (hit !== undefined) out[i] = hit;
      else {
        missKeys.push(recordKey(recordOf(id.level, id.index)));
        missAt.push(i);
      }
    }
    if (missKeys.length > 0) {
      const values = await this.#reads.get(missKeys);
      for (let j = 0; j < missAt.length; j++) {
        const value = values[j];
        const at = missAt[j] as number;
        const id = ids[at] as NodeId;
        const hash = storedNode(id, value);
        out[at] = hash;
        this.#cache.set(id.level, id.index, hash);
      }
    }
    return out;
  }

  /**
   * Stage 1 of group commit (group-commit.ts): refuses duplicates one by one, assigns indices
   * after the tip, and encodes the leaves, their completed nodes and indexes into one batch.
   */
  async #prepare(items: readonly Pending[]): Promise<Prepared> {
    try {
      if (this.#stale) await this.#reload();
      const generation = this.#generation;
      const refused = await this.#refuseDuplicates(items);
      if (generation !== this.#generation) throw new Error('a commit failed while this batch was prepared');
      // Appended on a copy: the tip moves only once the whole batch is encoded.
      const range = this.#tipRange.copy();
      const batch = this.#db.batch();
      const results: Settled<LeafPosition>[] = new Array(items.length);
      const accepted: LeafInput[] = [];
      const cached: Prepared['cached'] = [];
      let size = this.#tipSize;
      for (let i = 0; i < items.length; i++) {
        const error = refused.errors[i];
        if (error !== undefined) {
          results[i] = { ok: false, error };
          continue;
        }
        const { input, leafHash } = items[i] as Pending;
        const index = size++;
        const indexBytes = encodeU64(index);
        // The leaf record: the leaf hash, every subtree the leaf completes, the reading.
        const nodes = range.append(leafHash);
        batch.put(recordKey(index), leafRecord(nodes, input.leafData));
        for (const node of nodes) if (this.#cache.holds(node.level)) cached.push(node);
        batch.put(leafByHashKey(leafHash), indexBytes);
        batch.put(refused.deviceKeys[i] ?? leafByDeviceKey(input.deviceId, input.seq), indexBytes);
        accepted.push(input);
        results[i] = { ok: true, value: { index, leafHash } };
      }
      batch.put(SIZE_KEY, encodeU64(size));
      const leaves = size - this.#tipSize;
      const prepared: Prepared = { generation, batch, results, accepted, size, range, leaves, cached };
      this.#tipRange = range;
      this.#tipSize = size;
      this.#inFlight.push(prepared);
      return prepared;
    } catch (cause) {
      throw writeFailed(cause);
    }
  }

  /** Stage 2: one synchronous (fsynced) LevelDB batch; only then does the durable state move. */
  async #commit(p: Prepared): Promise<Settled<LeafPosition>[]> {
    try {
      if (p.generation !== this.#generation) throw new Error('the batch before this one failed');
      if (p.leaves > 0) {
        this.#beforeWrite?.({ batch: this.#commits, leaves: p.leaves });
        this.#commits++;
        await p.batch.write({ sync: true });
      } else {
        await p.batch.close();
      }
    } catch (cause) {
      // The write may or may not have reached the disk: the next batch re-reads the state.
      this.#stale = true;
      this.#generation++;
      throw writeFailed(cause);
    }
    this.#inFlight.shift();
    this.#size = p.size;
    if (p.leaves > 0) this.#root = p.range.root();
    this.#leaves += p.leaves;
    this.#cache.grow(p.size);
    for (const n of p.cached) this.#cache.set(n.level, n.index, n.hash);
    return p.results;
  }

  /** A batch prepared on top of a failed one: drop it, and rebuild the tip from the disk. */
  #discard(p: Prepared): void {
    p.batch.close().catch(() => {});
    this.#stale = true;
  }

  /**
   * Refuses items whose (device, seq) is already on disk, in a batch in flight, or earlier in
   * this batch. A seq above the device's highest known one needs no read (the normal case:
   * the pipeline logs rising seqs, DESIGN §3); the others cost one getMany for the batch.
   * Leaf hashes are not checked: the reading's bytes name its device and seq, so equal bytes
   * (equal leaf hashes) are already the same (device, seq).
   */
  async #refuseDuplicates(items: readonly Pending[]) {
    const n = items.length;
    const errors: (MedgateError | undefined)[] = new Array(n);
    const deviceKeys: (Uint8Array | undefined)[] = new Array(n);
    await this.#learnDevices(items);

    const maxSeen = new Map<string, number>();
    const check: number[] = [];
    for (let i = 0; i < n; i++) {
      const { deviceId, seq } = (items[i] as Pending).input;
      const max = maxSeen.get(deviceId) ?? (this.#deviceMax.get(deviceId) as number);
      if (seq > max) maxSeen.set(deviceId, seq);
      else check.push(i);
    }
    if (check.length > 0) {
      const keys = check.map((i) => {
        const { deviceId, seq } = (items[i] as Pending).input;
        const key = leafByDeviceKey(deviceId, seq);
        deviceKeys[i] = key;
        return key;
      });
      // Everything a checked item may repeat besides the disk: leaves in flight (taken before
      // the read, since a batch that commits during it may be missing from the read's
      // snapshot), and the items of this batch whose seq rose (those always precede a checked
      // item with the same seq).
      const name = (x: LeafInput) => `${x.deviceId}\u0000${x.seq}`;
      const taken = new Set<string>();
      for (const p of this.#inFlight) for (const x of p.accepted) taken.add(name(x));
      const stored = await this.#db.getMany(keys);
      const checked = new Set(check);
      for (let i = 0; i < n; i++) if (!checked.has(i)) taken.add(name((items[i] as Pending).input));
      for (let k = 0; k < check.length; k++) {
        const input = (items[check[k] as number] as Pending).input;
        const key = name(input);
        if (stored[k] === undefined && !taken.has(key)) {
          taken.add(key);
          continue;
        }
        errors[check[k] as number] = new MedgateError(
          GatewayErrorCode.DUPLICATE_LEAF,
          `reading ${input.deviceId} seq ${input.seq} is already in the reading log`,
          { field: 'seq', got: input.seq },
        );
      }
    }
    for (const [deviceId, max] of maxSeen) this.#deviceMax.set(deviceId, max);
    return { errors, deviceKeys };
  }

  /** The highest logged seq of each device of `items` not seen since open: one reverse seek each. */
  async #learnDevices(items: readonly Pending[]): Promise<void> {
    const unknown = new Set<string>();
    for (const { input } of items) if (!this.#deviceMax.has(input.deviceId)) unknown.add(input.deviceId);
    if (unknown.size === 0) return;
    await Promise.all(
      [...unknown].map(async (deviceId) => {
        const keys = await this.#db
          .keys({
            gte: leafByDeviceKey(deviceId, 0),
            lte: leafByDeviceKey(deviceId, Number.MAX_SAFE_INTEGER),
            reverse: true,
            limit: 1,
          })
          .all();
        const last = keys[0];
        this.#deviceMax.set(
          deviceId,
          last === undefined ? -1 : (decodeU64(last.subarray(last.length - 8)) ?? -1),
        );
      }),
    );
  }

  /** After a failed commit: take the size and compact range from the disk again. */
  async #reload(): Promise<void> {
    const range = await loadRange(this.#db);
    this.#tipRange = range;
    this.#size = this.#tipSize = range.size;
    this.#root = range.root();
    this.#inFlight = [];
    this.#deviceMax.clear();
    this.#stale = false;
  }

  #checkSize(size: number, name: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.#size) {
      throw new MedgateError(
        ProtocolErrorCode.MERKLE_BAD_SIZE,
        `${name} must be between 0 and ${this.#size}`,
        {
          field: name,
          got: size,
          want: `0..${this.#size}`,
        },
      );
    }
  }

  #checkIndex(index: number, size: number): void {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new MedgateError(ProtocolErrorCode.MERKLE_BAD_INDEX, `index must be below ${size}`, {
        field: 'index',
        got: index,
        want: `0..${size - 1}`,
      });
    }
  }
}

/** Compact range of the stored size, from the border nodes of that size (rootIds). */
async function loadRange(db: LedgerDb): Promise<Frontier> {
  const size = (await readU64Meta(db, SIZE_KEY, 'log.size')) ?? 0;
  const ids = rootIds(size);
  const values =
    ids.length === 0 ? [] : await db.getMany(ids.map((id) => recordKey(recordOf(id.level, id.index))));
  return new Frontier(
    size,
    ids.map((id, i) => storedNode(id, values[i], ` of size ${size}`)),
  );
}

/** Node `id` in `record`, the record of leaf recordOf(id): its hash at 32·level (keys.ts). */
function storedNode(id: NodeId, record: Uint8Array | undefined, where = ''): Uint8Array {
  const leaf = recordOf(id.level, id.index);
  if (record === undefined || record.length < HASH_BYTES * hashesInRecord(leaf)) {
    throw corrupt(`node (level ${id.level}, index ${id.index})${where} is missing`);
  }
  const at = HASH_BYTES * id.level;
  return plain(record.subarray(at, at + HASH_BYTES));
}

async function readU64Meta(db: LedgerDb, key: Uint8Array, name: string): Promise<number | undefined> {
  const value = await db.get(key);
  if (value === undefined) return undefined;
  const n = decodeU64(value);
  if (n === undefined) throw corrupt(`meta key ${name} is malformed`);
  return n;
}

/** A Uint8Array view of a Buffer's bytes (LevelDB and node:crypto hand out Buffers). */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

function corrupt(message: string): MedgateError {
  return new MedgateError(GatewayErrorCode.LEDGER_CORRUPT, `reading log: ${message}`);
}

function writeFailed(cause: unknown): MedgateError {
  if (cause instanceof MedgateError && cause.code === GatewayErrorCode.LEDGER_WRITE_FAILED) return cause;
  return new MedgateError(GatewayErrorCode.LEDGER_WRITE_FAILED, 'the reading log could not write a batch', {
    cause,
  });
}

function checkLeafInput(input: LeafInput): void {
  if (typeof input !== 'object' || input === null) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'input must be an object', { field: 'input' });
  }
  abytes(input.leafData, undefined, 'leafData');
  if (input.leafHash !== undefined) abytes(input.leafHash, HASH_BYTES, 'leafHash');
  checkDeviceSeq(input.deviceId, input.seq);
}

function checkDeviceSeq(deviceId: string, seq: number): void {
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
    throw new MedgateError(ProtocolErrorCode.BAD_DEVICE_ID, 'deviceId must be 1 to 64 of A-Za-z0-9._-', {
      field: 'deviceId',
    });
  }
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, 'seq must be a non-negative safe integer', {
      field: 'seq',
      got: seq,
    });
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be a positive integer`, {
      field: name,
      got: value,
    });
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be >= 0`, {
      field: name,
      got: value,
    });
  }
  return value;
}

/**
 * Node reads of concurrent proofs, coalesced into one getMany per tick: a getMany has a fixed
 * cost (a LevelDB snapshot under the database mutex, a thread-pool round trip) that would
 * otherwise dominate a proof's handful of point reads.
 */
class ReadCoalescer {
  readonly #db: LedgerDb;
  #queue: {
    keys: Uint8Array[];
    resolve: (v: (Uint8Array | undefined)[]) => void;
    reject: (e: unknown) => void;
  }[] = [];

  constructor(db: LedgerDb) {
    this.#db = db;
  }

  get(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return new Promise((resolve, reject) => {
      if (this.#queue.length === 0) setImmediate(() => this.#flush());
      this.#queue.push({ keys, resolve, reject });
    });
  }

  #flush(): void {
    const queue = this.#queue;
    this.#queue = [];
    const keys = queue.length === 1 ? (queue[0]?.keys as Uint8Array[]) : queue.flatMap((r) => r.keys);
    this.#db.getMany(keys).then(
      (values) => {
        let offset = 0;
        for (const r of queue) {
          r.resolve(values.slice(offset, offset + r.keys.length));
          offset += r.keys.length;
        }
      },
      (err: unknown) => {
        for (const r of queue) r.reject(err);
      },
    );
  }
}
