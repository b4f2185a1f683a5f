/**
 * Sustained load at scale (issue 7): D devices each publishing one signed reading per second
 * for a bounded window, against `medgate gateway` in a child process. The devices are spread
 * over G load-generator processes (scale-generator.ts, raw MQTT sockets), none of them the
 * gateway's process. Reported: the rate acknowledged, publish → PUBACK p50 and p99 (a PUBACK
 * means verified and durably logged), and loss: every reading sent must be acknowledged, and
 * once the gateway has stopped, its reading log must hold exactly the readings acknowledged.
 * The generators' send lag (how late their event loops sent against the schedule) is in the
 * note, so that a generator that fell behind is not mistaken for the gateway.
 *
 *   npx tsx test/bench/scale-sustained.ts     or   npm run bench -- scale
 *
 * Env: MEDGATE_BENCH_SUSTAINED_DEVICES (default 5000; --quick 200), MEDGATE_BENCH_SUSTAINED_SECONDS
 * (30; --quick 5), MEDGATE_BENCH_GENERATORS (2).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { demoDataDir } from '../gateway/harness.js';
import { stoppedLogSize } from './gateway.js';
import { enrolDevices } from './gateway-connect.js';
import {
  type Child,
  CpuMeter,
  gatewayArgs,
  quantile,
  ROOT,
  spawnListening,
  stopChild,
} from './gateway-load.js';
import { type BenchOptions, isMain, knob, loadNote, type Row, round, standalone } from './harness.js';
import { progress } from './progress.js';
import type { DoneMessage, FromGenerator, InitMessage, ToGenerator } from './scale-generator.js';

const PERIOD_MS = 1_000;
const READY_TIMEOUT_MS = 300_000;
const DRAIN_MS = 60_000;
/** Time between `start` and the first period: every generator gets the message first. */
const START_DELAY_MS = 1_500;
const ADMIN = 'admin:alice';

export interface SustainedSettings {
  readonly devices: number;
  readonly seconds: number;
  readonly generators: number;
}

export function sustainedSettings(options: BenchOptions): SustainedSettings {
  return {
    devices: knob(options, 'MEDGATE_BENCH_SUSTAINED_DEVICES', 5_000, 200),
    seconds: knob(options, 'MEDGATE_BENCH_SUSTAINED_SECONDS', 30, 5),
    generators: knob(options, 'MEDGATE_BENCH_GENERATORS', 2),
  };
}

/** A forked generator and its next message of a given type. */
class Generator {
  readonly #child: ChildProcess;
  readonly #waiters = new Map<string, { resolve: (m: FromGenerator) => void; reject: (e: Error) => void }>();
  last: { sent: number; acked: number } = { sent: 0, acked: 0 };

