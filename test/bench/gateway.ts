/**
 * The gateway benchmark of issue 4, in one run on this machine. N publishers (raw MQTT sockets in
 * this process, wire-publisher.ts) send pre-signed readings at QoS 1, each with at most W publishes unacknowledged, to
 * brokers that run as child processes (each with a main thread of its own):
 *
 *   (a) `medgate gateway` (node --import tsx gateway/cli/bin.ts gateway): signatures verified on
 *       its pool, readings checked and appended durably to the reading log; a PUBACK means the
 *       leaf is durable. Only PUBACKed readings count, and once the gateway has stopped, its
 *       reading log must hold exactly as many leaves as readings were acknowledged.
 *   (b) plain aedes, no verification (gateway-baseline.ts plain)
 *   (c) aedes verifying in `authorizePublish` on its main thread (gateway-baseline.ts naive)
 *   (d) raw verify/s of a VerifyPool with default threads, in this process, no MQTT
 *
 * The three brokers run side by side, idle but for the one being measured, and the rounds
 * interleave (a), (b), (c), (d), so that a change in the machine's load hits them alike; each
 * figure is the median of its rounds. No client subscribes during them: the three carry the
 * same load. Then the ratios, and the latency from publish to the clinician's delivery on
 * `mg/v1/verified/{id}` with publishers paced at half of (a). Last, connects/s and memory per
 * idle device (gateway-connect.ts; `run({ connect: false })` skips it). The load generator shares the cores with the brokers: the
 * notes give both processes' CPU, the gateway's CPU time per reading, and the load average.
 * Client sockets set TCP_NODELAY: a few clients stand in for many devices, and Nagle's
 * algorithm would hold their back-to-back publishes (the gateway's sockets set it too).
 *
 *   npx tsx test/bench/gateway.ts            or   npm run bench -- gateway
 *
 * Env: MEDGATE_BENCH_PUBLISHERS (default 10), MEDGATE_BENCH_WINDOW (64 per client),
 * MEDGATE_BENCH_ROUNDS (3), MEDGATE_BENCH_SECONDS per round and broker (4),
 * MEDGATE_BENCH_READINGS pre-signed for (a) (150000), MEDGATE_BENCH_LATENCY_SECONDS (10);
 * gateway-connect.ts reads MEDGATE_BENCH_DEVICES and MEDGATE_BENCH_CONCURRENCY;
 * MEDGATE_BENCH_GATEWAY_NODE_OPTIONS adds node options to the gateway child (a profile).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { chainAad, decodeCoseSign1, sigStructure } from '../../firmware-ts/protocol/cose.js';
import { telemetryTopic, verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { EnvelopeType, TxBodies } from '../../firmware-ts/protocol/tx/types.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { actorNonce } from '../../gateway/ledger/state/queries.js';
import { VERIFY_POOL_DEFAULTS, type VerifyJob, VerifyPool } from '../../gateway/verify/pool.js';
import { demoDataDir, randomKey, type TestGateway, type TestKey } from '../gateway/harness.js';
import type { BaselineKeys } from './gateway-baseline.js';
import { run as runConnect } from './gateway-connect.js';
import {
  type Child,
  CpuMeter,
  type CpuUse,
  gatewayArgs,
  type Lane,
  type PacedResult,
  paced,
  quantile,
  type SaturateOptions,
  type Signed,
  saturate,
  spawnListening,
  stopChild,
} from './gateway-load.js';
import { type BenchOptions, isMain, knob, loadNote, median, type Row, round, standalone } from './harness.js';
import { WirePublisher } from './wire-publisher.js';

/** Issue 4's targets. */
export const GATEWAY_TARGETS = Object.freeze({ ratioAC: 1.4, p99Ms: 50, kbPerIdleDevice: 30 });

/** The demo clinician, granted every bench device: the subscriber of the latency phases. */
export const CLINICIAN = 'dr-lee';
const ADMIN = 'admin:alice';
/** Waiting for PUBACKs (and deliveries) still due after a phase's window closed. */
const DRAIN_MS = 30_000;
/** Sockets the connect bench needs beyond its devices (warm-up devices, the child's own files). */
const FD_MARGIN = 500;
const FULL_DEVICES = 10_000;
/** Readings per device whose Sig_structures feed the pool in (d). */
const POOL_JOBS_PER_DEVICE = 256;

export interface BenchDevice {
  readonly dev: string;
  readonly key: TestKey;
}

interface Settings {
  readonly publishers: number;
  readonly window: number;
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly readings: number;
  readonly latencySeconds: number;
}

