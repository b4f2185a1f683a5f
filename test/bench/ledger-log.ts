/**
 * Reading-log throughput: durable appends with group commit and C concurrent appenders, then
 * inclusion and consistency proofs read from the store at random positions of a large log.
 *
 *   npx tsx test/bench/ledger-log.ts
 *
 * Env: MEDGATE_BENCH_APPENDS (default 200000), MEDGATE_BENCH_ROUNDS (3),
 * MEDGATE_BENCH_CONCURRENCY (1000), MEDGATE_BENCH_PROOF_LEAVES (1000000),
 * MEDGATE_BENCH_PROOFS (100000), MEDGATE_BENCH_MAX_BATCH.
 *
 * Rates are wall-clock; the notes add the CPU time per operation over all threads, which a
 * busy machine disturbs less, and the load average.
 */
import { hash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataDir } from '../../gateway/ledger/data-dir.js';
import { ReadingLog, type ReadingLogOptions } from '../../gateway/ledger/reading-log.js';
import {
  type BenchOptions,
  envNumber,
  isMain,
  knob,
  loadNote,
  type Measured,
  measure,
  median,
  type Row,
  standalone,
} from './harness.js';

// Reading-sized leaves (a reading's COSE_Sign1 is ~150-250 bytes, a third of it signature
// and kid): 100 random bytes from a pool, then the seq, so that every leaf is unique.
const POOL = new Uint8Array(1 << 16);
crypto.getRandomValues(POOL);
function leafData(seq: number): Uint8Array {
  const data = new Uint8Array(180);
  const at = (seq * 97) % (POOL.length - 100);
  data.set(POOL.subarray(at, at + 100));
  new DataView(data.buffer).setFloat64(100, seq);
  return data;
}

async function appendMany(log: ReadingLog, from: number, to: number, concurrency: number): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const seq = next++;
      await log.append({ leafData: leafData(seq), deviceId: `dev-${seq % 1000}`, seq });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Runs `count` calls of `fn` with `concurrency` outstanding. */
async function runConcurrent(count: number, concurrency: number, fn: () => Promise<unknown>): Promise<void> {
  let left = count;
  const worker = async () => {
    while (left > 0) {
      left--;
      await fn();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function withLog<T>(options: ReadingLogOptions, fn: (log: ReadingLog) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'medgate-bench-log-'));
  try {
    const dataDir = await openDataDir(dir, { create: true });
    const log = await ReadingLog.open(dataDir, options);
    try {
      return await fn(log);
    } finally {
      await log.close();
      await dataDir.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** CPU time of the whole process (every thread: JS, libuv pool, LevelDB compaction) per op. */
const cpuNote = (m: Measured, unit: string) => `${(m.cpuPerOp * 1e6).toFixed(1)} us CPU/${unit}`;

/** Machine speed reference (shared VMs vary): node:crypto SHA-256 of a 65-byte node, ns each. */
function referenceHashNs(): number {
  const input = new Uint8Array(65);
  const n = 200_000;
  for (let i = 0; i < n / 10; i++) hash('sha256', input, 'buffer');
  const start = performance.now();
  for (let i = 0; i < n; i++) hash('sha256', input, 'buffer');
  return Math.round(((performance.now() - start) * 1e6) / n);
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const appends = knob(options, 'MEDGATE_BENCH_APPENDS', 200_000, 2000);
  const rounds = knob(options, 'MEDGATE_BENCH_ROUNDS', 3, 1);
  const concurrency = knob(options, 'MEDGATE_BENCH_CONCURRENCY', 1000, 100);
  const proofLeaves = knob(options, 'MEDGATE_BENCH_PROOF_LEAVES', 1_000_000, 5000);
  const proofs = knob(options, 'MEDGATE_BENCH_PROOFS', 100_000, 1000);
  const maxBatch = envNumber('MEDGATE_BENCH_MAX_BATCH');
  const logOptions: ReadingLogOptions = maxBatch === undefined ? {} : { maxBatch };
  const rows: Row[] = [
    {
      bench: 'reference: node:crypto SHA-256 of 65 bytes',
      value: referenceHashNs(),
      unit: 'ns/hash',
      note: `compare runs by this; ${loadNote()}`,
    },
  ];

  // Durable appends into a fresh log, best of `rounds` (the machine may be shared).
  const results: (Measured & { batches: number; items: number })[] = [];
  for (let r = 0; r < rounds; r++) {
    results.push(
      await withLog(logOptions, async (log) => {
        const m = await measure(appends, () => appendMany(log, 0, appends, concurrency));
        return { ...m, ...log.stats };
      }),
    );
  }
  results.sort((a, b) => b.perSecond - a.perSecond);
  const best = results[0] as (typeof results)[number];
  rows.push({
    bench: `append, durable group commit (C=${concurrency}, ${appends} leaves, best of ${rounds})`,
    value: best.perSecond,
    unit: 'leaves/s',
    target: 100_000,
    note: `median ${median(results.map((x) => x.perSecond)).toLocaleString('en-US')}; ${cpuNote(best, 'leaf')}; mean batch ${Math.round(best.items / best.batches)}; ${loadNote()}`,
  });

  await withLog(logOptions, async (log) => {
    const fill = await measure(proofLeaves, () => appendMany(log, 0, proofLeaves, concurrency));
    rows.push({
      bench: `append, filling a log to ${proofLeaves} leaves`,
      value: fill.perSecond,
      unit: 'leaves/s',
      note: `${cpuNote(fill, 'leaf')}; ${loadNote()}`,
    });

    const size = log.size;
    const rand = (n: number) => Math.floor(Math.random() * n);
    const inc = await measure(proofs, () =>
      runConcurrent(proofs, 64, () => log.inclusionProof(rand(size), size)),
    );
    rows.push({
      bench: `inclusion proof, random index of ${size}`,
      value: inc.perSecond,
      unit: 'proofs/s',
      target: 20_000,
      note: `${cpuNote(inc, 'proof')}; ${loadNote()}`,
    });
    const old = await measure(proofs, () =>
      runConcurrent(proofs, 64, () => {
        const n = 1 + rand(size);
        return log.inclusionProof(rand(n), n);
      }),
    );
    rows.push({
      bench: 'inclusion proof, random index and size',
      value: old.perSecond,
      unit: 'proofs/s',
      note: `${cpuNote(old, 'proof')}; ${loadNote()}`,
    });
    const con = await measure(proofs, () =>
      runConcurrent(proofs, 64, () => {
        const size2 = 1 + rand(size);
        return log.consistencyProof(1 + rand(size2), size2);
      }),
    );
    rows.push({
      bench: 'consistency proof, random sizes',
      value: con.perSecond,
      unit: 'proofs/s',
      note: `${cpuNote(con, 'proof')}; ${loadNote()}`,
    });
  });
  return rows;
}

if (isMain(import.meta.url)) await standalone(run);
