/**
 * `npm run bench` runs and reports: the crypto suite under --quick writes every row it
 * promises, each with a positive finite value. It checks that the benches work, not how fast
 * anything is; the timeout only bounds a hung child.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Machine } from './harness.js';
import type { SuiteRow } from './main.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bench = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'test/bench/main.ts', ...args], { cwd: ROOT, timeout: 20_000 });

const CRYPTO_ROWS = [
  'ed25519 sign (noble)',
  'ed25519 verify (noble)',
  'ed25519 sign (node)',
  'ed25519 verify (node)',
  'ed25519 sign ratio node/noble',
  'ed25519 verify ratio node/noble',
  'COSE_Sign1 sign (node)',
  'COSE_Sign1 decode+verify (node)',
  'COSE_Sign1 sign (noble)',
  'COSE_Sign1 decode+verify (noble)',
  'reading decode: medgate decodeCbor',
  'reading decode: medgate + decodeReading',
  'inclusion proof generate',
  'inclusion proof verify',
];

describe('npm run bench', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medgate-bench-smoke-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the crypto suite with --quick and writes its rows as JSON', { timeout: 20_000 }, async () => {
    const file = join(dir, 'crypto.json');
    const { stdout, stderr } = await bench('crypto', '--quick', '--json', file);
    expect(stdout.split('\n')[0]).toMatch(/^machine: \d+ x .+, node v\d+/);
    // Progress goes to stderr, as plain lines when it is not a terminal: one per part, then the total.
    const progress = stderr.split('\n').filter((line) => line.startsWith('bench'));
    expect(progress.slice(0, 3).map((line) => line.replace(/^bench \d+:\d\d /, ''))).toEqual([
      '[1/3] crypto: crypto.ts',
      '[2/3] crypto: cbor.ts',
      '[3/3] crypto: merkle.ts',
    ]);
    expect(progress.at(-1)).toMatch(/^bench: done in \d+:\d\d$/);
    expect(stderr).not.toContain('\x1b[');
    // No e2e suite in the run, so no chart beside the JSON.
    await expect(readFile(join(dir, 'crypto.svg'))).rejects.toMatchObject({ code: 'ENOENT' });

    const out = JSON.parse(await readFile(file, 'utf8')) as {
      machine: Machine;
      quick: boolean;
      rows: SuiteRow[];
    };
    expect(out.quick).toBe(true);
    expect(out.machine.cpus).toBeGreaterThan(0);
    expect(out.machine.node).toBe(process.version);
    expect(out.machine.loadavg).toHaveLength(3);
    expect(Number.isNaN(Date.parse(out.machine.date))).toBe(false);

    expect(out.rows.map((r) => r.bench)).toEqual(CRYPTO_ROWS);
    for (const row of out.rows) {
      expect(row.suite, row.bench).toBe('crypto');
      expect(Number.isFinite(row.value) && row.value > 0, `${row.bench}: ${row.value}`).toBe(true);
      expect(row.unit, row.bench).not.toBe('');
      // Every row is in the printed table too.
      expect(stdout).toContain(row.bench);
    }
  });

  it('refuses an unknown suite with one line and exit code 2', { timeout: 20_000 }, async () => {
    const err = await bench('nosuch').then(
      () => undefined,
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(err?.code).toBe(2);
    expect(err?.stdout).toBe('');
    expect(err?.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^bench: unknown suite 'nosuch'/)]);
  });
});
