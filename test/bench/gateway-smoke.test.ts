/**
 * `npm run bench -- gateway --quick` runs end to end: a gateway, two baseline brokers and a
 * verify pool under load, the delivery latency, connects and memory, and writes every row with a
 * positive finite value. The bench itself checks that the gateway's reading log holds exactly
 * the readings it acknowledged, and fails otherwise. Nothing here is about speed; the timeout
 * only bounds a hung child.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SuiteRow } from './main.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HANG_MS = 180_000;

const GATEWAY_ROWS = [
  '(a) gateway: verified, durably logged, PUBACKed',
  '(b) plain aedes, no verification',
  '(c) naive: node:crypto verify in authorizePublish',
  /^\(d\) verify pool, raw, \d+ threads$/,
  'ratio a/b',
  'ratio a/c',
  'ratio a/d',
  'publish → clinician delivery p50, half load',
  'publish → clinician delivery p99, half load',
  'authenticated connects',
  'gateway memory per idle device at 1,000',
];

describe('npm run bench -- gateway --quick', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medgate-bench-gateway-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every row of the gateway suite with a positive finite value', { timeout: HANG_MS }, async () => {
    const file = join(dir, 'gateway.json');
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'test/bench/main.ts', 'gateway', '--quick', '--json', file],
      { cwd: ROOT, timeout: HANG_MS - 5_000 },
    );
    const out = JSON.parse(await readFile(file, 'utf8')) as { quick: boolean; rows: SuiteRow[] };
    expect(out.quick).toBe(true);
    const names = out.rows.map((r) => r.bench);
    expect(names).toHaveLength(GATEWAY_ROWS.length);
    GATEWAY_ROWS.forEach((want, i) => {
      if (typeof want === 'string') expect(names[i]).toBe(want);
      else expect(names[i]).toMatch(want);
    });
    for (const row of out.rows) {
      expect(row.suite, row.bench).toBe('gateway');
      expect(Number.isFinite(row.value) && row.value > 0, `${row.bench}: ${row.value}`).toBe(true);
      expect(stdout).toContain(row.bench);
    }
    // The targets travel with their rows, as bounds of the right kind.
    const byName = new Map(out.rows.map((r) => [r.bench, r]));
    expect(byName.get('ratio a/c')).toMatchObject({ target: 1.4 });
    expect(byName.get('publish → clinician delivery p99, half load')).toMatchObject({
      target: 50,
      targetKind: 'max',
    });
    expect(byName.get('gateway memory per idle device at 1,000')).toMatchObject({
      target: 30,
      targetKind: 'max',
    });
    expect(stdout).toContain('< 50');
    expect(stdout).toContain('>= 1.4');
  });
});
