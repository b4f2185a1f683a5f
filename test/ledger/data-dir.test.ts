import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayErrorCode, isMedgateError } from '../../gateway/errors.js';
import { DATA_DIR_FORMAT, LEDGER_SUBDIR, openDataDir } from '../../gateway/ledger/data-dir.js';
import { META, metaKey } from '../../gateway/ledger/keys.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DATA_DIR_TS = pathToFileURL(join(ROOT, 'gateway/ledger/data-dir.ts')).href;

/** Runs `node --import tsx` on a script that tries to open `dir`; returns its one line of stdout. */
function openInChild(dir: string): Promise<string> {
  const script = `
    import { openDataDir } from ${JSON.stringify(DATA_DIR_TS)};
    try { const d = await openDataDir(${JSON.stringify(dir)}, { create: true }); console.log('opened'); await d.close(); }
    catch (err) { console.log(err.code ?? String(err)); }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'medgate-datadir-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('openDataDir', () => {
  it('creates the directory, stamps the format, and reopens after a clean close', async () => {
    const dir = join(base, 'nested', 'data');
    const d1 = await openDataDir(dir, { create: true });
    expect(d1.path).toBe(dir);
    const format = await d1.db.get(metaKey(META.format));
    expect(new TextDecoder().decode(format)).toBe(String(DATA_DIR_FORMAT));
    await d1.db.put(new Uint8Array([0x62, 1]), new Uint8Array([7]));
    await d1.close();
    await d1.close(); // idempotent

    const d2 = await openDataDir(dir, { create: true });
    const value = await d2.db.get(new Uint8Array([0x62, 1]));
    expect(value && Array.from(value)).toEqual([7]);
    await d2.close();
  });

  it('refuses a second open in the same process with MG_ERR_DATA_DIR_LOCKED', async () => {
    const d1 = await openDataDir(base, { create: true });
    const err = await openDataDir(base, { create: true }).catch((e: unknown) => e);
    expect(isMedgateError(err, GatewayErrorCode.DATA_DIR_LOCKED)).toBe(true);
    expect((err as Error).message).toContain(base);
    // The first handle is unharmed.
    await d1.db.put(new Uint8Array([0x62]), new Uint8Array([1]));
    await d1.close();
    const d2 = await openDataDir(base, { create: true });
    await d2.close();
  });

  it('refuses an open from another process with MG_ERR_DATA_DIR_LOCKED, and allows it after close', async () => {
    const d1 = await openDataDir(base, { create: true });
    expect(await openInChild(base)).toBe(GatewayErrorCode.DATA_DIR_LOCKED);
    await d1.close();
    expect(await openInChild(base)).toBe('opened');
  });

  it('refuses an unknown format with MG_ERR_DATA_DIR_FORMAT', async () => {
    const d1 = await openDataDir(base, { create: true });
    await d1.db.put(metaKey(META.format), new TextEncoder().encode('999'));
    await d1.close();
    const err = await openDataDir(base, { create: true }).catch((e: unknown) => e);
    expect(isMedgateError(err, GatewayErrorCode.DATA_DIR_FORMAT)).toBe(true);
    expect((err as { got?: unknown }).got).toBe('999');
    // The refused open released the lock.
    const err2 = await openDataDir(base, { create: true }).catch((e: unknown) => e);
    expect(isMedgateError(err2, GatewayErrorCode.DATA_DIR_FORMAT)).toBe(true);
  });

  it('refuses a non-empty database without a format marker', async () => {
    const d1 = await openDataDir(base, { create: true });
    await d1.db.del(metaKey(META.format));
    await d1.db.put(new Uint8Array([0x6e, 0]), new Uint8Array(32));
    await d1.close();
    const err = await openDataDir(base, { create: true }).catch((e: unknown) => e);
    expect(isMedgateError(err, GatewayErrorCode.DATA_DIR_FORMAT)).toBe(true);
  });

  it('reports a path it cannot create with MG_ERR_DATA_DIR_OPEN_FAILED', async () => {
    const file = join(base, 'a-file');
    await writeFile(file, 'x');
    const err = await openDataDir(join(file, 'data'), { create: true }).catch((e: unknown) => e);
    expect(isMedgateError(err, GatewayErrorCode.DATA_DIR_OPEN_FAILED)).toBe(true);
  });

  it('opens only an existing ledger unless asked to create it, and writes nothing then', async () => {
    const missing = join(base, 'typo');
    const err = await openDataDir(missing).catch((e: unknown) => e);
    expect(isMedgateError(err, GatewayErrorCode.LEDGER_NOT_INITIALIZED)).toBe(true);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(base)).toEqual([]);
  });

  it('keeps the LevelDB files in the ledger subdirectory', async () => {
    const d1 = await openDataDir(base, { create: true });
    await d1.close();
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(base)).toEqual([LEDGER_SUBDIR]);
    expect(await readdir(join(base, LEDGER_SUBDIR))).toContain('LOCK');
  });
});