  constructor(readonly index: number) {
    this.#child = fork('test/bench/scale-generator.ts', [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child.on('message', (raw) => {
      const m = raw as FromGenerator;
      if (m.type === 'tick') this.last = m;
      else if (m.type === 'error') this.#fail(new Error(`generator ${index}: ${m.message}`));
      else this.#waiters.get(m.type)?.resolve(m);
    });
    this.#child.on('exit', (code) => this.#fail(new Error(`generator ${index} exited ${code}`)));
  }

  #fail(err: Error): void {
    for (const w of this.#waiters.values()) w.reject(err);
    this.#waiters.clear();
  }

  send(m: ToGenerator): void {
    this.#child.send(m);
  }

  next<T extends FromGenerator['type']>(type: T, ms: number): Promise<Extract<FromGenerator, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`generator ${this.index}: no ${type} in ${ms} ms`)),
        ms,
      );
      this.#waiters.set(type, {
        resolve: (m) => {
          clearTimeout(timer);
          this.#waiters.delete(type);
          resolve(m as Extract<FromGenerator, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.send({ type: 'stop' } satisfies ToGenerator);
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

async function rssMb(pid: number): Promise<number> {
  const match = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return match === null ? Number.NaN : Math.round(Number(match[1]) / 1024);
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const s = sustainedSettings(options);
  const gw = await demoDataDir();
  let gateway: Child | undefined;
  const generators: Generator[] = [];
  try {
    progress.update(`sustained: enrolling ${s.devices.toLocaleString('en-US')} devices`);
    const secrets = await enrolDevices(gw.dir, gw.chain, gw.key(ADMIN).signer, s.devices, 'dev-');
    gateway = await spawnListening(gatewayArgs(gw.dir, ['--max-connections', String(s.devices + 100)]));
    const count = Math.max(1, Math.min(s.generators, s.devices));
    progress.update(`sustained: ${count} load generators connecting and signing`);
    for (let g = 0; g < count; g++) generators.push(new Generator(g));
    const ready = generators.map((gen, g) => {
      const first = Math.floor((g * s.devices) / count);
      const end = Math.floor(((g + 1) * s.devices) / count);
      const init: InitMessage = {
        type: 'init',
        port: gateway!.listening.mqtt,
        chain: gw.chain,
        first,
        total: s.devices,
        devices: secrets
          .slice(first, end)
          .map((secret, i) => ({ dev: `dev-${first + i}`, secret: toHex(secret) })),
        readings: s.seconds,
        periodMs: PERIOD_MS,
        concurrency: 100,
        drainMs: DRAIN_MS,
      };
      const waiting = gen.next('ready', READY_TIMEOUT_MS);
      gen.send(init);
      return waiting;
    });
    await Promise.all(ready);
    const rssBefore = await rssMb(gateway.pid);

    const meter = await CpuMeter.start(gateway.pid);
    const at = Date.now() + START_DELAY_MS;
    const done = generators.map((gen) =>
      gen.next('done', START_DELAY_MS + s.seconds * 1000 + DRAIN_MS + 30_000),
    );
    for (const gen of generators) gen.send({ type: 'start', at });
    let rssPeak = rssBefore;
    const watch = setInterval(() => {
      const sent = generators.reduce((n, gen) => n + gen.last.sent, 0);
      const acked = generators.reduce((n, gen) => n + gen.last.acked, 0);
      const elapsed = Math.max(0, Math.round((Date.now() - at) / 1000));
      progress.update(
        `sustained: ${Math.min(elapsed, s.seconds)}/${s.seconds} s, ${sent.toLocaleString('en-US')} sent, ${(sent - acked).toLocaleString('en-US')} awaiting PUBACK`,
      );
      rssMb(gateway!.pid).then(
        (mb) => {
          rssPeak = Math.max(rssPeak, mb);
        },
        () => {},
      );
    }, 1_000);
    let results: DoneMessage[];
    try {
      results = await Promise.all(done);
    } finally {
      clearInterval(watch);
    }
    const cpu = await meter.read();
    for (const gen of generators) await gen.stop();

    progress.update('sustained: checking the reading log');
    const leaves = await stoppedLogSize(gw.dir, gateway);

    return sustainedRows(s, results, { leaves, cpu, rssBefore, rssPeak, generators: count });
  } finally {
    for (const gen of generators) await gen.stop();
    if (gateway !== undefined) await stopChild(gateway);
    await gw.stop();
  }
}

interface GatewaySide {
  readonly leaves: number;
  readonly cpu: { readonly child: number; readonly self: number; readonly wall: number };
  readonly rssBefore: number;
  readonly rssPeak: number;
  readonly generators: number;
}

/** The rows of one sustained run (exported for the tests: the loss arithmetic). */
export function sustainedRows(s: SustainedSettings, results: readonly DoneMessage[], gw: GatewaySide): Row[] {
  const sent = results.reduce((n, r) => n + r.sent, 0);
  const acked = results.reduce((n, r) => n + r.acked, 0);
  const expected = s.devices * s.seconds;
  const all = new Float64Array(acked);
  let at = 0;
  for (const r of results) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  all.sort();
  const p = (q: number) => (all.length === 0 ? Number.NaN : round(quantile(all, q), 1));
  // Lost: never sent, sent but never acknowledged, or acknowledged and not in the log.
  const kept = Math.min(acked, gw.leaves);
  const lost = expected - kept;
  const shape = `${s.devices.toLocaleString('en-US')} devices × 1 Hz × ${s.seconds} s over ${gw.generators} load-generator processes`;
  const genCpu = results.reduce((n, r) => n + r.cpuSeconds, 0);
  const lagP99 = Math.max(...results.map((r) => r.lagP99));
  const lagMax = Math.max(...results.map((r) => r.lagMax));
  const closed = results.reduce((n, r) => n + r.closed, 0);
  const reconnects = results.reduce((n, r) => n + r.reconnects, 0);
  const at1 = `sustained 1 Hz × ${s.devices.toLocaleString('en-US')}`;
  return [
    {
      bench: `${at1}: readings acknowledged`,
      value: Math.round(acked / s.seconds),
      unit: 'readings/s',
      note: `${shape}; gateway CPU ${Math.round((gw.cpu.child / gw.cpu.wall) * 100)}% of a core, generators ${Math.round((genCpu / gw.cpu.wall) * 100)}%; ${loadNote()}`,
      params: { devices: s.devices, seconds: s.seconds, metric: 'sustained rate' },
    },
    {
      bench: `${at1}: publish → PUBACK p50`,
      value: p(0.5),
      unit: 'ms',
      note: 'PUBACK = verified and durably logged',
      params: { devices: s.devices, metric: 'latency p50' },
    },
    {
      bench: `${at1}: publish → PUBACK p99`,
      value: p(0.99),
      unit: 'ms',
      note: `max ${p(1)} ms; generator send lag p99 ${round(lagP99, 1)} ms, max ${round(lagMax, 1)} ms`,
      params: { devices: s.devices, metric: 'latency p99' },
    },
    {
      bench: `${at1}: acknowledged and in the log`,
      value: expected === 0 ? 0 : round((100 * kept) / expected, 3),
      unit: '%',
      target: 100,
      note: `${sent}/${expected} sent, ${acked} PUBACKed, ${gw.leaves} leaves in the log after stop${kept === gw.leaves && acked === gw.leaves ? '' : ' (log ≠ acknowledged)'}; lost ${lost}${closed > 0 ? `; the gateway closed ${closed} connections (${reconnects} reconnects, unacknowledged readings sent again)` : ''}; gateway RSS ${gw.rssBefore} → peak ${gw.rssPeak} MB`,
      params: { devices: s.devices, metric: 'delivered', lost },
    },
  ];
}

if (isMain(import.meta.url)) await standalone(run);
