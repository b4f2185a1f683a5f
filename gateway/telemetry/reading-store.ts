/**
 * The reading store: the index of accepted readings by device and seq, with what the gateway
 * decided when it accepted each (receive time, `late`, `gap`), for history, the FHIR API, and
 * the seq tracker after a restart. The reading bytes themselves stay in the reading log, once:
 * verified-readings.ts joins the two into the verified reading JSON of DESIGN §3.
 *
 * It is a sibling LevelDB in `DIR/readings/`, not a keyspace of the ledger's database: the
 * ledger's LevelDB holds what proofs need and its writer syncs every batch, while the store is
 * derived data, written without sync, that can be rebuilt from the reading log
 * (recovery.ts) and pruned on its own schedule. LevelDB's LOCK keeps a second process out.
 *
 * | key                                  | value                                                     |
 * | ------------------------------------ | --------------------------------------------------------- |
 * | `m` ‖ name                           | `format` (decimal), `mark` (u64)                          |
 * | `r` ‖ len u8 ‖ device id ‖ seq u64   | leaf index u64 ‖ received u64 ‖ flags u8 ‖ gap u64        |
 * | `x` ‖ leaf index u64                 | received u64 ‖ seq u64 ‖ device id                        |
 * | `h` ‖ device id                      | seq u64 ‖ leaf index u64 ‖ leaf hash (32)                 |
 *
 * `r` serves a device's history in seq order (flags bit 0: `late`; gap 0: none); `x` orders
 * readings by leaf index for pruning and for recovery; `h` is each device's highest accepted
 * seq and the hash of its bytes, kept when readings are pruned so that replay protection
 * survives pruning. The `mark` is a leaf index below which every leaf of the log is stored here
 * or was pruned (recovery starts there). Integers are u64 big-endian, so bytewise order is
 * numeric order.
 *
 * Format 1 kept the whole verified JSON in `r`: a second copy of every reading's bytes, and
 * under load the largest write of the gateway after the log's (about 800 bytes a reading, which
 * LevelDB then compacts again and again). A format 1 store is emptied at open and rebuilt from
 * the log like a lost one.
 *
 * Pruning by age (the gateway's receive time) deletes `r` and `x` entries and then the
 * reading bytes in the ledger (`ReadingLog.prune`); leaf hashes, Merkle nodes and signed
 * blocks stay, so every receipt and consistency proof stays valid (DESIGN §2).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Level } from 'level';
import { fromUtf8, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { isDeviceId } from '../../firmware-ts/protocol/ids.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import { readU64, writeU64 } from '../ledger/keys.js';

/** Subdirectory of the data directory that holds the store. */
export const READINGS_SUBDIR = 'readings';
/** Version of the key layout above. */
export const READING_STORE_FORMAT = 2;
/** Older formats this version empties and rebuilds (derived data), rather than refusing. */
const REBUILT_FORMATS: readonly string[] = Object.freeze(['1']);
/** Most readings one history call returns. */
export const MAX_HISTORY_PAGE = 1000;

const PREFIX = Object.freeze({ meta: 0x6d, reading: 0x72, byIndex: 0x78, head: 0x68 });
const PRUNE_CHUNK = 1000;
/** A batch this large is written at once, without waiting for its flush delay. */
const FLUSH_ITEMS = 1024;

export interface ReadingStoreOptions {
  /** How long the first reading of a batch waits for company before the batch is written (default 20 ms). */
  readonly flushDelayMs?: number;
}

type StoreDb = Level<Uint8Array, Uint8Array>;

/** What the pipeline (or recovery) stores for one accepted reading. */
export interface StoredReadingInput {
  readonly deviceId: string;
  readonly seq: number;
  readonly leafIndex: number;
  readonly leafHash: Uint8Array;
  /** Gateway clock when the reading was accepted (pruning age). */
  readonly received: number;
  /** Accepted as store-and-forward backlog, past the skew window (DESIGN §3). */
  readonly late: boolean;
  /** Seqs skipped before this one, when any (1 or more). */
  readonly gap?: number | undefined;
}

