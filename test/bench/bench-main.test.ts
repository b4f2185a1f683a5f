/**
 * The parts of `npm run bench` that need no benchmark run: where the chart goes, the chart drawn
 * from e2e rows, the sweep's publisher list, the sustained suite's loss arithmetic, and a
 * failing script (a bad knob fails before any broker starts) reported without ending the run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Machine, Row } from './harness.js';
import { chartSvg, DEFAULT_SUITES, type SuiteRow, svgPath } from './main.js';
import type { DoneMessage } from './scale-generator.js';
import { type SustainedSettings, sustainedRows } from './scale-sustained.js';
import { SWEEP_FULL, sweepPoints } from './sweep.js';
import { DESIGNS, throughputChart } from './sweep-chart.js';

const MACHINE: Machine = {
  cpus: 2,
  model: 'Test CPU',
  node: 'v20.20.2',
  platform: 'linux x64',
  loadavg: [0.5, 0.5, 0.5],
  date: '2026-11-23T00:00:00.000Z',
};

/** e2e rows as sweep.ts writes them: one throughput row per design and point, and others. */
function e2eRows(points: readonly number[]): SuiteRow[] {
  return points.flatMap((n) => [
    ...DESIGNS.map((d, i) => ({
      suite: 'e2e',
      bench: `${n} pub: (${d.letter}) ${d.label}`,
      value: n * 100 * (i + 1),
      unit: 'readings/s',
      params: { publishers: n, design: d.design, metric: 'throughput' },
    })),
    {
      suite: 'e2e',
      bench: `${n} pub: ratio a/b`,
      value: 0.5,
      unit: 'x',
      params: { publishers: n, metric: 'throughput ratio', of: 'a/b' },
    },
  ]);
}

describe('svgPath', () => {
  it('puts the chart next to the JSON unless --svg names a file', () => {
    expect(svgPath('out/bench.json', undefined)).toBe('out/bench.svg');
    expect(svgPath('bench', undefined)).toBe('bench.svg');
    expect(svgPath('bench.json', 'chart.svg')).toBe('chart.svg');
    expect(svgPath(undefined, 'chart.svg')).toBe('chart.svg');
    expect(svgPath(undefined, undefined)).toBeUndefined();
  });
});

describe('the e2e chart', () => {
  it('has one series per design with a point per publisher count', () => {
    const chart = throughputChart(e2eRows([1, 2, 5]))!;
    expect(chart.xTicks).toEqual([1, 2, 5]);
    expect(chart.series.map((s) => s.name)).toEqual([
      '(a) medgate gateway',
      '(b) plain aedes',
      '(c) naive in-hook verify',
    ]);
    expect(chart.series[1]!.points).toEqual([
      { x: 1, y: 200 },
      { x: 2, y: 400 },
      { x: 5, y: 1000 },
    ]);
  });

  it('is drawn from the e2e rows of a run only, and names the machine', () => {
    const rows: SuiteRow[] = [
      { suite: 'crypto', bench: 'ed25519 verify (node)', value: 7000, unit: 'ops/CPU-s' },
      ...e2eRows([1, 10]),
    ];
    const svg = chartSvg(rows, MACHINE, true)!;
    expect(svg).toContain('<svg');
    expect(svg).toContain('2 × Test CPU, linux x64, node v20.20.2');
    expect(svg).toContain('--quick: not to be quoted');
    expect(svg.match(/<circle /g)).toHaveLength(6);
    expect(chartSvg(rows.slice(0, 1), MACHINE, false)).toBeUndefined();
  });
});

describe('suites', () => {
  it('runs e2e and scale by default, and gateway only when named', () => {
    expect(DEFAULT_SUITES).toContain('e2e');
    expect(DEFAULT_SUITES).toContain('scale');
    expect(DEFAULT_SUITES).not.toContain('gateway');
  });

  it('reads the sweep from MEDGATE_BENCH_SWEEP', () => {
    expect(sweepPoints(undefined)).toEqual(SWEEP_FULL);
    expect(sweepPoints('1, 3,8')).toEqual([1, 3, 8]);
    for (const bad of ['', '0,1', '2,1', '1,1', '1.5', 'a', '1,,2']) {
      expect(() => sweepPoints(bad), bad).toThrow(/MEDGATE_BENCH_SWEEP/);
    }
  });
});

