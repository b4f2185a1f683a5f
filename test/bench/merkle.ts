/**
 * RFC 9162 Merkle throughput, single-threaded: leaf hashes/s, MemoryTree and CompactRange
 * appends/s, and inclusion and consistency proofs generated/s (from a MemoryTree of 1M leaves,
 * through the proof plans, at random indices and sizes) and verified/s. Each figure is the
 * median of several rounds of a fixed duration.
 *
 *   npx tsx test/bench/merkle.ts
 *
 * Env: MEDGATE_BENCH_ROUNDS (default 5), MEDGATE_BENCH_SECONDS per round (1),
 * MEDGATE_BENCH_MERKLE_LEAVES (1,000,000).
 */
import { pathToFileURL } from 'node:url';
import {
  CompactRange,
  leafHash,
  MemoryTree,
  verifyConsistency,
  verifyInclusion,
} from '../../firmware-ts/protocol/merkle/index.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  target?: number;
  note?: string;
}

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined ? fallback : Number(v);
};

/** Operations per second of `op(i)`: the median of `rounds` rounds of `seconds` each. */
function rate(op: (i: number) => void, rounds: number, seconds: number): number {
  const rates: number[] = [];
  let i = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const end = start + seconds * 1000;
    let count = 0;
    let now = start;
    while (now < end) {
      for (let k = 0; k < 8; k++) op(i++);
      count += 8;
      now = performance.now();
    }
    rates.push(count / ((now - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return Math.round(rates[rates.length >> 1] as number);
}

/** A small deterministic generator, so that runs pick the same indices. */
function randoms(count: number, seed: number): Float64Array {
  const out = new Float64Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) / 0x1_0000_0000;
  }
  return out;
}

const SAMPLES = 4096;

export async function run(): Promise<BenchRow[]> {
  const rounds = env('MEDGATE_BENCH_ROUNDS', 5);
  const seconds = env('MEDGATE_BENCH_SECONDS', 1);
  const leaves = env('MEDGATE_BENCH_MERKLE_LEAVES', 1_000_000);
  const rows: BenchRow[] = [];
  const big = `tree of ${leaves.toLocaleString('en-US')} leaves`;

  // Leaf hashing of reading-sized entries (a COSE_Sign1 reading is about 200 bytes).
  const entries = Array.from({ length: 64 }, () => crypto.getRandomValues(new Uint8Array(200)));
  rows.push({
    name: 'leaf hash',
    value: rate((i) => leafHash(entries[i % 64] as Uint8Array), rounds, seconds),
    unit: 'ops/s',
    note: '200-byte entry',
  });

  const hashes = Array.from({ length: SAMPLES }, (_, i) => leafHash(new Uint8Array([i, i >> 8, 1])));
  let range = new CompactRange();
  rows.push({
    name: 'CompactRange append',
    value: rate(
      (i) => {
        // A fresh range now and then keeps sizes realistic and memory flat.
        if (range.size >= 1 << 24) range = new CompactRange();
        range.append(hashes[i % SAMPLES] as Uint8Array);
      },
      rounds,
      seconds,
    ),
    unit: 'ops/s',
    note: 'leaf hash in, completed nodes out',
  });

  // The MemoryTree of `leaves` leaves: built once, timed once (it is the fixture of the rest).
  const tree = new MemoryTree();
  const t0 = performance.now();
  for (let i = 0; i < leaves; i++) tree.append(hashes[i % SAMPLES] as Uint8Array);
  const buildSeconds = (performance.now() - t0) / 1000;
  rows.push({
    name: 'MemoryTree append',
    value: Math.round(leaves / buildSeconds),
    unit: 'ops/s',
    note: `one build of ${big} (${buildSeconds.toFixed(2)} s), stores every perfect node`,
  });

  const size = tree.size;
  const root = tree.root();
  const r = randoms(2 * SAMPLES, 0x9162);
  const indices = Array.from({ length: SAMPLES }, (_, k) => Math.floor((r[k] as number) * size));
  const sizes1 = Array.from(
    { length: SAMPLES },
    (_, k) => 1 + Math.floor((r[SAMPLES + k] as number) * (size - 1)),
  );

  rows.push({
    name: 'inclusion proof generate',
    value: rate((i) => tree.inclusionProof(indices[i % SAMPLES] as number), rounds, seconds),
    unit: 'ops/s',
    note: `random leaf, ${big}`,
  });
  const inclusion = indices.map((index) => ({
    index,
    leaf: tree.getNode({ level: 0, index }),
    proof: tree.inclusionProof(index),
  }));
  rows.push({
    name: 'inclusion proof verify',
    value: rate(
      (i) => {
        const c = inclusion[i % SAMPLES] as (typeof inclusion)[number];
        verifyInclusion(c.leaf, c.index, size, c.proof, root);
      },
      rounds,
      seconds,
    ),
    unit: 'ops/s',
    note: `${inclusion[0]?.proof.length ?? 0}-hash proofs, ${big}`,
  });

  rows.push({
    name: 'consistency proof generate',
    value: rate((i) => tree.consistencyProof(sizes1[i % SAMPLES] as number), rounds, seconds),
    unit: 'ops/s',
    note: `random size1 to ${size.toLocaleString('en-US')}`,
  });
  const consistency = sizes1.map((size1) => ({
    size1,
    root1: tree.root(size1),
    proof: tree.consistencyProof(size1),
  }));
  rows.push({
    name: 'consistency proof verify',
    value: rate(
      (i) => {
        const c = consistency[i % SAMPLES] as (typeof consistency)[number];
        verifyConsistency(c.size1, size, c.proof, c.root1, root);
      },
      rounds,
      seconds,
    ),
    unit: 'ops/s',
    note: `random size1 to ${size.toLocaleString('en-US')}`,
  });
  return rows;
}

function print(rows: BenchRow[]): void {
  console.table(
    rows.map((r) => ({
      bench: r.name,
      value: r.value.toLocaleString('en-US'),
      unit: r.unit,
      note: r.note ?? '',
    })),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  print(await run());
}
