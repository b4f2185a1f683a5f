/**
 * The end-to-end suite of issue 7 (`npm run bench -- e2e`): throughput against the number of
 * publishers for (a) `medgate gateway`, (b) plain aedes and (c) the naive in-hook verifier, in
 * one run, with publish → subscriber delivery latency at each point and the ratios.
 *
 * It reuses the gateway bench's machinery (gateway-load.ts: brokers as child processes,
 * `saturate`, CPU meters; gateway-baseline.ts: the two aedes baselines). The three brokers run
 * side by side for the whole sweep, each with one connected client per publisher of the largest
 * point; a point with N publishers drives the first N. At each point:
 *
 *   1. a short warm-up burst per broker, then `rounds` saturating bursts interleaved (a), (b),
 *      (c): N publishers, each with at most W QoS 1 publishes unacknowledged, no subscriber;
 *      a reading counts once its PUBACK arrived (for (a): verified and durably logged);
 *   2. the latency phase: the N publishers paced at half of (a)'s median rate at this point, the
 *      same offered load for all three, with one subscriber: for (a) the demo clinician with an
 *      access grant on `mg/v1/verified/{id}` (the verified reading, DESIGN §3), for (b) and (c)
 *      a client on `mg/v1/dev/{id}/telemetry` (the raw reading, all they have). p50 and p99 of
 *      publish call → delivery.
 *
 * At the end the gateway is stopped and its reading log must hold exactly the readings it
 * acknowledged. Readings are signed before the bursts that send them; the baselines keep no seq
 * and cycle through a fixed set.
 *
 *   npx tsx test/bench/sweep.ts           or   npm run bench -- e2e
 *
 * Env: MEDGATE_BENCH_SWEEP (publisher counts, default 1,2,5,10,20; --quick 1,4),
 * MEDGATE_BENCH_WINDOW (64), MEDGATE_BENCH_ROUNDS (2), MEDGATE_BENCH_SECONDS per burst (3),
 * MEDGATE_BENCH_LATENCY_SECONDS per design and point (5).
 */
import { writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { telemetryTopic, verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { EnvelopeType, TxBodies } from '../../firmware-ts/protocol/tx/types.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { actorNonce } from '../../gateway/ledger/state/queries.js';
import { demoDataDir, randomKey, type TestGateway, type TestKey } from '../gateway/harness.js';
import { GATEWAY_TARGETS } from './gateway.js';
import type { BaselineKeys } from './gateway-baseline.js';
import {
  type Child,
  CpuMeter,
  type CpuUse,
  type Lane,
  quantile,
  type Signed,
  saturate,
  spawnListening,
  stopChild,
} from './gateway-load.js';
import { type BenchOptions, isMain, knob, loadNote, median, type Row, round, standalone } from './harness.js';
import { progress } from './progress.js';
import { DESIGNS, type Design, type DesignInfo } from './sweep-chart.js';

export const SWEEP_FULL = Object.freeze([1, 2, 5, 10, 20]);
export const SWEEP_QUICK = Object.freeze([1, 4]);

const CLINICIAN = 'dr-lee';
const ADMIN = 'admin:alice';
const DRAIN_MS = 30_000;
/** Readings per device that the baselines cycle through. */
const CYCLE = 256;
/** Before the first measurement at a point, how fast (a) is assumed to be when signing its readings. */
const FIRST_GUESS_PER_S = 6_000;

interface Settings {
  readonly points: readonly number[];
  readonly window: number;
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly latencySeconds: number;
}

interface BenchDevice {
  readonly dev: string;
  readonly key: TestKey;
}

interface Broker {
  readonly info: DesignInfo;
  readonly child: Child;
  readonly lanes: Lane[];
  /** The baselines keep no seq: their lanes start again at the first reading. */
  readonly cycle: boolean;
  /** Every PUBACK received. */
  acked: number;
}

interface Round {
  readonly rate: number;
  readonly cpuUs: number;
  readonly cpu: CpuUse;
  readonly exhausted: boolean;
}

/** What one point measured for one design. */
interface PointResult {
  readonly rounds: Round[];
  latency?: Latency;
}

export function settings(options: BenchOptions): Settings {
  const quick = options.quick === true;
  return {
    points: quick ? SWEEP_QUICK : sweepPoints(process.env.MEDGATE_BENCH_SWEEP),
    window: knob(options, 'MEDGATE_BENCH_WINDOW', 64),
    rounds: knob(options, 'MEDGATE_BENCH_ROUNDS', 2, 1),
    seconds: knob(options, 'MEDGATE_BENCH_SECONDS', 3, 0.5),
    warmupSeconds: quick ? 0.2 : 0.7,
    latencySeconds: knob(options, 'MEDGATE_BENCH_LATENCY_SECONDS', 5, 1),
  };
}

/** `1,2,5` → [1, 2, 5]: positive integers, ascending, no repeats; the default when unset. */
export function sweepPoints(raw: string | undefined): readonly number[] {
  if (raw === undefined) return SWEEP_FULL;
  const points = raw.split(',').map((p) => Number(p.trim()));
  const ok =
    points.length > 0 &&
    points.every((p, i) => Number.isSafeInteger(p) && p > 0 && p <= 1000 && (i === 0 || p > points[i - 1]!));
  if (!ok) throw new Error(`MEDGATE_BENCH_SWEEP=${raw}: want ascending publisher counts, e.g. 1,2,5,10,20`);
  return points;
}

/** Enrols the devices, registers the demo clinician and grants it every device (as gateway.ts does). */
async function enrol(gw: TestGateway, devices: readonly BenchDevice[]): Promise<void> {
  const ledger = await Ledger.open(gw.dir, { blockIntervalMs: 0 });
  try {
    let nonce = actorNonce(ledger.state, ADMIN) ?? 0;
    const tx = <K extends EnvelopeType>(type: K, body: TxBodies[K]) =>
      ledger.submitTx(
        signTx(
          { type, chain: gw.chain, actor: ADMIN, nonce: ++nonce, t: Date.now(), body } as Parameters<
            typeof signTx
          >[0],
          gw.key(ADMIN).signer,
        ),
      );
    const done = devices.map((d) => tx('device.enrol', { dev: d.dev, pub: d.key.pub, model: 'wearable-v1' }));
    done.push(tx('clinician.register', { id: CLINICIAN, pub: gw.key(`clinician:${CLINICIAN}`).pub }));
    done.push(tx('access.grant', { clinician: CLINICIAN, devs: devices.map((d) => d.dev) }));
    await ledger.cutBlock();
    await Promise.all(done);
  } finally {
    await ledger.close();
  }
}

function sign(gw: TestGateway, device: BenchDevice, from: number, count: number): Signed[] {
  return Array.from({ length: count }, (_, i) => {
    const bytes = gw.reading(device.dev, from + i, { key: device.key });
    return { seq: from + i, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  });
}

async function connectClient(gw: TestGateway, port: number, principal: string, key: TestKey) {
  gw.external = { mqtt: port, mqtts: null, ws: null, http: null };
  const client = await gw.connect(principal, {
    password: gw.token(principal, { key }),
    mqtt: { keepalive: 300 },
  });
  (client.stream as unknown as Socket).setNoDelay(true);
  client.on('error', () => {});
  return client;
}

async function startBroker(
  gw: TestGateway,
  info: DesignInfo,
  args: readonly string[],
  devices: readonly BenchDevice[],
  messages: (i: number) => readonly Signed[],
  started: Child[],
): Promise<Broker> {
  const child = await spawnListening(args);
  started.push(child);
  const lanes = await Promise.all(
    devices.map(async (d, i) => ({
      dev: d.dev,
      client: await connectClient(gw, child.listening.mqtt, d.dev, d.key),
      topic: telemetryTopic(d.dev),
      messages: messages(i),
      next: 0,
      inflight: 0,
    })),
  );
  return { info, child, lanes, cycle: info.design !== 'medgate', acked: 0 };
}

/**
 * The gateway's lanes carry readings with rising seqs and no repeats: before a phase, each of
 * the first `n` gets at least `need` unsent readings, signed now with the seqs that follow its
 * last one.
 */
class SeqSigner {
  readonly #last: number[];

  constructor(
    private readonly gw: TestGateway,
    private readonly devices: readonly BenchDevice[],
  ) {
    this.#last = devices.map(() => 0);
  }

  topUp(lanes: readonly Lane[], n: number, need: number): void {
    for (let i = 0; i < n; i++) {
      const lane = lanes[i]!;
      const left = lane.messages.length - lane.next;
      if (left >= need) continue;
      const fresh = sign(this.gw, this.devices[i]!, this.#last[i]! + 1, need - left);
      this.#last[i]! += fresh.length;
      lane.messages = [...lane.messages.slice(lane.next), ...fresh];
      lane.next = 0;
    }
  }
}

async function burst(
  broker: Broker,
  lanes: readonly Lane[],
  window: number,
  seconds: number,
): Promise<Round> {
  const meter = await CpuMeter.start(broker.child.pid);
  const b = await saturate(lanes, { window, seconds, cycle: broker.cycle, drainMs: DRAIN_MS });
  const cpu = await meter.read();
  broker.acked += b.acked + b.ackedAfter;
  if (b.failed > 0 || b.pending > 0) {
    throw new Error(
      `${broker.info.label}: ${b.failed} publishes failed, ${b.pending} unanswered\n${broker.child.stderr()}`,
    );
  }
  if (b.acked === 0 || b.seconds <= 0) throw new Error(`${broker.info.label}: no reading acknowledged`);
  return {
    rate: b.acked / b.seconds,
    cpuUs: (cpu.child / (b.acked + b.ackedAfter)) * 1e6,
    cpu,
    exhausted: b.exhausted,
  };
}

export interface Latency {
  /** Publish call → delivery to the subscriber, ms, one per delivered reading. */
  readonly latencies: Float64Array;
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  readonly failed: number;
  /** Sends that came due while the lane's window was full. */
  readonly held: number;
  readonly rate: number;
}

export interface PacedLatencyOptions {
  readonly rate: number;
  readonly seconds: number;
  readonly window: number;
  readonly drainMs: number;
  /** Start a lane again at its first reading when it has sent all (the baselines). */
  readonly cycle: boolean;
  /** The key of a sent reading and of a delivery; equal keys pair them, first in first out. */
  readonly sentKey: (lane: Lane, message: Signed) => string;
  readonly deliveredKey: (topic: string, payload: Buffer) => string | undefined;
}

/**
 * gateway-load.ts `paced`, with the matching of deliveries to sends made a parameter: the
 * baselines deliver the raw COSE_Sign1, not the gateway's verified JSON (request to its owner in
 * /work/notes/h7-requests.md). The lanes send at `rate` in total, evenly spaced and staggered,
 * for `seconds`; each delivery of a reading sent in the phase gives one latency.
 */
export function pacedLatency(
  lanes: readonly Lane[],
  subscriber: MqttClient,
  options: PacedLatencyOptions,
): Promise<Latency> {
  const { rate, seconds, window, drainMs, cycle } = options;
  const interval = (lanes.length / rate) * 1000;
  const sentAt = new Map<string, number[]>();
  let waiting = 0;
  const latencies: number[] = [];
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let held = 0;
  return new Promise((resolve) => {
    const start = performance.now();
    const end = start + seconds * 1000;
    const due = lanes.map((_, i) => start + (i * interval) / lanes.length);
    let lastSend = start;
    let settled = false;

    const onMessage = (topic: string, payload: Buffer) => {
      const now = performance.now();
      const key = options.deliveredKey(topic, payload);
      const queue = key === undefined ? undefined : sentAt.get(key);
      const at = queue?.shift();
      if (at === undefined) return;
      if (queue!.length === 0) sentAt.delete(key!);
      waiting--;
      latencies.push(now - at);
      maybeFinish();
    };
    subscriber.on('message', onMessage);
    const maybeFinish = () => {
      if (performance.now() >= end && waiting === 0 && lanes.every((lane) => lane.inflight === 0)) finish();
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(tickTimer);
      clearTimeout(drainTimer);
      subscriber.off('message', onMessage);
      resolve({
        latencies: Float64Array.from(latencies),
        sent,
        acked,
        delivered: latencies.length,
        failed,
        held,
        rate: sent / ((lastSend - start) / 1000 || 1),
      });
    };
    let tickTimer: NodeJS.Timeout | undefined;
    const tick = () => {
      const now = performance.now();
      for (let i = 0; i < lanes.length; i++) {
        const lane = lanes[i]!;
        while (due[i]! <= now && due[i]! < end) {
          if (lane.next >= lane.messages.length) {
            if (!cycle) break;
            lane.next = 0;
          }
          if (lane.inflight >= window) {
            held++;
            break;
          }
          const message = lane.messages[lane.next++]!;
          due[i]! += interval;
          const key = options.sentKey(lane, message);
          const queue = sentAt.get(key);
          if (queue === undefined) sentAt.set(key, [performance.now()]);
          else queue.push(performance.now());
          waiting++;
          sent++;
          lastSend = now;
          lane.inflight++;
          lane.client.publish(lane.topic, message.bytes, { qos: 1 }, (err) => {
            lane.inflight--;
            if (err !== undefined && err !== null) failed++;
            else acked++;
            maybeFinish();
          });
        }
      }
      if (now < end) tickTimer = setTimeout(tick, 1);
      else maybeFinish();
    };
    const drainTimer = setTimeout(finish, seconds * 1000 + drainMs);
    tick();
  });
}

/** The last 16 bytes of a COSE_Sign1 are its signature's: one reading, whatever broker carried it. */
const signatureTail = (bytes: Buffer): string => bytes.subarray(bytes.length - 16).toString('hex');

async function latencyPhase(
  gw: TestGateway,
  broker: Broker,
  lanes: readonly Lane[],
  rate: number,
  s: Settings,
): Promise<Latency> {
  const medgate = broker.info.design === 'medgate';
  const subscriber = await connectClient(
    gw,
    broker.child.listening.mqtt,
    `clinician:${CLINICIAN}`,
    gw.key(`clinician:${CLINICIAN}`),
  );
  try {
    const topics = lanes.map((lane) => (medgate ? verifiedTopic(lane.dev) : lane.topic));
    const granted = await subscriber.subscribeAsync(topics, { qos: 1 });
    if (granted.some((g) => g.qos === 128))
      throw new Error(`${broker.info.label}: a subscription was refused`);
    const result = await pacedLatency(lanes, subscriber, {
      rate,
      seconds: s.latencySeconds,
      window: s.window,
      drainMs: DRAIN_MS,
      cycle: broker.cycle,
      sentKey: medgate
        ? (lane, m) => `${lane.dev}/${m.seq}`
        : (lane, m) => `${lane.topic}|${signatureTail(m.bytes)}`,
      deliveredKey: medgate
        ? (_topic, payload) => {
            try {
              const { dev, seq } = JSON.parse(payload.toString('utf8')) as { dev: string; seq: number };
              return `${dev}/${seq}`;
            } catch {
              return undefined; // not a verified reading: counted as undelivered
            }
          }
        : (topic, payload) => `${topic}|${signatureTail(payload)}`,
    });
    broker.acked += result.acked;
    // A delivery short of `sent` is reported in the row's note (p50/p99 are of the deliveries), not
    // fatal: a broker may shed a slow subscriber's messages by design.
    if (result.failed > 0 || result.acked !== result.sent || result.delivered === 0) {
      throw new Error(
        `${broker.info.label} latency phase: ${result.sent} sent, ${result.acked} acked, ${result.failed} failed, ${result.delivered} delivered`,
      );
    }
    return result;
  } finally {
    subscriber.end(true);
    gw.clients.delete(subscriber);
  }
}

const count = (x: number): string => Math.round(x).toLocaleString('en-US');

/** Rows of one point, in the order of the table. */
function pointRows(n: number, results: ReadonlyMap<Design, PointResult>, s: Settings): Row[] {
  const rate = (d: Design) => median(results.get(d)!.rounds.map((r) => r.rate));
  const lat = (d: Design) => {
    const sorted = results.get(d)!.latency!.latencies.slice().sort();
    return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1]! };
  };
  const at = `${n} pub`;
  const rows: Row[] = [];
  for (const info of DESIGNS) {
    const rounds = results.get(info.design)!.rounds;
    const rates = rounds.map((r) => r.rate);
    const share = (pick: (cpu: CpuUse) => number) =>
      `${Math.round(median(rounds.map((r) => pick(r.cpu) / r.cpu.wall)) * 100)}%`;
    const notes = [
      rounds.length > 1 ? `rounds ${count(Math.min(...rates))} to ${count(Math.max(...rates))}` : '',
      rounds.some((r) => r.exhausted) ? 'ran out of pre-signed readings' : '',
      `${count(median(rounds.map((r) => r.cpuUs)))} µs broker CPU/reading`,
      `CPU ${share((c) => c.child)} broker, ${share((c) => c.self)} load generator`,
      loadNote(),
    ];
    rows.push({
      bench: `${at}: (${info.letter}) ${info.label}`,
      value: Math.round(rate(info.design)),
      unit: 'readings/s',
      note: notes.filter((x) => x !== '').join('; '),
      params: { publishers: n, design: info.design, metric: 'throughput' },
    });
  }
  const a = rate('medgate');
  rows.push(
    {
      bench: `${at}: ratio a/b`,
      value: round(a / rate('plain'), 2),
      unit: 'x',
      note: `${n} × ${s.window} unacked, QoS 1, median of ${s.rounds} × ${s.seconds} s`,
      params: { publishers: n, metric: 'throughput ratio', of: 'a/b' },
    },
    {
      bench: `${at}: ratio a/c`,
      value: round(a / rate('naive'), 2),
      unit: 'x',
      target: GATEWAY_TARGETS.ratioAC,
      params: { publishers: n, metric: 'throughput ratio', of: 'a/c' },
    },
  );
  for (const info of DESIGNS) {
    const l = lat(info.design);
    const phase = results.get(info.design)!.latency!;
    rows.push(
      {
        bench: `${at}: delivery p50 (${info.letter})`,
        value: round(l.p50, 1),
        unit: 'ms',
        note: `${count(phase.rate)} readings/s paced (half of a) for ${s.latencySeconds} s; ${phase.delivered}/${phase.sent} delivered to the ${info.delivery}`,
        params: { publishers: n, design: info.design, metric: 'latency p50' },
      },
      {
        bench: `${at}: delivery p99 (${info.letter})`,
        value: round(l.p99, 1),
        unit: 'ms',
        ...(info.design === 'medgate' ? { target: GATEWAY_TARGETS.p99Ms, targetKind: 'max' as const } : {}),
        note: `max ${round(l.max, 1)} ms${phase.held > 0 ? `; ${phase.held} sends held by a full window` : ''}`,
        params: { publishers: n, design: info.design, metric: 'latency p99' },
      },
    );
  }
  const p99 = (d: Design) => lat(d).p99;
  rows.push(
    {
      bench: `${at}: p99 ratio a/b`,
      value: round(p99('medgate') / p99('plain'), 2),
      unit: 'x',
      note: 'delivery latency: above 1 is slower than plain aedes',
      params: { publishers: n, metric: 'latency p99 ratio', of: 'a/b' },
    },
    {
      bench: `${at}: p99 ratio a/c`,
      value: round(p99('medgate') / p99('naive'), 2),
      unit: 'x',
      params: { publishers: n, metric: 'latency p99 ratio', of: 'a/c' },
    },
  );
  return rows;
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const s = settings(options);
  const most = s.points[s.points.length - 1]!;
  progress.update(`signing and starting three brokers for ${most} publishers`);
  const gw = await demoDataDir();
  const started: Child[] = [];
  try {
    const devices: BenchDevice[] = Array.from({ length: most }, (_, i) => ({
      dev: `bench-${i}`,
      key: randomKey(),
    }));
    await enrol(gw, devices);
    const cycled = devices.map((d) => sign(gw, d, 1, CYCLE));
    const keysFile = join(gw.dir, 'bench-naive-keys.json');
    const keys: BaselineKeys = {
      chain: gw.chain,
      keys: Object.fromEntries(devices.map((d) => [d.dev, toHex(d.key.pub)])),
    };
    await writeFile(keysFile, JSON.stringify(keys));
    const tsx = ['--import', 'tsx'];
    const baseline = [...tsx, 'test/bench/gateway-baseline.ts'];
    const args: Record<Design, string[]> = {
      medgate: [
        ...tsx,
        'gateway/cli/bin.ts',
        'gateway',
        '--data',
        gw.dir,
        '--mqtt-port',
        '0',
        '--ws-port',
        'off',
        '--http-port',
        '0',
        '--log-level',
        'warn',
      ],
      plain: [...baseline, 'plain'],
      naive: [...baseline, 'naive', keysFile],
    };
    const starting = await Promise.allSettled(
      DESIGNS.map((info) =>
        startBroker(
          gw,
          info,
          args[info.design],
          devices,
          (i) => (info.design === 'medgate' ? [] : cycled[i]!),
          started,
        ),
      ),
    );
    const failed = starting.find((p): p is PromiseRejectedResult => p.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const brokers = starting.map((p) => (p as PromiseFulfilledResult<Broker>).value);
    const gateway = brokers[0]!;
    const signer = new SeqSigner(gw, devices);
    let guess = FIRST_GUESS_PER_S;
    /** Enough fresh readings on the gateway's first `n` lanes for `seconds` at twice the best rate yet. */
    const topUp = (n: number, seconds: number) =>
      signer.topUp(gateway.lanes, n, Math.ceil((2 * guess * seconds) / n) + s.window);

    const rows: Row[] = [];
    let warm = false;
    for (const [p, n] of s.points.entries()) {
      const where = `${n} publisher${n === 1 ? '' : 's'} (${p + 1}/${s.points.length})`;
      const results = new Map<Design, PointResult>(DESIGNS.map((d) => [d.design, { rounds: [] }]));
      // JIT warm-up once at the start (longer), then a short settling burst at each point.
      const warmup = warm ? s.warmupSeconds : Math.max(1.5, s.warmupSeconds);
      warm = true;
      progress.update(`${where}: warm-up`);
      topUp(n, warmup);
      for (const broker of brokers) await burst(broker, broker.lanes.slice(0, n), s.window, warmup);
      for (let r = 0; r < s.rounds; r++) {
        for (const broker of brokers) {
          progress.update(`${where}: (${broker.info.letter}) round ${r + 1}/${s.rounds}`);
          if (broker === gateway) topUp(n, s.seconds);
          const round = await burst(broker, broker.lanes.slice(0, n), s.window, s.seconds);
          if (broker === gateway) guess = Math.max(guess, round.rate);
          results.get(broker.info.design)!.rounds.push(round);
        }
      }
      const rate = median(results.get('medgate')!.rounds.map((r) => r.rate)) / 2;
      for (const broker of brokers) {
        progress.update(`${where}: (${broker.info.letter}) latency at ${count(rate)}/s`);
        if (broker === gateway) signer.topUp(gateway.lanes, n, Math.ceil((rate * s.latencySeconds) / n) + 2);
        results.get(broker.info.design)!.latency = await latencyPhase(
          gw,
          broker,
          broker.lanes.slice(0, n),
          rate,
          s,
        );
      }
      rows.push(...pointRows(n, results, s));
    }

    for (const broker of brokers) for (const lane of broker.lanes) lane.client.end(true);
    for (const broker of brokers.slice(1)) await stopChild(broker.child);
    progress.update('checking the reading log');
    const code = await stopChild(gateway.child);
    if (code !== 0) throw new Error(`gateway exited ${code}\n${gateway.child.stderr()}`);
    const ledger = await Ledger.open(gw.dir, { readOnly: true });
    const size = ledger.log.size;
    await ledger.close();
    if (size !== gateway.acked) {
      throw new Error(
        `the reading log holds ${size} leaves, but ${gateway.acked} readings were acknowledged`,
      );
    }
    rows.push({
      bench: 'reading log after the sweep',
      value: size,
      unit: 'leaves',
      note: `= readings PUBACKed by (a), checked after the gateway stopped`,
    });
    return rows;
  } finally {
    for (const child of started) await stopChild(child);
    await gw.stop();
  }
}

if (isMain(import.meta.url)) await standalone(run);
