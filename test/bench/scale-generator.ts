/**
 * One load-generator process of the sustained scale bench (scale-sustained.ts forks a few, so
 * that the devices' side has cores and heaps of its own, apart from the gateway's). It carries a
 * slice of the devices, each on its own raw MQTT socket (mqtt-wire.ts: an mqtt.js client per
 * device would cost more than the device it stands for), and speaks to its parent over the IPC
 * channel:
 *
 *   init  → connects its devices with fresh connect tokens, signs every reading beforehand
 *           (seq 1..R, `t` one period apart) → `ready`
 *   start → device g sends reading k at `at + k·period + (g/total)·period` (the devices spread
 *           evenly over each period), QoS 1; `tick` once a second; once every reading is
 *           acknowledged or the drain time is over → `done` with publish → PUBACK latencies
 *   stop  → closes the sockets and exits
 *
 * A device does not wait for a PUBACK before its next reading; when the gateway closes its
 * connection instead (it cannot decide: a full verify queue), the device reconnects and sends
 * its unacknowledged readings again, as a QoS 1 device does.
 *
 * A PUBACK from medgate means the reading was verified and durably logged (DESIGN §4), so the
 * latency is the device's wait for that guarantee. Memory is bounded by devices × readings:
 * the packets (about 250 bytes each) and two Float64Arrays.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fromHex } from '../../firmware-ts/protocol/bytes.js';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { encodeReading } from '../../firmware-ts/protocol/decode/reading.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import {
  connectPacket,
  PacketType,
  type PublishTemplate,
  publishPacket,
  readPackets,
  setPacketId,
} from './mqtt-wire.js';

export interface InitMessage {
  readonly type: 'init';
  readonly port: number;
  readonly chain: string;
  /** Global index of this process's first device, and the number of devices over all processes. */
  readonly first: number;
  readonly total: number;
  readonly devices: readonly { readonly dev: string; readonly secret: string }[];
  /** Readings per device: one per period. */
  readonly readings: number;
  readonly periodMs: number;
  /** CONNECTs outstanding at once. */
  readonly concurrency: number;
  /** After the last send, how long to wait for PUBACKs still due. */
  readonly drainMs: number;
}

export interface StartMessage {
  readonly type: 'start';
  /** Date.now() of the first period's start (shared by every process). */
  readonly at: number;
}

export type ToGenerator = InitMessage | StartMessage | { readonly type: 'stop' };

export interface DoneMessage {
  readonly type: 'done';
  readonly sent: number;
  readonly acked: number;
  /** Publish → PUBACK, ms, one per acknowledged reading. */
  readonly latencies: Float64Array;
  /** How late sends left against their schedule (this process's event loop), ms. */
  readonly lagP99: number;
  readonly lagMax: number;
  /** Connections the gateway closed during the run, and reconnect attempts. */
  readonly closed: number;
  readonly reconnects: number;
  readonly cpuSeconds: number;
  readonly rssMb: number;
}

export type FromGenerator =
  | { readonly type: 'ready'; readonly connected: number }
  | { readonly type: 'tick'; readonly sent: number; readonly acked: number }
  | DoneMessage
  | { readonly type: 'error'; readonly message: string };

const CONNECT_TIMEOUT_MS = 30_000;
/** Reconnect delay after the gateway closed a device's connection: base plus up to as much again at random. */
const RECONNECT_MS = 1_000;

/** One device: its connection (replaced on reconnect), its readings, and those sent and not yet acknowledged. */
interface Device {
  readonly dev: string;
  readonly signer: CoseSigner;
  socket: Socket | undefined;
  readonly packets: PublishTemplate[];
  /** Readings (k) sent and not acknowledged: sent again, with DUP set, after a reconnect. */
  readonly unacked: Set<number>;
}

let init: InitMessage | undefined;
let aad: Uint8Array = new Uint8Array(0);
let devices: Device[] = [];
/** Indexed by cursor c = k·D + i (reading k of local device i). */
let sentAt = new Float64Array(0);
let latency = new Float64Array(0);
let acked = 0;
let closed = 0;
let reconnects = 0;
let stopping = false;
let onAck: (() => void) | undefined;

const send = (message: FromGenerator): void => {
  process.send?.(message);
};

/**
 * Connects device `i` with a fresh connect token and resolves once CONNACK 0 came back; then
 * sends its unacknowledged readings again (MQTT 3.1.1 §4.4: same packet id, DUP set). When the
 * gateway closes the connection later (it does so instead of a PUBACK when it cannot decide,
 * e.g. its verify queue is full), the device reconnects after RECONNECT_MS, as a device does.
 */
