/**
 * RFC 9162 Merkle throughput, single-threaded: leaf hashes/s, MemoryTree and CompactRange
 * appends/s, and inclusion and consistency proofs generated/s (from a MemoryTree of 1M leaves,
 * through the proof plans, at random indices and sizes) and verified/s. Each figure is the
 * median of several rounds of a fixed duration, in wall-clock operations per second.
 *
 *   npx tsx test/bench/merkle.ts
 *
 * Env: MEDGATE_BENCH_ROUNDS (default 5), MEDGATE_BENCH_SECONDS per round (1),
 * MEDGATE_BENCH_MERKLE_LEAVES (1,000,000).
 */
import {
  CompactRange,
  leafHash,
  MemoryTree,
  verifyConsistency,
  verifyInclusion,
} from '../../firmware-ts/protocol/merkle/index.js';
import {
  type BenchOptions,
  isMain,
  knob,
  type Rate,
  type Row,
  rate,
  standalone,
  wallRow,
  wants,
} from './harness.js';

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

const row = (bench: string, r: Rate, note: string): Row => wallRow(bench, r, 'ops/s', note);

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const timing = {
    rounds: knob(options, 'MEDGATE_BENCH_ROUNDS', 5, 1),
    seconds: knob(options, 'MEDGATE_BENCH_SECONDS', 1, 0.05),
  };
  const leaves = knob(options, 'MEDGATE_BENCH_MERKLE_LEAVES', 1_000_000, 1 << 14);
  const rows: Row[] = [];
  const big = `tree of ${leaves.toLocaleString('en-US')} leaves`;

  // Leaf hashing of reading-sized entries (a COSE_Sign1 reading is about 200 bytes).
  if (wants(options, 'leaf hash')) {
    const entries = Array.from({ length: 64 }, () => crypto.getRandomValues(new Uint8Array(200)));
    rows.push(
      row(
        'leaf hash',
        rate((i) => leafHash(entries[i % 64] as Uint8Array), timing),
        '200-byte entry',
      ),
    );
  }

  const hashes = Array.from({ length: SAMPLES }, (_, i) => leafHash(new Uint8Array([i, i >> 8, 1])));
  if (wants(options, 'CompactRange append')) {
    let range = new CompactRange();
    const r = rate((i) => {
      // A fresh range now and then keeps sizes realistic and memory flat.
      if (range.size >= 1 << 24) range = new CompactRange();
      range.append(hashes[i % SAMPLES] as Uint8Array);
    }, timing);
    rows.push(row('CompactRange append', r, 'leaf hash in, completed nodes out'));
  }

  // The MemoryTree of `leaves` leaves: built once, timed once (it is the fixture of the rest).
  const tree = new MemoryTree();
  const t0 = performance.now();
  for (let i = 0; i < leaves; i++) tree.append(hashes[i % SAMPLES] as Uint8Array);
  const buildSeconds = (performance.now() - t0) / 1000;
  if (wants(options, 'MemoryTree append')) {
    rows.push({
      bench: 'MemoryTree append',
      value: Math.round(leaves / buildSeconds),
      unit: 'ops/s',
      note: `one build of ${big} (${buildSeconds.toFixed(2)} s), stores every perfect node`,
    });
  }

  const size = tree.size;
  const root = tree.root();
  const r = randoms(2 * SAMPLES, 0x9162);
  const indices = Array.from({ length: SAMPLES }, (_, k) => Math.floor((r[k] as number) * size));
  const sizes1 = Array.from(
    { length: SAMPLES },
    (_, k) => 1 + Math.floor((r[SAMPLES + k] as number) * (size - 1)),
  );

  if (wants(options, 'inclusion proof generate')) {
    const gen = rate((i) => tree.inclusionProof(indices[i % SAMPLES] as number), timing);
    rows.push(row('inclusion proof generate', gen, `random leaf, ${big}`));
  }
  if (wants(options, 'inclusion proof verify')) {
    const inclusion = indices.map((index) => ({
      index,
      leaf: tree.getNode({ level: 0, index }),
      proof: tree.inclusionProof(index),
    }));
    const verify = rate((i) => {
      const c = inclusion[i % SAMPLES] as (typeof inclusion)[number];
      verifyInclusion(c.leaf, c.index, size, c.proof, root);
    }, timing);
    rows.push(
      row('inclusion proof verify', verify, `${inclusion[0]?.proof.length ?? 0}-hash proofs, ${big}`),
    );
  }

  const toSize = `random size1 to ${size.toLocaleString('en-US')}`;
  if (wants(options, 'consistency proof generate')) {
    const gen = rate((i) => tree.consistencyProof(sizes1[i % SAMPLES] as number), timing);
    rows.push(row('consistency proof generate', gen, toSize));
  }
  if (wants(options, 'consistency proof verify')) {
    const consistency = sizes1.map((size1) => ({
      size1,
      root1: tree.root(size1),
      proof: tree.consistencyProof(size1),
    }));
    const verify = rate((i) => {
      const c = consistency[i % SAMPLES] as (typeof consistency)[number];
      verifyConsistency(c.size1, size, c.proof, c.root1, root);
    }, timing);
    rows.push(row('consistency proof verify', verify, toSize));
  }
  return rows;
}

if (isMain(import.meta.url)) await standalone(run);