/** A stored reading: where its bytes are in the log, and what the gateway decided. */
export interface StoredReading {
  readonly dev: string;
  readonly seq: number;
  readonly leafIndex: number;
  readonly received: number;
  readonly late: boolean;
  readonly gap?: number;
}

/** A device's highest accepted seq and the leaf of its bytes. */
export interface DeviceHead {
  readonly seq: number;
  readonly leafIndex: number;
  readonly leafHash: Uint8Array;
}

export interface HistoryPage {
  /** Only readings with seq above this (default -1: from the first). */
  readonly afterSeq?: number;
  /** Only readings with seq below this. */
  readonly beforeSeq?: number;
  /** 1 to MAX_HISTORY_PAGE. */
  readonly limit: number;
  /** Newest first (default oldest first). */
  readonly reverse?: boolean;
}

/** The part of the reading log that pruning touches (ReadingLog has it). */
export interface PrunableLog {
  readonly prunedBefore: number;
  prune(beforeIndex: number): Promise<void>;
}

export interface PruneResult {
  /** Readings deleted from the store. */
  readonly removed: number;
  /** Reading bytes below this leaf index are gone (store and, when given, the log). */
  readonly beforeIndex: number;
}

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, value);
  return out;
}

function metaKey(name: string): Uint8Array {
  return Uint8Array.of(PREFIX.meta, ...utf8(name));
}

/** `r` ‖ len ‖ id ‖ seq: the length keeps `dev-1` apart from `dev-10` and orders by seq. */
function readingKey(dev: string, seq: number): Uint8Array {
  const out = new Uint8Array(2 + dev.length + 8);
  out[0] = PREFIX.reading;
  out[1] = dev.length;
  for (let i = 0; i < dev.length; i++) out[2 + i] = dev.charCodeAt(i);
  writeU64(out, 2 + dev.length, seq);
  return out;
}

function indexKey(leafIndex: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = PREFIX.byIndex;
  writeU64(out, 1, leafIndex);
  return out;
}

function headKey(dev: string): Uint8Array {
  const out = new Uint8Array(1 + dev.length);
  out[0] = PREFIX.head;
  for (let i = 0; i < dev.length; i++) out[1 + i] = dev.charCodeAt(i);
  return out;
}

const READING_VALUE_BYTES = 25;
const LATE_FLAG = 1;

function readingValue(r: StoredReadingInput): Uint8Array {
  const out = new Uint8Array(READING_VALUE_BYTES);
  writeU64(out, 0, r.leafIndex);
  writeU64(out, 8, r.received);
  out[16] = r.late ? LATE_FLAG : 0;
  writeU64(out, 17, r.gap ?? 0);
  return out;
}

function decodeReadingEntry(dev: string, key: Uint8Array, value: Uint8Array): StoredReading {
  if (key.length !== 2 + dev.length + 8 || value.length !== READING_VALUE_BYTES || value[16]! > LATE_FLAG) {
    throw corrupt('a reading entry is malformed');
  }
  const gap = readU64(value, 17);
  return {
    dev,
    seq: readU64(key, 2 + dev.length),
    leafIndex: readU64(value, 0),
    received: readU64(value, 8),
    late: value[16] === LATE_FLAG,
    ...(gap === 0 ? {} : { gap }),
  };
}

function indexValue(received: number, seq: number, dev: string): Uint8Array {
  const out = new Uint8Array(16 + dev.length);
  writeU64(out, 0, received);
  writeU64(out, 8, seq);
  for (let i = 0; i < dev.length; i++) out[16 + i] = dev.charCodeAt(i);
  return out;
}

function headValue(head: DeviceHead): Uint8Array {
  const out = new Uint8Array(48);
  writeU64(out, 0, head.seq);
  writeU64(out, 8, head.leafIndex);
  out.set(head.leafHash, 16);
  return out;
}

function corrupt(message: string, cause?: unknown): MedgateError {
  return new MedgateError(GatewayErrorCode.READING_STORE_CORRUPT, `reading store: ${message}`, { cause });
}

