/**
 * The gateway's data directory: `DIR/ledger/` holds the one LevelDB that every ledger part
 * shares (key layout in keys.ts); the rest of DIR is free for other files (demo keys, config).
 * LevelDB's LOCK file keeps a second process, or a second open in this process, out: that
 * is reported as MG_ERR_DATA_DIR_LOCKED instead of risking a corrupt ledger.
 */
import { access, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Level } from 'level';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import { META, metaKey } from './keys.js';
import { migrate1to2 } from './migrate.js';

/** Keys and values are raw bytes: every part encodes its own (keys.ts). */
export type LedgerDb = Level<Uint8Array, Uint8Array>;

/**
 * Version of the layout in keys.ts. Bump it, with a migration, when the layout changes.
 * 2: leaf records (`n` ‖ 0 ‖ index) hold the nodes the leaf completes and its reading,
 *    which format 1 kept under `n` ‖ level ‖ index and `r` ‖ index (migrate.ts).
 */
export const DATA_DIR_FORMAT = 2;

/** Subdirectory of the data directory that holds the LevelDB files. */
export const LEDGER_SUBDIR = 'ledger';

export interface DataDirOptions {
  /** LevelDB block cache in bytes (proofs read random nodes). Default 64 MiB. */
  cacheSize?: number;
  /**
   * LevelDB memtable size in bytes. Default 64 MiB (up to twice that in memory while one is
   * flushed): fewer, larger level-0 files cut compaction work per leaf by a third against 16 MiB.
   */
  writeBufferSize?: number;
  /**
   * Create `DIR/ledger/` when it is missing (only `medgate init` does). Default false: every
   * other command opens an existing ledger and must not leave an empty one behind a typo.
   */
  create?: boolean;
}

export interface DataDir {
  /** Absolute path of the data directory. */
  readonly path: string;
  readonly db: LedgerDb;
  /** Closes the database. Close the parts built on it (reading log, chain) first. */
  close(): Promise<void>;
}

const FORMAT_KEY = metaKey(META.format);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Opens the ledger database of `dir`; creates it first only with `create: true`, otherwise a
 * missing `DIR/ledger/` is MG_ERR_LEDGER_NOT_INITIALIZED and nothing is written.
 */
export async function openDataDir(dir: string, options: DataDirOptions = {}): Promise<DataDir> {
  const path = resolve(dir);
  if (options.create === true) {
    try {
      await mkdir(join(path, LEDGER_SUBDIR), { recursive: true });
    } catch (cause) {
      throw new MedgateError(GatewayErrorCode.DATA_DIR_OPEN_FAILED, `cannot create data directory ${path}`, {
        field: 'dir',
        cause,
      });
    }
  } else {
    try {
      await access(join(path, LEDGER_SUBDIR));
    } catch {
      throw new MedgateError(
        GatewayErrorCode.LEDGER_NOT_INITIALIZED,
        `no ledger in ${path} (run \`medgate init --data ${dir}\` first)`,
        { field: 'dir' },
      );
    }
  }
  const db: LedgerDb = new Level<Uint8Array, Uint8Array>(join(path, LEDGER_SUBDIR), {
    keyEncoding: 'view',
    valueEncoding: 'view',
    cacheSize: options.cacheSize ?? 64 * 1024 * 1024,
    writeBufferSize: options.writeBufferSize ?? 64 * 1024 * 1024,
  });
  try {
    await db.open();
  } catch (cause) {
    throw openError(path, cause);
  }
  try {
    await checkFormat(db, path);
  } catch (err) {
    await db.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return Object.freeze({
    path,
    db,
    close: () => {
      closing ??= db.close();
      return closing;
    },
  });
}

/** LevelDB reports a held LOCK as LEVEL_DATABASE_NOT_OPEN caused by LEVEL_LOCKED. */
function openError(path: string, cause: unknown): MedgateError {
  const inner = (cause as { cause?: { code?: unknown } } | undefined)?.cause;
  if (inner?.code === 'LEVEL_LOCKED') {
    return new MedgateError(
      GatewayErrorCode.DATA_DIR_LOCKED,
      `data directory ${path} is in use by another medgate process`,
      { field: 'dir', cause },
    );
  }
  return new MedgateError(GatewayErrorCode.DATA_DIR_OPEN_FAILED, `cannot open the ledger in ${path}`, {
    field: 'dir',
    cause,
  });
}

/** Stamps a new database with DATA_DIR_FORMAT, migrates an older one, refuses any other format or none on a used one. */
async function checkFormat(db: LedgerDb, path: string): Promise<void> {
  const stored = await db.get(FORMAT_KEY);
  if (stored === undefined) {
    const anyKey = await db.keys({ limit: 1 }).all();
    if (anyKey.length > 0) {
      throw new MedgateError(
        GatewayErrorCode.DATA_DIR_FORMAT,
        `${path} holds a database without a medgate format marker`,
        { field: 'format', got: 'none', want: DATA_DIR_FORMAT },
      );
    }
    await db.put(FORMAT_KEY, encoder.encode(String(DATA_DIR_FORMAT)), { sync: true });
    return;
  }
  const text = decoder.decode(stored);
  if (text === '1') {
    await migrate1to2(db);
    return;
  }
  if (text !== String(DATA_DIR_FORMAT)) {
    throw new MedgateError(
      GatewayErrorCode.DATA_DIR_FORMAT,
      `data directory ${path} has format ${JSON.stringify(text)}; this medgate reads format ${DATA_DIR_FORMAT}`,
      { field: 'format', got: text, want: DATA_DIR_FORMAT },
    );
  }
}
