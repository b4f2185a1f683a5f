/**
 * The load side of the gateway benchmark (test/bench/gateway.ts): brokers started as child
 * processes (each with a main thread of its own, measured through /proc), and publishers that
 * send pre-signed QoS 1 readings on raw sockets (wire-publisher.ts), either as fast as a bounded
 * window of unacknowledged publishes allows (`saturate`) or at a fixed rate (`paced`). Every wait is
 * bounded in time; a publish counts only once its PUBACK arrived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { ephemeralGatewayArgs } from '../support/gateway-args.js';
import type { LanePublisher } from './wire-publisher.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How long a child may take to print its listening line, and to exit after SIGTERM. */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** The kernel's USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100 on Linux). */
const CLOCK_TICKS = 100;
/** Kept tail of a child's stderr, for the error message when it fails. */
const STDERR_TAIL = 8_192;

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The first stdout line, parsed: `{"event":"listening","mqtt":PORT,...}`. */
  readonly listening: { readonly mqtt: number } & Record<string, unknown>;
  stderr(): string;
}

/** The environment without MEDGATE_*: the gateway refuses unknown ones, and the bench knobs are such. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('MEDGATE_')));
}

/** Starts `node ...args` in the repository root and waits for its listening line. */
export async function spawnListening(args: readonly string[]): Promise<Child> {
  const child = spawn(process.execPath, [...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv(),
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
  });
  const lines = createInterface({ input: child.stdout! });
  try {
    // Lines before it (node's --trace-gc, say) are not the listening line.
    const listening = await new Promise<Child['listening']>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no listening line within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const onLine = (line: string) => {
        if (!line.startsWith('{"event":"listening"')) return;
        clearTimeout(timer);
        lines.off('line', onLine);
        resolve(JSON.parse(line) as Child['listening']);
      };
      lines.on('line', onLine);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited ${code} before listening`));
      });
    });
    if (typeof listening.mqtt !== 'number') throw new Error('the listening line has no mqtt port');
    return { process: child, pid: child.pid!, listening, stderr: () => stderr };
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${args.join(' ')}: ${(err as Error).message}\n${stderr}`);
  }
}

/**
 * Extra node options for the gateway child from MEDGATE_BENCH_GATEWAY_NODE_OPTIONS, split on
 * spaces: a profile of the gateway under the bench's own load, e.g. `--cpu-prof
 * --cpu-prof-dir=/tmp/prof` (the verify workers write theirs too) or `--perf-basic-prof`.
 */
function nodeFlags(): string[] {
  const raw = process.env.MEDGATE_BENCH_GATEWAY_NODE_OPTIONS?.trim();
  return raw === undefined || raw === '' ? [] : raw.split(/\s+/);
}

/**
 * `node` arguments that start `medgate gateway` on `dir` with an ephemeral MQTT port, no
 * WebSocket listener and logs at warn; `extra` options go before the log level.
 */
export function gatewayArgs(dir: string, extra: readonly string[] = []): string[] {
  return [
    ...nodeFlags(),
    '--import',
    'tsx',
    'gateway/cli/bin.ts',
    ...ephemeralGatewayArgs(dir),
    ...extra,
    '--log-level',
    'warn',
  ];
}