function decodeHead(value: Uint8Array): DeviceHead {
  if (value.length !== 48) throw corrupt('a device head is malformed');
  // A plain Uint8Array copy: LevelDB hands out Buffers.
  return {
    seq: readU64(value, 0),
    leafIndex: readU64(value, 8),
    leafHash: Uint8Array.from(value.subarray(16)),
  };
}

function checkDevice(dev: string): void {
  if (!isDeviceId(dev)) {
    throw new MedgateError(ProtocolErrorCode.BAD_DEVICE_ID, 'deviceId must be a device id', {
      field: 'deviceId',
    });
  }
}

function checkSeq(value: number, name: string, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `${name} must be an integer >= ${min}`, {
      field: name,
      got: value,
    });
  }
}

interface Batch {
  readonly items: StoredReadingInput[];
  readonly done: Promise<void>;
  /** Until the batch is queued for writing. */
  timer?: NodeJS.Timeout | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {}); // callers of put() get the rejection; no unhandled one meanwhile
  return { items: [], done, resolve, reject };
}

export class ReadingStore {
  readonly #db: StoreDb;
  readonly #path: string;
  readonly #fresh: boolean;
  /** Every leaf below it is stored or pruned; `#above` holds stored indices past it. */
  #mark: number;
  readonly #above = new Set<number>();
  /** Highest seq whose head this store wrote or read, per device. */
  readonly #heads = new Map<string, number>();
  #batch: Batch | undefined;
  readonly #flushDelayMs: number;
  #writing: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;

  private constructor(db: StoreDb, path: string, mark: number | undefined, options: ReadingStoreOptions) {
    this.#flushDelayMs = options.flushDelayMs ?? 20;
    this.#db = db;
    this.#path = path;
    this.#fresh = mark === undefined;
    this.#mark = mark ?? 0;
  }

