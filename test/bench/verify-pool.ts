/**
 * Raw ed25519 verify/s of the gateway's worker pool (gateway/verify/pool.ts) against one
 * thread of node:crypto and of noble, for pool batch sizes 1, 16, 64 and 256. The jobs are
 * those of telemetry: 256 device keys (KeyObject caches warm), 200-byte Sig_structures. The
 * pool is driven with enough jobs outstanding to keep every worker busy; its rows also give
 * the mean batch actually sent and the main thread's event-loop utilisation (the share of the
 * main thread the pool costs, which MQTT cannot use). Rounds interleave the contenders and
 * the 1-minute load average is printed: on a shared machine, compare rows of one run only.
 *
 *   npx tsx test/bench/verify-pool.ts
 *
 * Env: MEDGATE_BENCH_ROUNDS (default 3), MEDGATE_BENCH_SECONDS per round (2),
 * MEDGATE_BENCH_THREADS (default 2: the pool's threads).
 */
import { performance } from 'node:perf_hooks';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';
import type { VerifyJob } from '../../gateway/verify/batch.js';
import { VerifyPool } from '../../gateway/verify/pool.js';
import {
  type BenchOptions,
  isMain,
  knob,
  loadNote,
  median,
  type Rate,
  type Row,
  rate,
  standalone,
  wallRow,
} from './harness.js';

const KEYS = 256;
const JOBS = 1024;
const BATCH_SIZES = [1, 16, 64, 256] as const;

function fixtures(): VerifyJob[] {
  const keys = Array.from({ length: KEYS }, () => {
    const sk = nodeBackend.generateSecretKey();
    return { sk, pk: nodeBackend.publicKey(sk) };
  });
  return Array.from({ length: JOBS }, (_, i) => {
    const key = keys[i % KEYS]!;
    const message = crypto.getRandomValues(new Uint8Array(200));
    return { publicKey: key.pk, message, signature: nodeBackend.sign(message, key.sk) };
  });
}

/** Single-thread verify/s of `backend` over `rounds` rounds of `seconds`. */
function threadRate(backend: Ed25519Backend, jobs: VerifyJob[], rounds: number, seconds: number): Rate {
  return rate(
    (i) => {
      const job = jobs[i % jobs.length]!;
      if (!backend.verify(job.signature, job.message, job.publicKey)) throw new Error('verify failed');
    },
    { rounds, seconds },
  );
}

/** Pool verify/s with `window` jobs always outstanding, and the main thread's event-loop utilisation. */
async function poolRound(
  pool: VerifyPool,
  jobs: VerifyJob[],
  window: number,
  seconds: number,
): Promise<{ rate: number; elu: number }> {
  let next = 0;
  let done = 0;
  const elu = performance.eventLoopUtilization();
  const start = performance.now();
  const end = start + seconds * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      const job = jobs[next++ % jobs.length]!;
      if (!(await pool.verify(job))) throw new Error('verify failed');
      done++;
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const elapsed = (performance.now() - start) / 1000;
  return { rate: done / elapsed, elu: performance.eventLoopUtilization(elu).utilization };
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const rounds = knob(options, 'MEDGATE_BENCH_ROUNDS', 3, 1);
  const seconds = knob(options, 'MEDGATE_BENCH_SECONDS', 2, 0.1);
  const threads = knob(options, 'MEDGATE_BENCH_THREADS', 2);
  const jobs = fixtures();
  const load = loadNote();

  const noble = threadRate(nobleBackend, jobs, rounds, Math.min(seconds, 1));
  const pools = new Map<number, VerifyPool>();
  try {
    for (const maxBatch of BATCH_SIZES) {
      const pool = await VerifyPool.create({ threads, maxBatch, maxDelayMs: 1 });
      pools.set(maxBatch, pool);
      await poolRound(pool, jobs, windowFor(threads, maxBatch), Math.min(seconds, 0.5)); // warm: JIT, KeyObject caches
    }
    // Rounds interleave the contenders, so that a change in machine load hits them alike.
    const node: number[] = [];
    const runs = new Map<number, Array<{ rate: number; elu: number }>>(BATCH_SIZES.map((b) => [b, []]));
    const before = new Map([...pools].map(([b, p]) => [b, p.stats()]));
    for (let r = 0; r < rounds; r++) {
      node.push(threadRate(nodeBackend, jobs, 1, seconds).median);
      for (const [maxBatch, pool] of pools) {
        runs.get(maxBatch)!.push(await poolRound(pool, jobs, windowFor(threads, maxBatch), seconds));
      }
    }
    const nodeRate = Math.round(median(node));
    const rows: Row[] = [
      { bench: 'verify, one thread (node:crypto)', value: nodeRate, unit: 'verify/s', note: load },
      wallRow('verify, one thread (noble)', noble, 'verify/s', load),
    ];
    for (const [maxBatch, pool] of pools) {
      const results = runs.get(maxBatch)!;
      const rate = Math.round(median(results.map((x) => x.rate)));
      const elu = median(results.map((x) => x.elu));
      const after = pool.stats();
      const start = before.get(maxBatch)!;
      const meanBatch = (after.submitted - start.submitted) / Math.max(1, after.batches - start.batches);
      rows.push({
        bench: `verify pool, ${threads} workers, maxBatch ${maxBatch}`,
        value: rate,
        unit: 'verify/s',
        note: `${(rate / nodeRate).toFixed(2)}x one thread; mean batch ${meanBatch.toFixed(1)}; main-thread ELU ${Math.round(elu * 100)}%`,
      });
    }
    return rows;
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
  }
}

/** Jobs kept outstanding: enough to fill every worker's two in-flight batches, twice over. */
function windowFor(threads: number, maxBatch: number): number {
  return Math.max(64, 2 * threads * 2 * maxBatch);
}

if (isMain(import.meta.url)) await standalone(run);
