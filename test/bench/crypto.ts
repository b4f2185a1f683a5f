/**
 * ed25519 and COSE_Sign1 throughput, single-threaded: sign/s and verify/s of both backends and
 * their ratio (node/noble), then COSE_Sign1 sign/s and decode+verify/s as the gateway does them.
 * Each figure is the median of several rounds of a fixed duration, counted per second of this
 * process's CPU time (robust when other processes share the machine) and per wall-clock second.
 * 200-byte messages; the node backend's KeyObject caches are warm, as in steady state.
 *
 *   npx tsx test/bench/crypto.ts
 *
 * Env: MEDGATE_BENCH_ROUNDS (default 5), MEDGATE_BENCH_SECONDS per round (1.5).
 */
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
import {
  type BenchOptions,
  cpuRow,
  isMain,
  knob,
  perCpuSecond,
  type Rate,
  type Row,
  rate,
  round,
  standalone,
} from './harness.js';

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

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const timing = {
    rounds: knob(options, 'MEDGATE_BENCH_ROUNDS', 5, 1),
    seconds: knob(options, 'MEDGATE_BENCH_SECONDS', 1.5, 0.05),
  };
  const rows: Row[] = [];
  const perBackend = new Map<string, { sign: Rate; verify: Rate }>();

  for (const backend of [nobleBackend, nodeBackend]) {
    const f = fixtures(backend);
    const sign = rate((i) => backend.sign(f.messages[i % MESSAGES]!, f.secretKey), timing);
    const verify = rate((i) => {
      const j = i % MESSAGES;
      if (!backend.verify(f.signatures[j]!, f.messages[j]!, f.publicKey)) throw new Error('verify failed');
    }, timing);
    perBackend.set(backend.name, { sign, verify });
    rows.push(cpuRow(`ed25519 sign (${backend.name})`, sign, '200-byte message'));
    rows.push(cpuRow(`ed25519 verify (${backend.name})`, verify, 'strict policy'));
  }
  const noble = perBackend.get('noble')!;
  const node = perBackend.get('node')!;
  rows.push({
    bench: 'ed25519 sign ratio node/noble',
    value: round(perCpuSecond(node.sign) / perCpuSecond(noble.sign), 1),
    unit: 'x',
  });
  rows.push({
    bench: 'ed25519 verify ratio node/noble',
    value: round(perCpuSecond(node.verify) / perCpuSecond(noble.verify), 1),
    unit: 'x',
  });

  const aad = chainAad('bench-chain');
  for (const backend of [nodeBackend, nobleBackend]) {
    const secretKey = backend.generateSecretKey();
    const publicKey = backend.publicKey(secretKey);
    const signer = signerFromSecretKey(secretKey, backend);
    const payloads = Array.from({ length: MESSAGES }, (_, i) => readingPayload(i));
    const messages = payloads.map((p) => signCoseSign1(p, signer, aad));
    const sign = rate((i) => signCoseSign1(payloads[i % MESSAGES]!, signer, aad), timing);
    const verify = rate(
      (i) => verifyCoseSign1(decodeCoseSign1(messages[i % MESSAGES]!), publicKey, aad, backend),
      timing,
    );
    const size = `${messages[0]!.length}-byte COSE_Sign1`;
    rows.push(cpuRow(`COSE_Sign1 sign (${backend.name})`, sign, size));
    rows.push(cpuRow(`COSE_Sign1 decode+verify (${backend.name})`, verify, size));
  }
  return rows;
}

if (isMain(import.meta.url)) await standalone(run);
