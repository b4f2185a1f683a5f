/**
 * The end-to-end suite of issue 7 (`npm run bench -- e2e`): throughput against the number of
 * publishers for (a) `medgate gateway`, (b) plain aedes and (c) the naive in-hook verifier, in
 * one run, with publish → subscriber delivery latency at each point and the ratios.
 *
 * It reuses the gateway bench's machinery (gateway.ts: enrolment, signing, clients;
 * gateway-load.ts: brokers as child processes, `saturate`, `paced`, CPU meters;
 * gateway-baseline.ts: the two aedes baselines). The three brokers run
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
import { verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { demoDataDir, randomKey, type TestGateway } from '../gateway/harness.js';
import {
  type BenchDevice,
  baselineArgs,
  CLINICIAN,
  checkLog,
  connectClient,
  count,
  enrol,
  GATEWAY_TARGETS,
  measuredBurst,
  type Round,
  roundsNote,
  sign,
  startLanes,
  writeBaselineKeys,
} from './gateway.js';
import {
  type Child,
  gatewayArgs,
  type Lane,
  type PacedResult,
  paced,
  quantile,
  type Signed,
  stopChild,
} from './gateway-load.js';
import { type BenchOptions, isMain, knob, median, type Row, round, standalone } from './harness.js';
import { progress } from './progress.js';
import { DESIGNS, type Design, type DesignInfo } from './sweep-chart.js';

export const SWEEP_FULL = Object.freeze([1, 2, 5, 10, 20]);
export const SWEEP_QUICK = Object.freeze([1, 4]);

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

interface Broker {
  readonly info: DesignInfo;
  readonly child: Child;
  readonly lanes: Lane[];
  /** The baselines keep no seq: their lanes start again at the first reading. */
  readonly cycle: boolean;
  /** Every PUBACK received. */
  acked: number;
}

/** What one point measured for one design. */
interface PointResult {
  readonly rounds: Round[];
  latency?: PacedResult;
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

async function startBroker(
  gw: TestGateway,
  info: DesignInfo,
  args: readonly string[],
  devices: readonly BenchDevice[],
  messages: (i: number) => readonly Signed[],
  started: Child[],
): Promise<Broker> {
  const { child, lanes } = await startLanes(gw, args, devices, messages, started);
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

function burst(broker: Broker, lanes: readonly Lane[], window: number, seconds: number): Promise<Round> {
  const options = { window, seconds, cycle: broker.cycle, drainMs: DRAIN_MS };
  return measuredBurst(broker.info.label, broker.child, lanes, options, (n) => {
    broker.acked += n;
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
): Promise<PacedResult> {
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
    const result = await paced(lanes, subscriber, {
      rate,
      seconds: s.latencySeconds,
      window: s.window,
      drainMs: DRAIN_MS,
      cycle: broker.cycle,
      // The gateway delivers its verified JSON (paced's default keys); the baselines the raw COSE_Sign1.
      ...(medgate
        ? {}
        : {
            sentKey: (lane: Lane, m: Signed) => `${lane.topic}|${signatureTail(m.bytes)}`,
            keyOf: (topic: string, payload: Buffer) => `${topic}|${signatureTail(payload)}`,
          }),
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
    rows.push({
      bench: `${at}: (${info.letter}) ${info.label}`,
      value: Math.round(rate(info.design)),
      unit: 'readings/s',
      note: roundsNote(rounds, 'broker', false),
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
    const keysFile = await writeBaselineKeys(gw, devices);
    const args: Record<Design, string[]> = { medgate: gatewayArgs(gw.dir), ...baselineArgs(keysFile) };
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
    const size = await checkLog(gw.dir, gateway.child, gateway.acked);
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