/** SIGTERM (a graceful stop), then SIGKILL if it is still running after STOP_TIMEOUT_MS. Resolves with the exit code. */
export async function stopChild(child: Child): Promise<number | null> {
  const proc = child.process;
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** CPU seconds (user + system) in a /proc stat file: fields 14 and 15, counted after the `(comm)`. */
async function statSeconds(path: string): Promise<number> {
  const stat = await readFile(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds (user + system, every thread) that process `pid` has used so far. */
export function cpuSeconds(pid: number): Promise<number> {
  return statSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of process `pid`'s main thread alone (its thread id is the pid): the MQTT thread. */
export function mainThreadSeconds(pid: number): Promise<number> {
  return statSeconds(`/proc/${pid}/task/${pid}/stat`);
}

export interface CpuUse {
  /** CPU seconds of the child (every thread) and of this process, over `wall` seconds. */
  readonly child: number;
  /** CPU seconds of the child's main thread (MQTT, the pipeline; not the verify workers, GC helpers or libuv). */
  readonly childMain: number;
  readonly self: number;
  readonly wall: number;
}

/** Measures the CPU time of a child and of this process from `start()` to `read()`. */
export class CpuMeter {
  readonly #pid: number;
  readonly #child: number;
  readonly #childMain: number;
  readonly #self = process.cpuUsage();
  readonly #start = performance.now();

  private constructor(pid: number, child: number, childMain: number) {
    this.#pid = pid;
    this.#child = child;
    this.#childMain = childMain;
  }

  static async start(pid: number): Promise<CpuMeter> {
    return new CpuMeter(pid, await cpuSeconds(pid), await mainThreadSeconds(pid));
  }

  async read(): Promise<CpuUse> {
    const self = process.cpuUsage(this.#self);
    return {
      child: (await cpuSeconds(this.#pid)) - this.#child,
      childMain: (await mainThreadSeconds(this.#pid)) - this.#childMain,
      self: (self.user + self.system) / 1e6,
      wall: (performance.now() - this.#start) / 1000,
    };
  }
}

export interface Signed {
  readonly seq: number;
  readonly bytes: Buffer;
}

/** One publisher: its client, its telemetry topic and its pre-signed readings, sent in order. */
export interface Lane {
  readonly dev: string;
  readonly client: LanePublisher;
  readonly topic: string;
  messages: readonly Signed[];
  /** Index of the next reading to send. */
  next: number;
  /** Publishes sent and not yet acknowledged. */
  inflight: number;
}

export interface Burst {
  /** PUBACKs that arrived within the measured window. */
  readonly acked: number;
  /** Wall seconds of the window: its full length, or up to the last PUBACK if the readings ran out first. */
  readonly seconds: number;
  /** PUBACKs after the window (publishes in flight when it closed). */
  readonly ackedAfter: number;
  /** Publishes that failed (the connection ended before their PUBACK). */
  readonly failed: number;
  /** Publishes still without an answer when the drain time ran out. */
  readonly pending: number;
  /** A lane had sent all its readings before the window closed. */
  readonly exhausted: boolean;
}

export interface SaturateOptions {
  /** Most unacknowledged publishes per client. */
  readonly window: number;
  readonly seconds: number;
  /** Start again from the first reading when a lane has sent all (brokers that keep no seq). */
  readonly cycle: boolean;
  /** After the window closes, how long to wait for the PUBACKs still due. */
  readonly drainMs: number;
}

/** Every lane sends as fast as its window allows for `seconds`; counts the PUBACKs. */
export function saturate(lanes: readonly Lane[], options: SaturateOptions): Promise<Burst> {
  const { window, seconds, cycle, drainMs } = options;
  return new Promise((resolve) => {
    const start = performance.now();
    const end = start + seconds * 1000;
    let sending = true;
    let acked = 0;
    let ackedAfter = 0;
    let failed = 0;
    let lastAck = start;
    let exhausted = false;
    let settled = false;

    const inflight = () => lanes.reduce((n, lane) => n + lane.inflight, 0);
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(windowTimer);
      clearTimeout(drainTimer);
      const ranOut = lanes.every((lane) => !cycle && lane.next >= lane.messages.length);
      resolve({
        acked,
        seconds: ((ranOut && lastAck < end ? lastAck : end) - start) / 1000,
        ackedAfter,
        failed,
        pending: inflight(),
        exhausted,
      });
    };
    const done = () => !sending || lanes.every((lane) => !cycle && lane.next >= lane.messages.length);
    const pump = (lane: Lane): void => {
      while (sending && lane.inflight < window) {
        if (lane.next >= lane.messages.length) {
          if (!cycle) {
            exhausted = true;
            break;
          }
          lane.next = 0;
        }
        const message = lane.messages[lane.next++]!;
        lane.inflight++;
        lane.client.publish(lane.topic, message.bytes, { qos: 1 }, (err) => {
          lane.inflight--;
          const now = performance.now();
          if (err !== undefined && err !== null) failed++;
          else if (now <= end) {
            acked++;
            lastAck = now;
          } else ackedAfter++;
          if (now >= end) sending = false;
          pump(lane);
          if (done() && inflight() === 0) finish();
        });
      }
    };
    const windowTimer = setTimeout(() => {
      sending = false;
      if (inflight() === 0) finish();
    }, seconds * 1000);
    const drainTimer = setTimeout(finish, seconds * 1000 + drainMs);
    for (const lane of lanes) pump(lane);
    if (done() && inflight() === 0) finish();
  });
}

export interface PacedResult {
  /** Publish → delivery to the subscriber, ms, one per delivered reading. */
  readonly latencies: Float64Array;
  readonly sent: number;
  readonly acked: number;
  readonly delivered: number;
  readonly failed: number;
  /** Sends that came due while the lane's window was full (the broker fell behind). */
  readonly held: number;
  /** Readings sent per second over the sending time. */
  readonly rate: number;
}

export interface PacedOptions {
  /** Readings per second over all lanes. */
  readonly rate: number;
  readonly seconds: number;
  readonly window: number;
  /** How long to wait after the last send for the PUBACKs and deliveries still due. */
  readonly drainMs: number;
  /** Start a lane again at its first reading when it has sent all (brokers that keep no seq); default false. */
  readonly cycle?: boolean;
  /**
   * The key of a sent reading and of a delivery: equal keys pair them, first in first out, so a
   * cycling lane may have the same key in flight twice. Default: `dev/seq`, which the gateway's
   * verified reading carries (DESIGN §3). `keyOf` returns undefined for a delivery that is none of ours.
   */
  readonly sentKey?: (lane: Lane, message: Signed) => string;
  readonly keyOf?: (topic: string, payload: Buffer) => string | undefined;
}

const sentDevSeq = (lane: Lane, message: Signed): string => `${lane.dev}/${message.seq}`;

/** The `dev/seq` of a verified reading (the gateway's JSON); undefined for anything else. */
export function verifiedKey(_topic: string, payload: Buffer): string | undefined {
  try {
    const { dev, seq } = JSON.parse(payload.toString('utf8')) as { dev: string; seq: number };
    return `${dev}/${seq}`;
  } catch {
    return undefined; // not a verified reading: counted as undelivered
  }
}

/**
 * Lanes send at `rate` in total (evenly spaced, lanes staggered) for `seconds`; `subscriber`
 * receives what they sent. The send time of each reading is kept by its key (`sentKey`), and the
 * delivery with the same key (`keyOf`) gives one latency.
 */
export function paced(
  lanes: readonly Lane[],
  subscriber: MqttClient,
  options: PacedOptions,
): Promise<PacedResult> {
  const { rate, seconds, window, drainMs } = options;
  const cycle = options.cycle ?? false;
  const sentKey = options.sentKey ?? sentDevSeq;
  const keyOf = options.keyOf ?? verifiedKey;
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
      const key = keyOf(topic, payload);
      const queue = key === undefined ? undefined : sentAt.get(key);
      const at = queue?.shift();
      if (at === undefined) return;
      if (queue!.length === 0) sentAt.delete(key!);
      waiting--;
      latencies.push(now - at);
      maybeFinish();
    };
    subscriber.on('message', onMessage);
    // Done when sending is over and every reading was both acknowledged and delivered.
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
          const key = sentKey(lane, message);
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

/** The value at quantile `q` of sorted `values` (nearest rank). */
export function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}