/** A broker under load: its child process, one lane per publisher, and what it measured. */
interface Broker {
  readonly label: string;
  readonly child: Child;
  readonly lanes: Lane[];
  /** Repeat the readings when a lane has sent all (brokers that keep no seq). */
  readonly cycle: boolean;
  readonly rounds: Round[];
  /** Every PUBACK received, warm-up included. */
  acked: number;
}

export interface Round {
  /** PUBACKs per second in the window. */
  readonly rate: number;
  /** The broker's CPU time per reading it answered, µs (every thread). */
  readonly cpuUs: number;
  /** The same, of its main thread alone. */
  readonly mainUs: number;
  readonly cpu: CpuUse;
  readonly exhausted: boolean;
}

/** Enrols the devices, registers the demo clinician and grants it every device: admin transactions, one block. */
export async function enrol(gw: TestGateway, devices: readonly BenchDevice[]): Promise<void> {
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

/** Readings `from`..`from + count - 1` of `device`, signed now (before any timing starts). */
export function sign(gw: TestGateway, device: BenchDevice, from: number, count: number): Signed[] {
  return Array.from({ length: count }, (_, i) => {
    const bytes = gw.reading(device.dev, from + i, { key: device.key });
    return { seq: from + i, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
  });
}

/** An mqtt.js client of the broker at `port` (harness: connect token signed now), with TCP_NODELAY. */
export async function connectClient(gw: TestGateway, port: number, principal: string, key: TestKey) {
  // gw.connect reads the port synchronously, so brokers can be connected to concurrently.
  gw.external = { mqtt: port, mqtts: null, ws: null, http: null };
  const client = await gw.connect(principal, {
    password: gw.token(principal, { key }),
    mqtt: { keepalive: 300 },
  });
  (client.stream as unknown as Socket).setNoDelay(true);
  // A broker that drops the connection fails the publishes in flight; the phases count those.
  client.on('error', () => {});
  return client;
}

/**
 * Starts a broker (`node ...args`, added to `started` at once so that a failure stops it) and
 * connects one lane per device to it, lane `i` sending `messages(i)` on the device's telemetry topic.
 */
export async function startLanes(
  gw: TestGateway,
  args: readonly string[],
  devices: readonly BenchDevice[],
  messages: (i: number) => readonly Signed[],
  started: Child[],
): Promise<{ readonly child: Child; readonly lanes: Lane[] }> {
  const child = await spawnListening(args);
  started.push(child);
  const lanes = await Promise.all(
    devices.map(async (d, i) => ({
      dev: d.dev,
      client: await WirePublisher.connect(child.listening.mqtt, d.dev, gw.token(d.dev, { key: d.key })),
      topic: telemetryTopic(d.dev),
      messages: messages(i),
      next: 0,
      inflight: 0,
    })),
  );
  return { child, lanes };
}

/** Writes the devices' public keys for the naive baseline (gateway-baseline.ts) into the data dir; returns the file. */
export async function writeBaselineKeys(gw: TestGateway, devices: readonly BenchDevice[]): Promise<string> {
  const keysFile = join(gw.dir, 'bench-naive-keys.json');
  const keys: BaselineKeys = {
    chain: gw.chain,
    keys: Object.fromEntries(devices.map((d) => [d.dev, toHex(d.key.pub)])),
  };
  await writeFile(keysFile, JSON.stringify(keys));
  return keysFile;
}

/** `node` arguments of the two aedes baselines (gateway-baseline.ts); naive reads `keysFile`. */
export function baselineArgs(keysFile: string): { readonly plain: string[]; readonly naive: string[] } {
  const baseline = ['--import', 'tsx', 'test/bench/gateway-baseline.ts'];
  return { plain: [...baseline, 'plain'], naive: [...baseline, 'naive', keysFile] };
}

async function startBroker(
  gw: TestGateway,
  label: string,
  args: readonly string[],
  devices: readonly BenchDevice[],
  signed: readonly (readonly Signed[])[],
  cycle: boolean,
  started: Child[],
): Promise<Broker> {
  const { child, lanes } = await startLanes(gw, args, devices, (i) => signed[i]!, started);
  return { label, child, lanes, cycle, rounds: [], acked: 0 };
}

/** One saturating burst of `seconds` on `broker`, with the CPU both sides used. */
/**
 * One saturating burst of `options.seconds` on the broker `child` through `lanes`, with the CPU
 * both sides used; `onAnswered` gets the PUBACKs (after the window too) before any check throws.
 */
export async function measuredBurst(
  label: string,
  child: Child,
  lanes: readonly Lane[],
  options: SaturateOptions,
  onAnswered: (acked: number) => void,
): Promise<Round> {
  const meter = await CpuMeter.start(child.pid);
  const b = await saturate(lanes, options);
  const cpu = await meter.read();
  const answered = b.acked + b.ackedAfter;
  onAnswered(answered);
  if (b.failed > 0 || b.pending > 0) {
    throw new Error(`${label}: ${b.failed} publishes failed, ${b.pending} unanswered\n${child.stderr()}`);
  }
  if (b.acked === 0 || b.seconds <= 0) {
    throw new Error(`${label}: no reading acknowledged in the window (pre-signed readings used up?)`);
  }
  return {
    rate: b.acked / b.seconds,
    cpuUs: (cpu.child / answered) * 1e6,
    mainUs: (cpu.childMain / answered) * 1e6,
    cpu,
    exhausted: b.exhausted,
  };
}

/** One saturating burst of `seconds` on `broker`, all its lanes. */
function burst(broker: Broker, s: Settings, seconds: number): Promise<Round> {
  const options = { window: s.window, seconds, cycle: broker.cycle, drainMs: DRAIN_MS };
  return measuredBurst(broker.label, broker.child, broker.lanes, options, (n) => {
    broker.acked += n;
  });
}

/** verify/s of `pool` with `window` jobs always outstanding, for `seconds`. */
async function drivePool(pool: VerifyPool, jobs: readonly VerifyJob[], window: number, seconds: number) {
  let next = 0;
  let done = 0;
  const before = pool.stats();
  const start = performance.now();
  const end = start + seconds * 1000;
  const lane = async (): Promise<void> => {
    while (performance.now() < end) {
      if (!(await pool.verify(jobs[next++ % jobs.length]!))) throw new Error('a valid signature failed');
      done++;
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const rate = done / ((performance.now() - start) / 1000);
  const after = pool.stats();
  return {
    rate,
    meanBatch: (after.submitted - before.submitted) / Math.max(1, after.batches - before.batches),
  };
}

/** The latency phase: half of (a), paced, with the clinician subscribed to every publisher's verified readings. */
async function latencyPhase(
  gw: TestGateway,
  gateway: Broker,
  devices: readonly BenchDevice[],
  rate: number,
  s: Settings,
): Promise<PacedResult & { readonly cpuUs: number; readonly mainUs: number }> {
  const perLane = Math.ceil((rate * s.latencySeconds) / gateway.lanes.length) + 2;
  for (const [i, lane] of gateway.lanes.entries()) {
    // Seqs go on from the last one sent, so that the gateway sees no gap.
    lane.messages = sign(gw, devices[i]!, lane.next + 1, perLane);
    lane.next = 0;
  }
  const clinician = await connectClient(
    gw,
    gateway.child.listening.mqtt,
    `clinician:${CLINICIAN}`,
    gw.key(`clinician:${CLINICIAN}`),
  );
  try {
    const granted = await clinician.subscribeAsync(
      devices.map((d) => verifiedTopic(d.dev)),
      { qos: 1 },
    );
    if (granted.some((g) => g.qos === 128)) throw new Error('the clinician was refused a verified topic');
    const meter = await CpuMeter.start(gateway.child.pid);
    const result = await paced(gateway.lanes, clinician, {
      rate,
      seconds: s.latencySeconds,
      window: s.window,
      drainMs: DRAIN_MS,
    });
    const cpu = await meter.read();
    gateway.acked += result.acked;
    if (result.failed > 0 || result.acked !== result.sent || result.delivered === 0) {
      throw new Error(
        `latency phase: ${result.sent} sent, ${result.acked} acked, ${result.failed} failed, ${result.delivered} delivered`,
      );
    }
    return { ...result, cpuUs: (cpu.child / result.sent) * 1e6, mainUs: (cpu.childMain / result.sent) * 1e6 };
  } finally {
    clinician.end(true);
    gw.clients.delete(clinician);
  }
}

/** Stops the gateway `child` (it must exit 0) and returns the number of leaves in its closed reading log. */
export async function stoppedLogSize(dir: string, child: Child): Promise<number> {
  const code = await stopChild(child);
  if (code !== 0) throw new Error(`gateway exited ${code}\n${child.stderr()}`);
  const ledger = await Ledger.open(dir, { readOnly: true });
  const size = ledger.log.size;
  await ledger.close();
  return size;
}

/** Stops the gateway and checks DESIGN §4 on its closed ledger: every PUBACKed reading is a leaf, and nothing else is. */
export async function checkLog(dir: string, child: Child, acked: number): Promise<number> {
  const size = await stoppedLogSize(dir, child);
  if (size !== acked) {
    throw new Error(`the reading log holds ${size} leaves, but ${acked} readings were acknowledged`);
  }
  return size;
}

/** The soft limit on open files of this process (the gateway child inherits it). */
async function openFileLimit(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
  return match === null || match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/**
 * Connects/s and memory per idle device (gateway-connect.ts), with issue 4's memory target.
 * 10,000 devices need as many sockets in this process and in the gateway: when the open-file
 * limit is lower, the largest count it allows is measured instead, and the rows say so.
 */
export async function connectPhase(options: BenchOptions): Promise<Row[]> {
  const limit = await openFileLimit();
  let capped: string | undefined;
  if (
    options.quick !== true &&
    process.env.MEDGATE_BENCH_DEVICES === undefined &&
    limit < FULL_DEVICES + FD_MARGIN
  ) {
    const devices = Math.max(1_000, limit - FD_MARGIN);
    process.env.MEDGATE_BENCH_DEVICES = String(devices);
    capped = `open-file limit ${limit} (ulimit -n): ${devices} devices, not ${FULL_DEVICES}`;
  }
  try {
    const rows = await runConnect(options);
    return rows.map((row) => ({
      ...row,
      ...(row.unit === 'KB/device'
        ? { target: GATEWAY_TARGETS.kbPerIdleDevice, targetKind: 'max' as const }
        : {}),
      ...(capped === undefined ? {} : { note: `${row.note}; ${capped}` }),
    }));
  } finally {
    if (capped !== undefined) delete process.env.MEDGATE_BENCH_DEVICES;
  }
}

export const count = (x: number): string => Math.round(x).toLocaleString('en-US');

/**
 * The note on a broker's median rate: the spread of its rounds, its CPU per reading (with its main
 * thread's when `mainThread`), both processes' CPU share and the load average.
 */
export function roundsNote(rounds: readonly Round[], what: string, mainThread: boolean): string {
  const rates = rounds.map((r) => r.rate);
  const share = (pick: (cpu: CpuUse) => number) =>
    `${Math.round(median(rounds.map((r) => pick(r.cpu) / r.cpu.wall)) * 100)}%`;
  const main = mainThread ? ` (main thread ${count(median(rounds.map((r) => r.mainUs)))})` : '';
  const notes = [
    rounds.length > 1 ? `rounds ${count(Math.min(...rates))} to ${count(Math.max(...rates))}` : '',
    rounds.some((r) => r.exhausted) ? 'ran out of pre-signed readings' : '',
    `${count(median(rounds.map((r) => r.cpuUs)))} µs ${what} CPU/reading${main}`,
    `CPU ${share((c) => c.child)} ${what}, ${share((c) => c.self)} load generator`,
    loadNote(),
  ];
  return notes.filter((n) => n !== '').join('; ');
}

/** Median rate of a broker's rounds, with the note above. */
function brokerRow(bench: string, broker: Broker, what: string): Row {
  return {
    bench,
    value: Math.round(median(broker.rounds.map((r) => r.rate))),
    unit: 'readings/s',
    note: roundsNote(broker.rounds, what, true),
  };
}

export interface GatewayBenchOptions extends BenchOptions {
  /** Run the connect phase (connects/s, memory per idle device); default true. */
  readonly connect?: boolean;
}

export async function run(options: GatewayBenchOptions = {}): Promise<Row[]> {
  const s: Settings = {
    publishers: knob(options, 'MEDGATE_BENCH_PUBLISHERS', 10, 4),
    window: knob(options, 'MEDGATE_BENCH_WINDOW', 64),
    rounds: knob(options, 'MEDGATE_BENCH_ROUNDS', 3, 1),
    seconds: knob(options, 'MEDGATE_BENCH_SECONDS', 4, 0.7),
    warmupSeconds: options.quick === true ? 0.3 : 1.5,
    readings: knob(options, 'MEDGATE_BENCH_READINGS', 150_000, 8_000),
    latencySeconds: knob(options, 'MEDGATE_BENCH_LATENCY_SECONDS', 10, 1.5),
  };
  const gw = await demoDataDir();
  const started: Child[] = [];
  let pool: VerifyPool | undefined;
  try {
    const devices: BenchDevice[] = Array.from({ length: s.publishers }, (_, i) => ({
      dev: `bench-${i}`,
      key: randomKey(),
    }));
    await enrol(gw, devices);
    const signed = devices.map((d) => sign(gw, d, 1, Math.ceil(s.readings / s.publishers)));
    const keysFile = await writeBaselineKeys(gw, devices);
    const aad = chainAad(gw.chain);
    const jobs: VerifyJob[] = signed.flatMap((list, i) =>
      list.slice(0, POOL_JOBS_PER_DEVICE).map((m) => {
        const msg = decodeCoseSign1(m.bytes);
        return { publicKey: devices[i]!.key.pub, message: sigStructure(msg, aad), signature: msg.signature };
      }),
    );

    const baseline = baselineArgs(keysFile);
    // Started side by side (before any timing): the brokers take seconds each to load through tsx.
    const starting = await Promise.allSettled([
      startBroker(gw, '(a) gateway', gatewayArgs(gw.dir), devices, signed, false, started),
      startBroker(gw, '(b) plain', baseline.plain, devices, signed, true, started),
      startBroker(gw, '(c) naive', baseline.naive, devices, signed, true, started),
    ]);
    const failed = starting.find((p): p is PromiseRejectedResult => p.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const [gateway, plain, naive] = starting.map((p) => (p as PromiseFulfilledResult<Broker>).value) as [
      Broker,
      Broker,
      Broker,
    ];
    pool = await VerifyPool.create();
    const threads = pool.stats().threads;
    // Every worker holds two batches of maxBatch, twice over: the pool never waits for jobs.
    const poolWindow = 2 * threads * 2 * VERIFY_POOL_DEFAULTS.maxBatch;

    const brokers = [gateway, plain, naive];
    for (const broker of brokers) await burst(broker, s, s.warmupSeconds);
    await drivePool(pool, jobs, poolWindow, s.warmupSeconds);
    const poolRounds: { rate: number; meanBatch: number }[] = [];
    for (let r = 0; r < s.rounds; r++) {
      for (const broker of brokers) broker.rounds.push(await burst(broker, s, s.seconds));
      poolRounds.push(await drivePool(pool, jobs, poolWindow, s.seconds));
    }
    await pool.close();
    pool = undefined;
    for (const broker of [plain, naive]) {
      for (const lane of broker.lanes) lane.client.end(true);
      await stopChild(broker.child);
    }

    const a = median(gateway.rounds.map((r) => r.rate));
    const b = median(plain.rounds.map((r) => r.rate));
    const c = median(naive.rounds.map((r) => r.rate));
    const d = median(poolRounds.map((r) => r.rate));
    const latency = await latencyPhase(gw, gateway, devices, a / 2, s);
    for (const lane of gateway.lanes) lane.client.end(true);
    const logSize = await checkLog(gw.dir, gateway.child, gateway.acked);

    const shape = `${s.publishers} publishers × ${s.window} unacked, QoS 1, median of ${s.rounds} × ${s.seconds} s`;
    const rows: Row[] = [
      brokerRow('(a) gateway: verified, durably logged, PUBACKed', gateway, 'gateway'),
      brokerRow('(b) plain aedes, no verification', plain, 'broker'),
      brokerRow('(c) naive: node:crypto verify in authorizePublish', naive, 'broker'),
      {
        bench: `(d) verify pool, raw, ${threads} threads`,
        value: Math.round(d),
        unit: 'verify/s',
        note: `no MQTT; mean batch ${median(poolRounds.map((r) => r.meanBatch)).toFixed(0)}; ${loadNote()}`,
      },
      { bench: 'ratio a/b', value: round(a / b, 2), unit: 'x', note: shape },
      { bench: 'ratio a/c', value: round(a / c, 2), unit: 'x', target: GATEWAY_TARGETS.ratioAC },
      {
        bench: 'ratio a/d',
        value: round(a / d, 2),
        unit: 'x',
        note: `reading log: ${logSize} leaves = ${gateway.acked} readings PUBACKed, checked after stop`,
      },
    ];
    const sorted = latency.latencies.slice().sort();
    rows.push(
      {
        bench: 'publish → clinician delivery p50, half load',
        value: round(quantile(sorted, 0.5), 1),
        unit: 'ms',
        note: `${count(latency.rate)} readings/s paced (half of a) for ${s.latencySeconds} s; ${latency.delivered}/${latency.sent} delivered${latency.held > 0 ? `; ${latency.held} sends held by a full window` : ''}; ${count(latency.cpuUs)} µs gateway CPU/reading (main thread ${count(latency.mainUs)})`,
      },
      {
        bench: 'publish → clinician delivery p99, half load',
        value: round(quantile(sorted, 0.99), 1),
        unit: 'ms',
        target: GATEWAY_TARGETS.p99Ms,
        targetKind: 'max',
        note: `max ${round(sorted[sorted.length - 1]!, 1)} ms; ${loadNote()}`,
      },
    );
    if (options.connect !== false) rows.push(...(await connectPhase(options)));
    return rows;
  } finally {
    await pool?.close();
    for (const child of started) await stopChild(child);
    await gw.stop();
  }
}

if (isMain(import.meta.url)) await standalone(run);