describe('sustained rows', () => {
  const s: SustainedSettings = { devices: 4, seconds: 5, generators: 2 };
  const gw = { cpu: { child: 1, self: 0.5, wall: 10 }, rssBefore: 100, rssPeak: 120, generators: 2 };
  const done = (sent: number, latencies: number[]): DoneMessage => ({
    type: 'done',
    sent,
    acked: latencies.length,
    latencies: Float64Array.from(latencies),
    lagP99: 1,
    lagMax: 2,
    closed: 0,
    reconnects: 0,
    cpuSeconds: 0.2,
    rssMb: 50,
  });
  const value = (rows: Row[], suffix: string) => rows.find((r) => r.bench.endsWith(suffix))!;

  it('is 100 % when every reading was acknowledged and logged', () => {
    const latencies = Array.from({ length: 10 }, (_, i) => i + 1);
    const rows = sustainedRows(s, [done(10, latencies), done(10, latencies)], { ...gw, leaves: 20 });
    expect(value(rows, 'acknowledged and in the log').value).toBe(100);
    expect(value(rows, 'acknowledged and in the log').params?.lost).toBe(0);
    expect(value(rows, 'readings acknowledged').value).toBe(4);
    expect(value(rows, 'PUBACK p50').value).toBe(6);
    expect(value(rows, 'PUBACK p99').value).toBe(10);
  });

  it('counts readings not acknowledged, and acknowledged but missing from the log, as lost', () => {
    const rows = sustainedRows(s, [done(10, [1, 2, 3, 4, 5, 6, 7, 8]), done(10, [1, 2])], {
      ...gw,
      leaves: 10,
    });
    const loss = value(rows, 'acknowledged and in the log');
    expect(loss.value).toBe(50);
    expect(loss.params?.lost).toBe(10);
    const missing = sustainedRows(s, [done(10, Array(10).fill(1)), done(10, Array(10).fill(1))], {
      ...gw,
      leaves: 19,
    });
    expect(value(missing, 'acknowledged and in the log').value).toBe(95);
    expect(value(missing, 'acknowledged and in the log').note).toContain('log ≠ acknowledged');
  });
});

describe('a script that fails', () => {
  it('is reported on stderr, in the JSON and in the exit code, and the run goes on', {
    timeout: 20_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'medgate-bench-fail-'));
    try {
      const file = join(dir, 'out.json');
      const err = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'test/bench/main.ts', 'e2e', 'crypto', '--json', file],
        {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          timeout: 20_000,
          // crypto with tiny rounds: the suite after the failure still runs and reports.
          env: {
            ...process.env,
            MEDGATE_BENCH_SWEEP: '3,2',
            MEDGATE_BENCH_ROUNDS: '1',
            MEDGATE_BENCH_SECONDS: '0.01',
            MEDGATE_BENCH_MERKLE_LEAVES: '64',
          },
        },
      ).then(
        () => undefined,
        (e: unknown) => e as { code: number; stdout: string; stderr: string },
      );
      expect(err?.code).toBe(1);
      expect(err?.stderr).toContain('bench: e2e: sweep.ts failed: Error: MEDGATE_BENCH_SWEEP=3,2');
      expect(err?.stdout).toContain('failed: e2e: sweep.ts');
      expect(err?.stdout).toContain('ed25519 verify (node)');
      const out = JSON.parse(await readFile(file, 'utf8')) as { failed: unknown[]; rows: SuiteRow[] };
      expect(out.failed).toEqual([
        { suite: 'e2e', part: 'sweep.ts', error: expect.stringContaining('MEDGATE_BENCH_SWEEP') },
      ]);
      expect(out.rows.length).toBeGreaterThan(0);
      expect(out.rows.every((r) => r.suite === 'crypto')).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
