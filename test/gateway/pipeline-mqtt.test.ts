/**
 * The telemetry pipeline behind the real broker (test/gateway/harness.ts: real aedes, real
 * mqtt.js clients on loopback): a device publishes at QoS 1, the PUBACK comes only once the
 * leaf is durable, and a clinician with a grant receives the verified JSON and verifies it
 * against the device key alone. A forged reading gets its coded event and a security event.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import {
  eventsTopic,
  SECURITY_TOPIC,
  telemetryTopic,
  verifiedTopic,
} from '../../firmware-ts/protocol/topics.js';
import { parseVerifiedReading, verifyVerifiedReading } from '../../firmware-ts/protocol/verified-reading.js';
import { filterMatches, listensTo } from '../../gateway/broker/publisher.js';
import { nextMessage, startTestGateway, type TestGateway } from './harness.js';

const DEV = 'wearable-001';

let gw: TestGateway;
let device: MqttClient;
let clinician: MqttClient;
let admin: MqttClient;

beforeAll(async () => {
  gw = await startTestGateway({ enrol: [DEV], clinician: true });
  await gw.grant([DEV]);
  clinician = await gw.connect('clinician:dr-lee');
  await clinician.subscribeAsync(verifiedTopic(DEV), { qos: 1 });
  admin = await gw.connect('admin:alice');
  await admin.subscribeAsync(SECURITY_TOPIC, { qos: 1 });
  device = await gw.connect(DEV);
  await device.subscribeAsync(eventsTopic(DEV), { qos: 1 });
});

afterAll(async () => {
  await gw?.stop();
});

describe('telemetry over MQTT', () => {
  it('PUBACK after the durable leaf; the clinician gets verified JSON it can check on its own', async () => {
    const bytes = gw.reading(DEV, 1, { obs: [{ code: '2708-6', v: 90, u: '%' }] });
    const delivered = nextMessage(clinician, verifiedTopic(DEV));
    const event = nextMessage(device, eventsTopic(DEV));
    await device.publishAsync(telemetryTopic(DEV), Buffer.from(bytes), { qos: 1 });
    // publishAsync resolved on the PUBACK: the leaf is in the log by now.
    const index = await gw.ledger.log.indexOf(DEV, 1);
    expect(index).toBeDefined();
    expect((await gw.ledger.log.leaf(index!)).leafHash).toEqual(leafHash(bytes));

    const message = await delivered;
    expect(message.qos).toBe(1);
    const r = parseVerifiedReading(message.payload);
    expect(r).toMatchObject({ dev: DEV, seq: 1, leafIndex: index, chain: gw.chain });
    expect(r.alerts?.[0]).toMatchObject({ code: '2708-6', direction: 'low', source: 'NEWS2' });
    expect(verifyVerifiedReading(r, gw.key(DEV).pub, nobleBackend).seq).toBe(1);
    expect(Object.fromEntries(decodeCbor((await event).payload) as Map<string, unknown>)).toEqual({
      type: 'accepted',
      seq: 1,
      leaf: index,
    });
  });

  it('a forged reading: acknowledged as refused, a coded event to the device, a security event to admins', async () => {
    const bytes = gw.reading(DEV, 2);
    bytes[bytes.length - 1] = (bytes.at(-1) as number) ^ 1;
    const event = nextMessage(device, eventsTopic(DEV));
    const security = nextMessage(admin, SECURITY_TOPIC);
    await device.publishAsync(telemetryTopic(DEV), Buffer.from(bytes), { qos: 1 });
    expect(Object.fromEntries(decodeCbor((await event).payload) as Map<string, unknown>)).toMatchObject({
      type: 'rejected',
      code: 'MG_ERR_BAD_SIGNATURE',
    });
    expect(JSON.parse((await security).payload.toString('utf8'))).toMatchObject({
      type: 'reading.refused',
      code: 'MG_ERR_BAD_SIGNATURE',
      dev: DEV,
    });
    expect(await gw.ledger.log.indexOf(DEV, 2)).toBeUndefined();
    // The device is still served.
    const delivered = nextMessage(clinician, verifiedTopic(DEV));
    await device.publishAsync(telemetryTopic(DEV), Buffer.from(gw.reading(DEV, 2)), { qos: 1 });
    expect(parseVerifiedReading((await delivered).payload).seq).toBe(2);
  });

  it('publishes the accepted event only while the device listens on its events topic', async () => {
    const other = 'wearable-002';
    await gw.enrolDevice(other);
    const quiet = await gw.connect(other);
    const events: number[] = [];
    const onPublish = (packet: { topic: string }) => {
      if (packet.topic === eventsTopic(other)) events.push(1);
    };
    gw.gateway.broker.aedes.on('publish', onPublish);
    try {
      await quiet.publishAsync(telemetryTopic(other), Buffer.from(gw.reading(other, 1)), { qos: 1 });
      await gw.gateway.pipeline!.drain();
      expect(events).toHaveLength(0); // nobody may read it: not built, not routed
      await quiet.subscribeAsync(eventsTopic(other), { qos: 0 });
      const event = nextMessage(quiet, eventsTopic(other));
      await quiet.publishAsync(telemetryTopic(other), Buffer.from(gw.reading(other, 2)), { qos: 1 });
      expect(Object.fromEntries(decodeCbor((await event).payload) as Map<string, unknown>)).toMatchObject({
        type: 'accepted',
        seq: 2,
      });
      await gw.gateway.pipeline!.drain();
      expect(events).toHaveLength(1);
    } finally {
      gw.gateway.broker.aedes.off('publish', onPublish);
      quiet.end(true);
    }
  });
});

describe('listensTo / filterMatches (MQTT 3.1.1 §4.7)', () => {
  const client = (subscriptions: Record<string, unknown> | undefined, closed = false) =>
    ({ subscriptions, closed }) as unknown as Parameters<typeof listensTo>[0];

  it('matches exact filters and wildcards, and fails open without a subscription table', () => {
    const topic = eventsTopic('d-1');
    expect(listensTo(undefined, topic)).toBe(false);
    expect(listensTo(client({ [topic]: {} }), topic)).toBe(true);
    expect(listensTo(client({ [topic]: {} }, true), topic)).toBe(false);
    expect(listensTo(client({ 'mg/v1/dev/d-1/update': {} }), topic)).toBe(false);
    expect(listensTo(client({ 'mg/v1/dev/+/events': {} }), topic)).toBe(true);
    expect(listensTo(client({ 'mg/v1/#': {} }), topic)).toBe(true);
    expect(listensTo(client({ 'mg/v1/dev/d-2/#': {} }), topic)).toBe(false);
    expect(listensTo(client(undefined), topic)).toBe(true);
  });

  it('follows §4.7.1 for + and #, and keeps $ topics apart', () => {
    expect(filterMatches('a/#', 'a')).toBe(true);
    expect(filterMatches('a/#', 'a/b/c')).toBe(true);
    expect(filterMatches('a/+', 'a/b/c')).toBe(false);
    expect(filterMatches('a/+/c', 'a//c')).toBe(true);
    expect(filterMatches('+/+', 'a/b')).toBe(true);
    expect(filterMatches('#', '$SYS/x')).toBe(false);
    expect(filterMatches('a/b', 'a/b/c')).toBe(false);
  });
});
