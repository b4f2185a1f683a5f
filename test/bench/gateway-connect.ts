/**
 * The MQTT front end under many devices (issue 4 benchmark): authenticated connects per second,
 * and the gateway's memory per idle connected device at 1,000 and 10,000 devices (target: under
 * 30 KB each).
 *
 * The gateway runs as `medgate gateway` in a child process, so that its resident memory is its
 * own. The devices are enrolled on its ledger beforehand (admin `device.enrol` transactions),
 * then connect from here as raw TCP sockets: a hand-written MQTT 3.1.1 CONNECT (keepalive 0) with
 * a connect token signed beforehand, CONNACK awaited, then idle. Both processes share this
 * machine's cores, so the connect rate is what one machine does with its own load generator.
 * Memory is the child's VmRSS after a pause, relative to a baseline taken with WARMUP devices
 * connected (start-up, JIT and pool costs excluded).
 *
 *   npx tsx test/bench/gateway-connect.ts
 *
 * Env: MEDGATE_BENCH_DEVICES (default 10000), MEDGATE_BENCH_CONCURRENCY (200).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  type CoseSigner,
  chainAad,
  signCoseSign1,
  signerFromSecretKey,
} from '../../firmware-ts/protocol/cose.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { signTx } from '../../firmware-ts/protocol/tx/sign.js';
import { DEMO_INDEX_FILE, DEMO_KEYS_DIR, type DemoKeyIndex, initLedger } from '../../gateway/ledger/init.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { actorNonce } from '../../gateway/ledger/state/queries.js';
import { type Child, gatewayArgs, spawnListening, stopChild } from './gateway-load.js';
import { type BenchOptions, isMain, knob, loadNote, type Row, standalone } from './harness.js';
import { connectPacket } from './mqtt-wire.js';

/** Transactions per block while enrolling (the gateway's default maxTxPerBlock). */
const ENROL_BATCH = 1_000;
const ADMIN = 'admin:alice';
const WARMUP = 200;
const SETTLE_MS = 2_000;

/** Opens a socket, sends CONNECT, resolves with the socket once CONNACK 0 came back. */
function connectDevice(port: number, packet: Buffer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(packet));
    socket.once('data', (data: Buffer) => {
      if (data[0] === 0x20 && data[3] === 0) resolve(socket);
      else reject(new Error(`CONNACK ${data[3]}`));
    });
    socket.once('error', reject);
  });
}

/** Connects `packets` with at most `concurrency` CONNECTs outstanding. */
async function connectAll(
  port: number,
  packets: readonly Buffer[],
  concurrency: number,
  into: Socket[],
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < packets.length) {
      const packet = packets[next++]!;
      into.push(await connectDevice(port, packet));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, packets.length) }, worker));
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (match === null) throw new Error('no VmRSS (Linux /proc needed)');
  return Number(match[1]);
}

/**
 * Enrols `count` fresh device keys, named `${prefix}${i}`, on the ledger in `dir` with admin
 * alice's `device.enrol` transactions (`admin` is her signer), ENROL_BATCH per block; returns
 * their secret keys.
 */
export async function enrolDevices(
  dir: string,
  chain: string,
  admin: CoseSigner,
  count: number,
  prefix: string,
): Promise<Uint8Array[]> {
  const secrets = Array.from({ length: count }, () => nodeBackend.generateSecretKey());
  const ledger = await Ledger.open(dir, { blockIntervalMs: 0, maxTxPerBlock: ENROL_BATCH });
  try {
    let nonce = actorNonce(ledger.state, ADMIN) ?? 0;
    for (let start = 0; start < count; start += ENROL_BATCH) {
      const batch: Promise<unknown>[] = [];
      for (let i = start; i < Math.min(count, start + ENROL_BATCH); i++) {
        const tx = {
          type: 'device.enrol' as const,
          chain,
          actor: ADMIN,
          nonce: ++nonce,
          t: Date.now(),
          body: { dev: `${prefix}${i}`, pub: nodeBackend.publicKey(secrets[i]!), model: 'wearable-v1' },
        };
        batch.push(ledger.submitTx(signTx(tx, admin)));
      }
      await ledger.cutBlock();
      await Promise.all(batch);
    }
  } finally {
    await ledger.close();
  }
  return secrets;
}

/** Admin alice's signer, from the demo keys `medgate init --demo` wrote into `dir`. */
async function demoAdmin(dir: string, index: DemoKeyIndex): Promise<CoseSigner> {
  const alice = index.keys.find((k) => k.role === 'admin' && k.id === 'alice')!;
  return signerFromSecretKey(
    decodePrivateKeyPem(await readFile(join(dir, DEMO_KEYS_DIR, alice.key), 'utf8')),
    nodeBackend,
  );
}

export async function run(options: BenchOptions = {}): Promise<Row[]> {
  const devices = knob(options, 'MEDGATE_BENCH_DEVICES', 10_000, 1_500);
  const concurrency = knob(options, 'MEDGATE_BENCH_CONCURRENCY', 200);
  const marks = [1_000, 10_000].filter((m) => m <= devices);
  const dir = await mkdtemp(join(tmpdir(), 'medgate-bench-connect-'));
  const sockets: Socket[] = [];
  let child: Child | undefined;
  try {
    await initLedger({ dir, demo: true });
    const index = JSON.parse(
      await readFile(join(dir, DEMO_KEYS_DIR, DEMO_INDEX_FILE), 'utf8'),
    ) as DemoKeyIndex;
    const total = WARMUP + devices;
    const secrets = await enrolDevices(dir, index.chain, await demoAdmin(dir, index), total, 'bench-');
    const aad = chainAad(index.chain);
    // Tokens signed beforehand (valid for limits.skewMs): the device side costs nothing measured.
    const packets = secrets.map((secret, i) => {
      const token = encodeConnectToken({
        dev: `bench-${i}`,
        t: Date.now(),
        nonce: crypto.getRandomValues(new Uint8Array(16)),
      });
      return connectPacket(`bench-${i}`, signCoseSign1(token, signerFromSecretKey(secret, nodeBackend), aad));
    });
    child = await spawnListening(gatewayArgs(dir, ['--max-connections', String(total + 100)]));
    const { pid } = child;
    const port = child.listening.mqtt;

    await connectAll(port, packets.slice(0, WARMUP), concurrency, sockets);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const baseline = await rssKb(pid);

    const rows: Row[] = [];
    let connected = WARMUP;
    let connectSeconds = 0;
    for (const mark of marks) {
      const upTo = WARMUP + mark;
      const start = performance.now();
      await connectAll(port, packets.slice(connected, upTo), concurrency, sockets);
      connectSeconds += (performance.now() - start) / 1000;
      connected = upTo;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const rss = await rssKb(pid);
      rows.push({
        bench: `gateway memory per idle device at ${mark.toLocaleString('en-US')}`,
        value: Math.round(((rss - baseline) / mark) * 10) / 10,
        unit: 'KB/device',
        note: `VmRSS ${Math.round(rss / 1024)} MB vs ${Math.round(baseline / 1024)} MB with ${WARMUP} devices; target < 30 KB`,
      });
    }
    rows.unshift({
      bench: 'authenticated connects',
      value: Math.round((connected - WARMUP) / connectSeconds),
      unit: 'connects/s',
      note: `${connected - WARMUP} devices, ${concurrency} CONNECTs outstanding, token verify on the pool; ${loadNote()}`,
    });
    return rows;
  } finally {
    for (const socket of sockets) socket.destroy();
    if (child !== undefined) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await standalone(run);