  /**
   * Opens (creating if needed) the store in `DIR/readings/` of the data directory `dataDir`.
   * MG_ERR_DATA_DIR_LOCKED when another process has it open, MG_ERR_DATA_DIR_FORMAT for a
   * store of another format, MG_ERR_DATA_DIR_OPEN_FAILED otherwise.
   */
  static async open(dataDir: string, options: ReadingStoreOptions = {}): Promise<ReadingStore> {
    const path = join(resolve(dataDir), READINGS_SUBDIR);
    let db: StoreDb;
    try {
      await mkdir(path, { recursive: true });
      db = new Level<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
      await db.open();
    } catch (cause) {
      const locked = (cause as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED';
      throw new MedgateError(
        locked ? GatewayErrorCode.DATA_DIR_LOCKED : GatewayErrorCode.DATA_DIR_OPEN_FAILED,
        locked ? `reading store ${path} is in use by another process` : `cannot open reading store ${path}`,
        { field: 'dir', cause },
      );
    }
    try {
      let format: Uint8Array | undefined = await db.get(metaKey('format'));
      if (format !== undefined && REBUILT_FORMATS.includes(fromUtf8(format))) {
        // Derived data in an older layout: emptied here, rebuilt from the log by recovery.
        await db.clear();
        format = undefined;
      }
      if (format === undefined) {
        await db.put(metaKey('format'), utf8(String(READING_STORE_FORMAT)));
      } else if (fromUtf8(format) !== String(READING_STORE_FORMAT)) {
        throw new MedgateError(GatewayErrorCode.DATA_DIR_FORMAT, `reading store ${path} has another format`, {
          field: 'format',
          got: fromUtf8(format).slice(0, 16),
          want: READING_STORE_FORMAT,
        });
      }
      const mark = await db.get(metaKey('mark'));
      if (mark !== undefined && mark.length !== 8) throw corrupt('the mark is malformed');
      return new ReadingStore(db, path, mark === undefined ? undefined : readU64(mark, 0), options);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  get path(): string {
    return this.#path;
  }

  /** Every leaf index below this is stored here or was pruned. */
  get mark(): number {
    return this.#mark;
  }

  /** True when the store had no mark at open: new, or moved aside (a full rebuild). */
  get fresh(): boolean {
    return this.#fresh;
  }

  /**
   * Stores an accepted reading. Writes within `flushDelayMs` go out as one (unsynced) batch;
   * resolves when that batch is written. The device head moves only up.
   */
  put(reading: StoredReadingInput): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(
        new MedgateError(GatewayErrorCode.TELEMETRY_CLOSED, 'the reading store is closed'),
      );
    }
    try {
      checkDevice(reading.deviceId);
      checkSeq(reading.seq, 'seq');
      checkSeq(reading.leafIndex, 'leafIndex');
      checkSeq(reading.received, 'received');
      if (reading.gap !== undefined) checkSeq(reading.gap, 'gap', 1);
    } catch (err) {
      return Promise.reject(err);
    }
    let batch = this.#batch;
    if (batch === undefined) {
      const next = newBatch();
      batch = next;
      this.#batch = next;
      // A LevelDB batch costs the main thread about 25 µs whatever it holds, plus one head write
      // per device in it: readings of a few tens of milliseconds share one. Nobody waits on it:
      // clinicians get the verified feed at once, and history is a moment behind at most.
      next.timer = setTimeout(() => this.#send(next), this.#flushDelayMs);
    }
    batch.items.push(reading);
    if (batch.items.length >= FLUSH_ITEMS) this.#send(batch);
    return batch.done;
  }

  /** Queues `batch` for writing (once), after the batches before it. */
  #send(batch: Batch): void {
    if (batch.timer === undefined) return;
    clearTimeout(batch.timer);
    batch.timer = undefined;
    if (this.#batch === batch) this.#batch = undefined;
    this.#writing = this.#writing.then(() => this.#write(batch));
  }

  async #write(batch: Batch): Promise<void> {
    try {
      const ops = this.#db.batch();
      // Heads of devices this store has not seen yet: one read for the batch.
      const unknown = [...new Set(batch.items.map((r) => r.deviceId))].filter((d) => !this.#heads.has(d));
      if (unknown.length > 0) {
        const stored = await this.#db.getMany(unknown.map(headKey));
        unknown.forEach((dev, i) => {
          const value = stored[i];
          this.#heads.set(dev, value === undefined ? -1 : decodeHead(value).seq);
        });
      }
      // One head write per device and batch: its highest seq.
      const heads = new Map<string, StoredReadingInput>();
      for (const r of batch.items) {
        ops.put(readingKey(r.deviceId, r.seq), readingValue(r));
        ops.put(indexKey(r.leafIndex), indexValue(r.received, r.seq, r.deviceId));
        if (r.seq > (this.#heads.get(r.deviceId) as number)) {
          this.#heads.set(r.deviceId, r.seq);
          heads.set(r.deviceId, r);
        }
      }
      for (const [dev, r] of heads) ops.put(headKey(dev), headValue(r));
      // The mark of the batches already written: a lower bound, as it must be.
      ops.put(metaKey('mark'), u64(this.#mark));
      await ops.write();
      for (const r of batch.items) this.#stored(r.leafIndex);
      batch.resolve();
    } catch (err) {
      batch.reject(err);
    }
  }

  #stored(index: number): void {
    if (index < this.#mark) return;
    this.#above.add(index);
    while (this.#above.delete(this.#mark)) this.#mark++;
  }

  /** Recovery handled every leaf below `index` (stored them, or found their bytes pruned). */
  advanceMark(index: number): void {
    checkSeq(index, 'index');
    if (index <= this.#mark) return;
    this.#mark = index;
    for (const i of this.#above) if (i < index) this.#above.delete(i);
    while (this.#above.delete(this.#mark)) this.#mark++;
  }

  /** Resolves once every put so far is written, and the mark with them. */
  async flush(): Promise<void> {
    const pending = this.#batch;
    if (pending !== undefined) {
      this.#send(pending);
      await pending.done.catch(() => {});
    }
    await this.#writing;
    await this.#db.put(metaKey('mark'), u64(this.#mark));
  }

  /** The reading of `dev` with `seq`, if stored. */
  async get(dev: string, seq: number): Promise<StoredReading | undefined> {
    checkDevice(dev);
    checkSeq(seq, 'seq');
    const key = readingKey(dev, seq);
    const value = await this.#db.get(key);
    return value === undefined ? undefined : decodeReadingEntry(dev, key, value);
  }

  /** A page of `dev`'s readings in seq order (oldest first unless `reverse`). */
  async history(dev: string, page: HistoryPage): Promise<StoredReading[]> {
    checkDevice(dev);
    const after = page.afterSeq ?? -1;
    checkSeq(after, 'afterSeq', -1);
    if (page.beforeSeq !== undefined) checkSeq(page.beforeSeq, 'beforeSeq');
    if (!Number.isSafeInteger(page.limit) || page.limit < 1 || page.limit > MAX_HISTORY_PAGE) {
      throw new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, `limit must be 1 to ${MAX_HISTORY_PAGE}`, {
        field: 'limit',
        got: page.limit,
      });
    }
    const lower = after < 0 ? { gte: readingKey(dev, 0) } : { gt: readingKey(dev, after) };
    const upper =
      page.beforeSeq === undefined
        ? { lte: readingKey(dev, Number.MAX_SAFE_INTEGER) }
        : { lt: readingKey(dev, page.beforeSeq) };
    const entries = await this.#db
      .iterator({ ...lower, ...upper, limit: page.limit, reverse: page.reverse === true })
      .all();
    return entries.map(([key, value]) => decodeReadingEntry(dev, key, value));
  }

  /** `dev`'s highest accepted seq (kept through pruning), if any. */
  async head(dev: string): Promise<DeviceHead | undefined> {
    checkDevice(dev);
    const value = await this.#db.get(headKey(dev));
    return value === undefined ? undefined : decodeHead(value);
  }

  /** Leaf indices in [from, to) with no stored reading (recovery). */
  async missing(from: number, to: number): Promise<number[]> {
    checkSeq(from, 'from');
    checkSeq(to, 'to');
    const indices: number[] = [];
    for (let i = from; i < to; i++) indices.push(i);
    if (indices.length === 0) return [];
    const values = await this.#db.getMany(indices.map(indexKey));
    return indices.filter((_, k) => values[k] === undefined);
  }

  /**
   * Deletes the readings received before `cutoff` (ms), oldest leaf first, stopping at the
   * first newer one and never past the mark; then, when `log` is given, the reading bytes of
   * the same leaves in the ledger. Device heads stay (replay protection).
   */
  async prune(cutoff: number, log?: PrunableLog): Promise<PruneResult> {
    checkSeq(cutoff, 'cutoff');
    await this.flush();
    let removed = 0;
    let beforeIndex = 0;
    for (;;) {
      const entries = await this.#db
        .iterator({ gte: indexKey(0), lt: indexKey(this.#mark), limit: PRUNE_CHUNK })
        .all();
      const ops = this.#db.batch();
      let stop = false;
      for (const [key, value] of entries) {
        if (key.length !== 9 || value.length < 17) throw corrupt('an index entry is malformed');
        if (readU64(value, 0) >= cutoff) {
          stop = true;
          break;
        }
        const dev = String.fromCharCode(...value.subarray(16));
        ops.del(key);
        ops.del(readingKey(dev, readU64(value, 8)));
        beforeIndex = readU64(key, 1) + 1;
        removed++;
      }
      await ops.write();
      if (stop || entries.length < PRUNE_CHUNK) break;
    }
    if (log !== undefined && beforeIndex > log.prunedBefore) await log.prune(beforeIndex);
    return { removed, beforeIndex };
  }

  /** Writes what is pending and the mark, then closes the database. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.flush();
      } finally {
        await this.#db.close();
      }
    })();
    return this.#closing;
  }
}
