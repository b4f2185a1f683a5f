/**
 * ed25519 and COSE_Sign1 throughput, single-threaded: sign/s and verify/s of both backends and
 * their ratio (node/noble), then COSE_Sign1 sign/s and decode+verify/s as the gateway does them.
 * Each figure is the median of several rounds of a fixed duration, counted per second of this
 * thread's CPU time (robust when other processes share the machine) and per wall-clock second.
 * 200-byte messages; the node backend's KeyObject caches are warm, as in steady state.
 *
 *   npx tsx test/bench/crypto.ts
 *
 * Env: MEDGATE_BENCH_ROUNDS (default 5), MEDGATE_BENCH_SECONDS per round (1.5).
 */
import { pathToFileURL } from 'node:url';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import {
  chainAad,
  decodeCoseSign1,
  signCoseSign1,
  signerFromSecretKey,
  verifyCoseSign1,
} from '../../firmware-ts/protocol/cose.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';

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

interface Rate {
  /** Operations per second of CPU time used by this thread: what one idle core would do. */
  readonly cpu: number;
  /** Operations per second of wall-clock time: lower when other processes share the cores. */
  readonly wall: number;
}

const median = (xs: number[]): number => Math.round(xs.sort((a, b) => a - b)[xs.length >> 1] as number);

/** Rates of `op(i)`: the medians of `rounds` rounds of `seconds` (wall-clock) each. */
function rate(op: (i: number) => void, rounds: number, seconds: number): Rate {
  const cpu: number[] = [];
  const wall: number[] = [];
  let i = 0;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const end = start + seconds * 1000;
    let count = 0;
    let now = start;
    while (now < end) {
      for (let k = 0; k < 8; k++) op(i++);
      count += 8;
      now = performance.now();
    }
    const used = process.cpuUsage(cpuStart);
    cpu.push(count / ((used.user + used.system) / 1e6));
    wall.push(count / ((now - start) / 1000));
  }
  return { cpu: median(cpu), wall: median(wall) };
}

function row(name: string, r: Rate, note: string): BenchRow {
  return { name, value: r.cpu, unit: 'ops/CPU-s', note: `${note}; wall ${r.wall.toLocaleString('en-US')}/s` };
}

const MESSAGES = 64;

function fixtures(backend: Ed25519Backend) {
  const secretKey = backend.generateSecretKey();
  const publicKey = backend.publicKey(secretKey);
  const messages = Array.from({ length: MESSAGES }, () => crypto.getRandomValues(new Uint8Array(200)));
  const signatures = messages.map((m) => backend.sign(m, secretKey));
  return { secretKey, publicKey, messages, signatures };
}

/** A reading-shaped payload (DESIGN §3), about 120 bytes of CBOR. */
function readingPayload(seq: number): Uint8Array {
  return encodeCbor({
    dev: 'ward3-monitor-017',
    seq,
    t: 1_767_225_600_000 + seq * 1000,
    obs: [
      { code: '8867-4', v: 72, u: '/min' },
      { code: '59408-5', v: 97, u: '%' },
      { code: '8310-5', v: 36.8, u: 'Cel' },
    ],
  });
}

export async function run(): Promise<BenchRow[]> {
  const rounds = env('MEDGATE_BENCH_ROUNDS', 5);
  const seconds = env('MEDGATE_BENCH_SECONDS', 1.5);
  const rows: BenchRow[] = [];
  const perBackend = new Map<string, { sign: Rate; verify: Rate }>();

  for (const backend of [nobleBackend, nodeBackend]) {
    const f = fixtures(backend);
    const sign = rate((i) => backend.sign(f.messages[i % MESSAGES]!, f.secretKey), rounds, seconds);
    const verify = rate(
      (i) => {
        const j = i % MESSAGES;
        if (!backend.verify(f.signatures[j]!, f.messages[j]!, f.publicKey)) throw new Error('verify failed');
      },
      rounds,
      seconds,
    );
    perBackend.set(backend.name, { sign, verify });
    rows.push(row(`ed25519 sign (${backend.name})`, sign, '200-byte message'));
    rows.push(row(`ed25519 verify (${backend.name})`, verify, 'strict policy'));
  }
  const noble = perBackend.get('noble')!;
  const node = perBackend.get('node')!;
  rows.push({
    name: 'ed25519 sign ratio node/noble',
    value: round1(node.sign.cpu / noble.sign.cpu),
    unit: 'x',
  });
  rows.push({
    name: 'ed25519 verify ratio node/noble',
    value: round1(node.verify.cpu / noble.verify.cpu),
    unit: 'x',
  });

  const aad = chainAad('bench-chain');
  for (const backend of [nodeBackend, nobleBackend]) {
    const secretKey = backend.generateSecretKey();
    const publicKey = backend.publicKey(secretKey);
    const signer = signerFromSecretKey(secretKey, backend);
    const payloads = Array.from({ length: MESSAGES }, (_, i) => readingPayload(i));
    const messages = payloads.map((p) => signCoseSign1(p, signer, aad));
    const sign = rate((i) => signCoseSign1(payloads[i % MESSAGES]!, signer, aad), rounds, seconds);
    const verify = rate(
      (i) => verifyCoseSign1(decodeCoseSign1(messages[i % MESSAGES]!), publicKey, aad, backend),
      rounds,
      seconds,
    );
    const size = `${messages[0]!.length}-byte COSE_Sign1`;
    rows.push(row(`COSE_Sign1 sign (${backend.name})`, sign, size));
    rows.push(row(`COSE_Sign1 decode+verify (${backend.name})`, verify, size));
  }
  return rows;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function print(rows: BenchRow[]): void {
  const table = rows.map((r) => ({
    bench: r.name,
    value: r.value.toLocaleString('en-US'),
    unit: r.unit,
    note: r.note ?? '',
  }));
  console.table(table);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  print(await run());
}
