/**
 * The connect half of the scale suite: gateway-connect.ts (authenticated connects/s, memory per
 * idle device at 1,000 and 10,000 devices) with issue 4's memory target on its rows, capped by
 * the open-file limit as gateway.ts's connect phase is (the same function).
 *
 *   npx tsx test/bench/scale-connect.ts
 */
import { connectPhase } from './gateway.js';
import { type BenchOptions, isMain, type Row, standalone } from './harness.js';
import { progress } from './progress.js';

export function run(options: BenchOptions = {}): Promise<Row[]> {
  progress.update('connects/s and memory per idle device');
  return connectPhase(options);
}

if (isMain(import.meta.url)) await standalone(run);
