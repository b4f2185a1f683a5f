/**
 * The connect half of the scale suite: gateway-connect.ts (authenticated connects/s, memory per
 * idle device at 1,000 and 10,000 devices) with issue 4's memory target on its rows. 10,000
 * devices need as many sockets here and in the gateway: when the open-file limit is lower, the
 * largest count it allows is measured instead, and the rows say so. (gateway.ts does the same
 * in a function it does not export; see /work/notes/h7-requests.md.)
 *
 *   npx tsx test/bench/scale-connect.ts
 */
import { readFile } from 'node:fs/promises';
import { GATEWAY_TARGETS } from './gateway.js';
import { run as runConnect } from './gateway-connect.js';
import { type BenchOptions, isMain, type Row, standalone } from './harness.js';
import { progress } from './progress.js';

const FULL_DEVICES = 10_000;
/** Sockets beyond the devices: warm-up devices, the child's own files. */
const FD_MARGIN = 500;

async function openFileLimit(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return match === null || match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const limit = await openFileLimit();
  let capped: string | undefined;
  if (
    options.quick !== true &&
    process.env.MEDGATE_BENCH_DEVICES === undefined &&
    limit < FULL_DEVICES + FD_MARGIN
  ) {
    const devices = Math.max(1_000, limit - FD_MARGIN);
    process.env.MEDGATE_BENCH_DEVICES = String(devices);
    capped = `open-file limit ${limit} (ulimit -n): ${devices} devices, not ${FULL_DEVICES}`;
  }
  try {
    progress.update('connects/s and memory per idle device');
    const rows = await runConnect(options);
    return rows.map((row) => ({
      ...row,
      ...(row.unit === 'KB/device'
        ? { target: GATEWAY_TARGETS.kbPerIdleDevice, targetKind: 'max' as const }
        : {}),
      ...(capped === undefined ? {} : { note: `${row.note}; ${capped}` }),
    }));
  } finally {
    if (capped !== undefined) delete process.env.MEDGATE_BENCH_DEVICES;
  }
}

if (isMain(import.meta.url)) await standalone(run);
