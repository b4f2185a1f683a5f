/**
 * `npm run bench -- e2e scale --quick` end to end: brokers, load generators, the JSON and the
 * chart. Too long for `npm test` (about two minutes on two cores), so it runs only with
 * MEDGATE_BENCH_LONG=1:
 *
 *   MEDGATE_BENCH_LONG=1 npx vitest run test/bench/bench-long.test.ts
 *
 * It checks that every promised row is there and that nothing was lost, not how fast anything is.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SuiteRow } from './main.js';
import { SWEEP_QUICK } from './sweep.js';
import { DESIGNS } from './sweep-chart.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TIMEOUT_MS = 600_000;

describe.skipIf(process.env.MEDGATE_BENCH_LONG !== '1')('npm run bench -- e2e scale --quick', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medgate-bench-long-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every e2e and scale row, the chart, and loses nothing', { timeout: TIMEOUT_MS }, async () => {
    const file = join(dir, 'bench.json');
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'test/bench/main.ts', 'e2e', 'scale', '--quick', '--json', file],
      { cwd: ROOT, timeout: TIMEOUT_MS, maxBuffer: 16 * 2 ** 20 },
    );
    const { rows } = JSON.parse(await readFile(file, 'utf8')) as { rows: SuiteRow[] };
    for (const row of rows) expect(stdout, row.bench).toContain(row.bench);

    const e2e = rows.filter((r) => r.suite === 'e2e');
    for (const n of SWEEP_QUICK) {
      for (const d of DESIGNS) {
        const at = (metric: string) =>
          e2e.find(
            (r) => r.params?.publishers === n && r.params.design === d.design && r.params.metric === metric,
          );
        expect(at('throughput')?.value, `${n} ${d.design}`).toBeGreaterThan(0);
        expect(at('latency p99')?.value, `${n} ${d.design}`).toBeGreaterThan(0);
        expect(at('latency p50')!.value).toBeLessThanOrEqual(at('latency p99')!.value);
      }
      expect(
        e2e.filter((r) => r.params?.publishers === n && r.params.metric === 'throughput ratio'),
      ).toHaveLength(2);
    }
    expect(e2e.find((r) => r.bench === 'reading log after the sweep')?.value).toBeGreaterThan(0);

    const svg = await readFile(join(dir, 'bench.svg'), 'utf8');
    expect(svg.match(/<g class="series"/g)).toHaveLength(DESIGNS.length);
    expect(svg.match(/<circle /g)).toHaveLength(DESIGNS.length * SWEEP_QUICK.length);

    const scale = rows.filter((r) => r.suite === 'scale');
    expect(scale.find((r) => r.bench === 'authenticated connects')?.value).toBeGreaterThan(0);
    expect(scale.find((r) => r.bench === 'gateway memory per idle device at 1,000')?.unit).toBe('KB/device');
    const loss = scale.find((r) => r.params?.metric === 'delivered')!;
    expect(loss.value).toBe(100);
    expect(loss.params?.lost).toBe(0);
    expect(scale.find((r) => r.params?.metric === 'latency p99')?.value).toBeGreaterThan(0);
  });
});
