/**
 * Misbehaving clients against `medgate gateway` as a child process, while well-behaved devices
 * keep streaming (issue 7 "Long fault runs"): connections that never send CONNECT, half-open
 * connections (a CONNECT cut off midway, then silence), failed logins of every kind, 1 MB
 * packets (a CONNECT and a PUBLISH), topics and filters with thousands of levels, and the QoS 0
 * flood with a subscriber that stalls and then vanishes (the aedes trap of broker-flood.test.ts).
 *
 * Afterwards: the gateway is up and serves a new device, its RSS stayed bounded, the
 * well-behaved devices were never disconnected nor refused, and every reading acknowledged to
 * them (and to the flooding devices at QoS 1) is in the reading log; `ledger verify` passes.
 *
 * Attackers connect from 127.0.0.2 and up (raw-mqtt.ts), the devices from 127.0.0.1, with the
 * gateway's default limits (penalties included). MEDGATE_FAULT_SCALE multiplies every count
 * (default 1: hundreds of failed logins; `npm run test:faults` uses 10: thousands).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { encodeConnectToken } from '../../firmware-ts/protocol/decode/connect.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { TOPIC_FILTERS, telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { verifyLedgerDir } from '../../gateway/ledger/verify.js';
import { demoDataDir, randomKey, type TestGateway, type TestKey } from '../gateway/harness.js';
import { enrolDevices } from './enrol.js';
import { FAULT_SCALE, GatewayChild, getJson, sleep, VERBOSE } from './gateway-child.js';
import {
  attackerAddress,
  connectPacket,
  fixedHeader,
  publishHeader,
  publishPacket,
  RawConn,
  subscribePacket,
} from './raw-mqtt.js';
import { SimDevice } from './sim-device.js';

const WELL_BEHAVED = ['wearable-001', 'wearable-002', 'bp-cuff-001'];
const NOISY = Array.from({ length: 6 }, (_, i) => `noisy-${i}`);
const FLOOD = Array.from({ length: 4 }, (_, i) => `flood-${i}`);
const MB = 1024 * 1024;

const COUNTS = Object.freeze({
  silent: 100 * FAULT_SCALE,
  halfOpen: 100 * FAULT_SCALE,
  failedLogins: 300 * FAULT_SCALE,
  bigPackets: 6 * FAULT_SCALE,
  deepTopics: 6 * FAULT_SCALE,
  floodReadings: 100 * FAULT_SCALE,
});

/** Runs `work(i)` for i < n with at most `limit` at a time. */
async function times(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

describe('misbehaving clients while well-behaved devices stream', () => {
  let gw: TestGateway;
  let child: GatewayChild;
  let port: number;
  let http: number;
  const keys = new Map<string, TestKey>();
  let devices: SimDevice[];
  const clients: MqttClient[] = [];
  const raws: RawConn[] = [];
  const rss: number[] = [];
  let sampler: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    gw = await demoDataDir();
    for (const dev of [...NOISY, ...FLOOD, 'victim', 'calm']) keys.set(dev, randomKey());
    await enrolDevices(gw, [
      ...WELL_BEHAVED.map((dev) => ({ dev, pub: gw.key(dev).pub })),
      ...[...keys].map(([dev, key]) => ({ dev, pub: key.pub })),
    ]);
    child = new GatewayChild(gw.dir);
    ({ mqtt: port, http } = await child.listening);
    devices = WELL_BEHAVED.map(
      (dev) =>
        new SimDevice(
          dev,
          { reading: (seq) => gw.reading(dev, seq), token: () => gw.token(dev) },
          {
            window: 4,
            paceMs: 20,
          },
        ),
    );
  });
  afterAll(async () => {
    clearInterval(sampler);
    for (const d of devices ?? []) d.detach();
    for (const c of clients) c.end(true);
    for (const r of raws) r.destroy();
    await child?.kill();
    await gw?.stop();
  });

  const token = (dev: string, key = keys.get(dev)): Uint8Array =>
    gw.token(dev, key === undefined ? {} : { key });

  /** A raw connection from an attacker address, logged in as `dev` (undefined if refused). */
  async function loggedIn(dev: string, n: number): Promise<RawConn | undefined> {
    const conn = new RawConn(port, attackerAddress(n));
    raws.push(conn);
    await conn.connected.catch(() => {});
    await conn.write(connectPacket(dev, dev, token(dev)));
    const rc = await conn.connack();
    if (rc === 0) return conn;
    conn.destroy();
    return undefined;
  }

  it('stays up, bounded in memory, and the well-behaved devices lose nothing', {
    timeout: 120_000 + FAULT_SCALE * 60_000,
  }, async () => {
    const url = `mqtt://127.0.0.1:${port}`;
    for (const d of devices) expect(await d.attach(url, () => child.alive)).toBe(true);
    for (const d of devices) d.produce(true);
    await sleep(1000);
    const baseline = child.rssBytes();
    sampler = setInterval(() => {
      if (child.alive) rss.push(child.rssBytes());
    }, 100);
    const ackedAtStart = devices.map((d) => d.acked.length);
    const outcome: Record<string, Record<string, number>> = {};
    const count = (phase: string, what: string | number) => {
      outcome[phase] ??= {};
      const o = outcome[phase];
      o[String(what)] = (o[String(what)] ?? 0) + 1;
    };

    // 1. Connections that never send CONNECT, and half-open ones: a CONNECT cut off midway.
    // They stay open through every later phase.
    await times(COUNTS.silent, 50, async (i) => {
      const conn = new RawConn(port, attackerAddress(i));
      raws.push(conn);
      await conn.connected.catch(() => count('silent', 'refused'));
    });
    await times(COUNTS.halfOpen, 50, async (i) => {
      const conn = new RawConn(port, attackerAddress(i + 7));
      raws.push(conn);
      await conn.connected.catch(() => {});
      const full = connectPacket(`half-${i}`, `half-${i}`, new Uint8Array(200).fill(1));
      await conn.write(full.subarray(0, 12 + (i % 40)));
    });

    // 2. Failed logins of every kind, from rotating attacker addresses.
    const aad = chainAad(gw.chain);
    await times(COUNTS.failedLogins, 16, async (i) => {
      const conn = new RawConn(port, attackerAddress(i));
      raws.push(conn);
      await conn.connected.catch(() => {});
      const id = `intruder-${i}`;
      const stranger = randomKey();
      let bytes: Buffer;
      switch (i % 5) {
        case 0: // junk password
          bytes = connectPacket(id, id, crypto.getRandomValues(new Uint8Array(1 + (i % 300))));
          break;
        case 1: // a well-formed token of a principal the ledger does not know
          bytes = connectPacket(id, id, token(id, stranger));
          break;
        case 2: // an enrolled device's token signed with another key (a signature check each time)
          bytes = connectPacket('victim', 'victim', token('victim', stranger));
          break;
        case 3: // the token of one device presented under another id
          bytes = connectPacket(id, id, token('victim'));
          break;
        default: {
          // signed for another chain
          const payload = encodeConnectToken({ dev: 'victim', t: Date.now(), nonce: new Uint8Array(16) });
          const foreign = signCoseSign1(payload, keys.get('victim')!.signer, chainAad(`${gw.chain}-other`));
          bytes = connectPacket(
            'victim',
            'victim',
            i % 2 === 0 ? foreign : signCoseSign1(payload, stranger.signer, aad),
          );
        }
      }
      await conn.write(bytes);
      const rc = await conn.connack();
      count('failedLogins', rc);
      conn.destroy();
    });

    // 3. 1 MB packets: a CONNECT before any login, and a PUBLISH after one.
    await times(COUNTS.bigPackets, 3, async (i) => {
      const conn = new RawConn(port, attackerAddress(i + 100));
      raws.push(conn);
      await conn.connected.catch(() => {});
      const start = connectPacket(`big-${i}`, `big-${i}`, new Uint8Array(64).fill(7)).subarray(2);
      void conn.write(fixedHeader(0x10, MB));
      void conn.write(Buffer.concat([start, Buffer.alloc(MB - start.length, 7)]));
      count('bigConnect', (await conn.waitClosed(10_000)) ? 'closed' : 'open');
      conn.destroy();

      const dev = NOISY[i % NOISY.length] as string;
      const authed = await loggedIn(dev, i + 101);
      if (authed === undefined) return count('bigPublish', 'login refused');
      void authed.write(publishHeader(telemetryTopic(dev), MB));
      void authed.write(new Uint8Array(MB).fill(9));
      const puback = await authed.next(4, 10_000);
      count('bigPublish', typeof puback === 'string' ? puback : 'puback');
      authed.destroy();
    });

    // 4. Topics and filters with thousands of levels (before and after a login).
    const deep = (levels: number) => Array.from({ length: levels }, () => 'x').join('/');
    await times(COUNTS.deepTopics, 3, async (i) => {
      const levels = 2000 + ((i * 997) % 6000);
      const dev = NOISY[(i + 3) % NOISY.length] as string;
      const anon = new RawConn(port, attackerAddress(i + 150));
      raws.push(anon);
      await anon.connected.catch(() => {});
      await anon.write(publishPacket(deep(levels), new Uint8Array(8)));
      count('deepBeforeLogin', (await anon.waitClosed()) ? 'closed' : 'open');
      anon.destroy();

      const pub = await loggedIn(dev, i + 151);
      if (pub === undefined) return count('deepPublish', 'login refused');
      await pub.write(publishPacket(`${telemetryTopic(dev)}/${deep(levels)}`, new Uint8Array(8)));
      const puback = await pub.next(4);
      count('deepPublish', typeof puback === 'string' ? puback : 'puback');
      pub.destroy();

      const sub = await loggedIn(dev, i + 152);
      if (sub === undefined) return count('deepSubscribe', 'login refused');
      await sub.write(subscribePacket(`${deep(levels)}/#`));
      const suback = await sub.next(9);
      count('deepSubscribe', typeof suback === 'string' ? suback : `suback ${suback.at(-1)}`);
      sub.destroy();
    });

    // 5. The QoS 0 flood: an admin subscribed to every verified reading stalls, devices flood
    // (QoS 1 pipelined, then QoS 0, which closes their connections), the admin vanishes.
    const admin = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'admin:alice',
      username: 'admin:alice',
      password: Buffer.from(gw.token('admin:alice')),
      reconnectPeriod: 0,
    });
    clients.push(admin);
    await admin.subscribeAsync([TOPIC_FILTERS.verified, 'mg/v1/security'], { qos: 0 });
    const adminSocket = admin.stream as unknown as NodeJS.ReadableStream & { destroy(): void };
    adminSocket.unpipe();
    adminSocket.pause();
    const floodAcked: Uint8Array[] = [];
    await Promise.all(
      FLOOD.map(async (dev) => {
        const key = keys.get(dev)!;
        const client = await mqtt.connectAsync(url, {
          protocolVersion: 4,
          clientId: dev,
          username: dev,
          password: Buffer.from(token(dev)),
          reconnectPeriod: 0,
        });
        clients.push(client);
        const readings = Array.from({ length: COUNTS.floodReadings }, (_, k) =>
          gw.reading(dev, k + 1, { key }),
        );
        const acks = readings.map((bytes) =>
          client.publishAsync(telemetryTopic(dev), Buffer.from(bytes), { qos: 1 }).then(() => {
            floodAcked.push(bytes);
          }),
        );
        await Promise.all(acks.slice(0, acks.length / 2));
        if (dev === FLOOD[0]) adminSocket.destroy();
        await Promise.allSettled(acks);
        const closed = new Promise((resolve) => client.once('close', () => resolve(undefined)));
        for (let k = 0; k < 300; k++) {
          const bytes = gw.reading(dev, COUNTS.floodReadings + 1 + k, { key });
          client.publish(telemetryTopic(dev), Buffer.from(bytes), { qos: 0 });
        }
        count(
          'qos0Flood',
          await Promise.race([closed.then(() => 'closed'), sleep(10_000).then(() => 'open')]),
        );
      }),
    );
    clearInterval(sampler);

    // Up, serving, and the attackers got nothing.
    expect(child.alive, child.stderr.slice(-4000)).toBe(true);
    expect((await getJson(http, '/healthz')).status).toBe(200);
    for (const conn of raws) conn.destroy();
    const peak = Math.max(...rss);
    const summary = {
      baselineMiB: Math.round(baseline / MB),
      peakMiB: Math.round(peak / MB),
      samples: rss.length,
      counts: COUNTS,
      outcome,
    };
    if (VERBOSE || FAULT_SCALE > 1) console.log(`misbehaving-clients: ${JSON.stringify(summary)}`);
    expect(outcome.failedLogins?.['0'], JSON.stringify(outcome)).toBeUndefined();
    expect(Object.values(outcome.failedLogins ?? {}).reduce((a, b) => a + b, 0)).toBe(COUNTS.failedLogins);
    expect(outcome.bigConnect).toEqual({ closed: COUNTS.bigPackets });
    expect(outcome.bigPublish?.puback).toBeUndefined();
    expect(outcome.bigPublish?.closed ?? 0).toBeGreaterThan(0);
    expect(outcome.deepBeforeLogin).toEqual({ closed: COUNTS.deepTopics });
    expect(outcome.deepPublish?.puback).toBeUndefined();
    expect(outcome.deepPublish?.closed ?? 0).toBeGreaterThan(0);
    expect(outcome.deepSubscribe?.['suback 0']).toBeUndefined();
    expect(outcome.qos0Flood).toEqual({ closed: FLOOD.length });
    expect(floodAcked).toHaveLength(FLOOD.length * COUNTS.floodReadings);
    // Bounded: the packet limit means no attack above buffers more than ~17 KiB per connection.
    expect(peak - baseline, JSON.stringify(summary)).toBeLessThan(256 * MB);

    // A new device is served; the well-behaved ones streamed throughout, never dropped.
    const calm = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId: 'calm',
      username: 'calm',
      password: Buffer.from(token('calm')),
      reconnectPeriod: 0,
    });
    clients.push(calm);
    const calmReading = gw.reading('calm', 1, { key: keys.get('calm')! });
    await calm.publishAsync(telemetryTopic('calm'), Buffer.from(calmReading), { qos: 1 });
    for (const d of devices) d.produce(false);
    for (let i = 0; i < 100 && devices.some((d) => d.pending.size > 0); i++) await sleep(50);
    devices.forEach((d, i) => {
      expect(d.connects, `${d.id} was disconnected`).toBe(1);
      expect(d.connected).toBe(true);
      expect(d.pending.size).toBe(0);
      expect(d.rejected).toEqual([]);
      expect(d.acked.length).toBeGreaterThan(ackedAtStart[i] as number);
    });
    for (const d of devices) d.detach();
    for (const c of clients) c.end(true);

    expect(await child.stop(), child.stderr.slice(-4000)).toBe(0);
    const ledger = await Ledger.open(gw.dir, { readOnly: true });
    try {
      const acked = [...devices.flatMap((d) => d.acked.map((a) => a.bytes)), ...floodAcked, calmReading];
      const missing: number[] = [];
      for (const bytes of acked) {
        if ((await ledger.log.indexOfLeafHash(leafHash(bytes))) === undefined) missing.push(bytes.length);
      }
      expect(missing, 'acknowledged readings missing from the log').toEqual([]);
    } finally {
      await ledger.close();
    }
    const report = await verifyLedgerDir(gw.dir);
    expect(report.failure).toBeUndefined();
    expect(report.ok).toBe(true);
  });
});