function connectDevice(i: number): Promise<void> {
  const m = init!;
  const device = devices[i]!;
  const token = encodeConnectToken({
    dev: device.dev,
    t: Date.now(),
    nonce: crypto.getRandomValues(new Uint8Array(16)),
  });
  const packet = connectPacket(device.dev, signCoseSign1(token, device.signer, aad));
  return new Promise((resolve, reject) => {
    let connected = false;
    const socket = connect(m.port, '127.0.0.1', () => socket.write(packet));
    socket.setNoDelay(true);
    const timer = setTimeout(
      () => socket.destroy(new Error(`no CONNACK in ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    readPackets(socket, (p) => {
      if (!connected && p.type === PacketType.CONNACK) {
        clearTimeout(timer);
        if (p.body[1] !== 0) {
          socket.destroy(new Error(`CONNACK ${p.body[1]}`));
          return;
        }
        connected = true;
        device.socket = socket;
        for (const k of [...device.unacked].sort((x, y) => x - y)) {
          const template = device.packets[k]!;
          template.bytes[0] = 0x3a; // PUBLISH, DUP, QoS 1
          socket.write(template.bytes);
        }
        resolve();
      } else if (p.type === PacketType.PUBACK) {
        ack(i, p.body.readUInt16BE(0));
      }
    });
    socket.on('error', () => {}); // 'close' follows
    socket.on('close', () => {
      clearTimeout(timer);
      if (device.socket === socket) device.socket = undefined;
      if (connected) closed++;
      else reject(new Error(`device ${device.dev}: connection closed before CONNACK`));
      // A first connect that fails is the caller's error; any later loss of the connection is retried.
      if (stopping || (!connected && sentAt.length === 0)) return;
      setTimeout(
        () => {
          if (stopping) return;
          reconnects++;
          connectDevice(i).catch(() => {}); // its own close schedules the next attempt
        },
        RECONNECT_MS * (1 + Math.random()),
      );
    });
  });
}

function ack(i: number, packetId: number): void {
  const c = (packetId - 1) * devices.length + i;
  if (!(c < sentAt.length) || sentAt[c] === 0 || latency[c]! > 0) return;
  latency[c] = Math.max(performance.now() - sentAt[c]!, Number.MIN_VALUE);
  devices[i]!.unacked.delete(packetId - 1);
  acked++;
  onAck?.();
}

async function prepare(m: InitMessage): Promise<void> {
  init = m;
  aad = chainAad(m.chain);
  devices = m.devices.map((d) => ({
    dev: d.dev,
    signer: signerFromSecretKey(fromHex(d.secret, d.dev), nodeBackend),
    socket: undefined,
    packets: [],
    unacked: new Set<number>(),
  }));
  let next = 0;
  const worker = async () => {
    while (next < devices.length) await connectDevice(next++);
  };
  await Promise.all(Array.from({ length: Math.min(m.concurrency, devices.length) }, worker));
  // Signed after connecting, so that the tokens were fresh; `t` a period apart from now on.
  const t0 = Date.now();
  for (const device of devices) {
    const topic = telemetryTopic(device.dev);
    for (let k = 0; k < m.readings; k++) {
      const reading = encodeReading({
        dev: device.dev,
        seq: k + 1,
        t: t0 + k * m.periodMs,
        obs: [{ code: '8867-4', v: 72, u: '/min' }],
      });
      const template = publishPacket(topic, signCoseSign1(reading, device.signer, aad));
      setPacketId(template, k + 1);
      device.packets.push(template);
    }
  }
  sentAt = new Float64Array(m.devices.length * m.readings);
  latency = new Float64Array(m.devices.length * m.readings);
  send({ type: 'ready', connected: devices.length });
}

function start(at: number): void {
  const m = init!;
  const cpu = process.cpuUsage();
  const count = devices.length;
  const total = count * m.readings;
  const base = performance.now() + (at - Date.now());
  const lags = new Float64Array(total);
  let c = 0;
  const due = (cursor: number) =>
    base + Math.floor(cursor / count) * m.periodMs + ((m.first + (cursor % count)) / m.total) * m.periodMs;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(tickTimer);
    clearInterval(reportTimer);
    clearTimeout(drainTimer);
    onAck = undefined;
    const sortedLags = lags.subarray(0, c).sort();
    const used = process.cpuUsage(cpu);
    send({
      type: 'done',
      sent: c,
      acked,
      latencies: latency.filter((x) => x > 0),
      lagP99: sortedLags[Math.min(c - 1, Math.floor(c * 0.99))] ?? 0,
      lagMax: sortedLags[c - 1] ?? 0,
      closed,
      reconnects,
      cpuSeconds: (used.user + used.system) / 1e6,
      rssMb: Math.round(process.memoryUsage().rss / 2 ** 20),
    });
  };
  let drainTimer: NodeJS.Timeout | undefined;
  let tickTimer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = performance.now();
    while (c < total && due(c) <= now) {
      const i = c % count;
      const k = Math.floor(c / count);
      const device = devices[i]!;
      sentAt[c] = performance.now();
      lags[c] = now - due(c);
      c++;
      // While disconnected, the reading waits in `unacked` for the reconnect.
      device.unacked.add(k);
      device.socket?.write(device.packets[k]!.bytes);
    }
    if (c < total) {
      tickTimer = setTimeout(tick, Math.max(1, Math.min(50, due(c) - performance.now())));
    } else {
      onAck = () => {
        if (acked === total) finish();
      };
      onAck();
      drainTimer = setTimeout(finish, m.drainMs);
    }
  };
  const reportTimer = setInterval(() => send({ type: 'tick', sent: c, acked }), 1_000);
  tickTimer = setTimeout(tick, Math.max(0, base - performance.now()));
}

process.on('message', (raw) => {
  const m = raw as ToGenerator;
  if (m.type === 'init') {
    prepare(m).catch((err: Error) => send({ type: 'error', message: err.message }));
  } else if (m.type === 'start') {
    start(m.at);
  } else {
    stopping = true;
    for (const d of devices) d.socket?.destroy();
    process.disconnect?.();
    process.exit(0);
  }
});
