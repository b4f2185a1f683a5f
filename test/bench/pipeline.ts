/**
 * Readings/s through the telemetry pipeline's `handle`, without MQTT: a real Ledger (durable
 * group commit, blocks every second), the real verify pool, the real reading store, pino at
 * `silent`, and a publish that only counts. N enrolled devices, pre-signed readings with
 * rising seqs, interleaved as they would arrive, C readings outstanding (QoS 1 publishers do
 * not wait for each PUBACK). A reading counts when `handle` resolves 'accepted', i.e. when its
 * leaf is durable and the broker may acknowledge it; the follow-ups (store, verified JSON)
 * are drained before the clock stops in the second row.
 *
 *   npx tsx test/bench/pipeline.ts
 *
 * Env: MEDGATE_BENCH_READINGS (default 60000), MEDGATE_BENCH_DEVICES (100),
 * MEDGATE_BENCH_CONCURRENCY (2000), MEDGATE_BENCH_THREADS (verify threads, default 2),
 * MEDGATE_BENCH_ROUNDS (3).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { chainAad, signCoseSign1, signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { encodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import { DEFAULT_CONFIG } from '../../gateway/config.js';
import { writeGenesis } from '../../gateway/ledger/init.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { createMetrics } from '../../gateway/metrics.js';
import { createTelemetryPipeline } from '../../gateway/telemetry/pipeline.js';
import { ReadingStore } from '../../gateway/telemetry/reading-store.js';
import { VerifyPool } from '../../gateway/verify/pool.js';

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

const CHAIN = 'bench-chain';

function keyPair() {
  const secret = nodeBackend.generateSecretKey();
  return { secret, pub: nodeBackend.publicKey(secret), signer: signerFromSecretKey(secret, nodeBackend) };
}

interface Round {
  perSecond: number;
  drainedPerSecond: number;
  p50: number;
  p99: number;
  meanCommit: number;
  meanVerifyBatch: number;
  cpuUs: number;
}

async function round(
  readings: number,
  devices: number,
  concurrency: number,
  pool: VerifyPool,
): Promise<Round> {
  const dir = await mkdtemp(join(tmpdir(), 'medgate-bench-pipeline-'));
  try {
    const authority = keyPair();
    const admin = keyPair();
    const now = Date.now();
    await writeGenesis(
      dir,
      {
        chain: CHAIN,
        authorities: [authority.pub],
        admins: [{ id: 'alice', pub: admin.pub }],
        threshold: 1,
        vendors: [],
        policies: [
          {
            model: '*',
            policy: {
              approvals: 1,
              approvers: 'all',
              enrolment: 'approval',
              maxWaveSize: 100,
              maxFailures: 10,
            },
          },
        ],
      },
      authority.signer,
      now,
    );
    const ledger = await Ledger.open(dir, { authoritySecretKey: authority.secret, blockIntervalMs: 1000 });
    const keys = Array.from({ length: devices }, keyPair);
    const enrolled = keys.map((k, i) =>
      ledger.submitTx(
        signTx(
          {
            type: 'device.enrol',
            chain: CHAIN,
            actor: 'admin:alice',
            nonce: i + 1,
            t: now,
            body: { dev: `dev-${i}`, pub: k.pub, model: 'm1' },
          },
          admin.signer,
        ),
      ),
    );
    await ledger.cutBlock();
    await Promise.all(enrolled);

    // Pre-signed, interleaved: reading r is device r % N's seq floor(r / N) + 1.
    const aad = chainAad(CHAIN);
    const t = Date.now();
    const signed = Array.from({ length: readings }, (_, r) => {
      const d = r % devices;
      const payload = encodeReading({
        dev: `dev-${d}`,
        seq: Math.floor(r / devices) + 1,
        t,
        obs: [{ code: '8867-4', v: 60 + (r % 40), u: '/min' }],
      });
      return { dev: `dev-${d}`, bytes: signCoseSign1(payload, keys[d]!.signer, aad) };
    });

    const store = await ReadingStore.open(dir);
    let published = 0;
    const pipeline = createTelemetryPipeline({
      ledger,
      pool,
      store,
      publish: async () => {
        published++;
      },
      log: pino({ level: 'silent' }),
      metrics: createMetrics(),
      config: { limits: DEFAULT_CONFIG.limits },
    });
    await pipeline.ready;
    const poolBefore = pool.stats();
    const logBefore = ledger.log.stats;

    const latencies = new Float64Array(readings);
    let next = 0;
    let refused = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const worker = async () => {
      while (next < readings) {
        const r = next++;
        const { dev, bytes } = signed[r]!;
        const sent = performance.now();
        const verdict = await pipeline.handle({ principal: dev, deviceId: dev }, bytes, {
          topic: `mg/v1/dev/${dev}/telemetry`,
          qos: 1,
          retain: false,
          dup: false,
        });
        latencies[r] = performance.now() - sent;
        if (verdict !== 'accepted') refused++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const acked = (performance.now() - start) / 1000;
    await pipeline.drain();
    await store.flush();
    const drained = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    if (refused > 0) throw new Error(`${refused} readings were not accepted`);
    if (published < 2 * readings) throw new Error(`only ${published} publications`);

    const poolAfter = pool.stats();
    const logAfter = ledger.log.stats;
    await pipeline.close();
    await store.close();
    await ledger.close();
    const sorted = Array.from(latencies).sort((a, b) => a - b);
    return {
      perSecond: Math.round(readings / acked),
      drainedPerSecond: Math.round(readings / drained),
      p50: sorted[Math.floor(readings * 0.5)]!,
      p99: sorted[Math.floor(readings * 0.99)]!,
      meanCommit: (logAfter.items - logBefore.items) / Math.max(1, logAfter.batches - logBefore.batches),
      meanVerifyBatch:
        (poolAfter.submitted - poolBefore.submitted) / Math.max(1, poolAfter.batches - poolBefore.batches),
      cpuUs: (used.user + used.system) / readings,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchRow[]> {
  const readings = env('MEDGATE_BENCH_READINGS', 60_000);
  const devices = env('MEDGATE_BENCH_DEVICES', 100);
  const concurrency = env('MEDGATE_BENCH_CONCURRENCY', 2000);
  const threads = env('MEDGATE_BENCH_THREADS', 2);
  const rounds = env('MEDGATE_BENCH_ROUNDS', 3);
  const pool = await VerifyPool.create({ threads });
  const results: Round[] = [];
  try {
    for (let i = 0; i < rounds; i++) results.push(await round(readings, devices, concurrency, pool));
  } finally {
    await pool.close();
  }
  results.sort((a, b) => b.perSecond - a.perSecond);
  const best = results[0]!;
  const median = results[Math.floor(results.length / 2)]!;
  const load = `load ${loadavg()[0]?.toFixed(1)}`;
  const shape = `${devices} devices, C=${concurrency}, ${threads} verify threads, ${readings} readings`;
  return [
    {
      name: `handle → accepted (durable leaf), ${shape}, best of ${rounds}`,
      value: best.perSecond,
      unit: 'readings/s',
      note: `median ${median.perSecond.toLocaleString('en-US')}; ${best.cpuUs.toFixed(0)} us CPU/reading (all threads); ${load}`,
    },
    {
      name: 'same, until store writes and publications are done',
      value: best.drainedPerSecond,
      unit: 'readings/s',
      note: `median ${median.drainedPerSecond.toLocaleString('en-US')}`,
    },
    {
      name: `handle latency at C=${concurrency} (saturated): p50 / p99`,
      value: Math.round(best.p50 * 10) / 10,
      unit: 'ms (p50)',
      note: `p99 ${best.p99.toFixed(1)} ms`,
    },
    {
      name: 'mean group-commit batch / mean verify batch',
      value: Math.round(best.meanCommit),
      unit: 'leaves/fsync',
      note: `verify batch ${best.meanVerifyBatch.toFixed(0)} jobs`,
    },
  ];
}

function print(rows: BenchRow[]): void {
  console.table(
    rows.map((r) => ({
      bench: r.name,
      value: r.value.toLocaleString('en-US'),
      unit: r.unit,
      target: r.target === undefined ? '' : `>= ${r.target.toLocaleString('en-US')}`,
      note: r.note ?? '',
    })),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  print(await run());
}
