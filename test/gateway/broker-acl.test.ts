/**
 * Who may publish and subscribe to what (gateway/broker/acl.ts), through a real gateway: a
 * forbidden publish closes the connection and reaches nobody; a forbidden subscription gets
 * SUBACK 0x80 and the connection stays; clinicians need a grant, admins see security events
 * and every verified topic. Absence of a delivery is shown with a sentinel: the gateway
 * publishes a known message afterwards, and it must be the first one the client receives.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import {
  eventsTopic,
  fwTopic,
  SECURITY_TOPIC,
  TOPIC_FILTERS,
  telemetryTopic,
  updateStatusTopic,
  updateTopic,
  verifiedTopic,
} from '../../firmware-ts/protocol/topics.js';
import { maySubscribe, publishKind } from '../../gateway/broker/acl.js';
import type { Session } from '../../gateway/broker/sessions.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { silentLogger } from '../../gateway/log.js';
import { nextMessage, once, startTestGateway, type TestGateway } from './harness.js';

const G = GatewayErrorCode;
const SUBACK_FAILURE = 128;

function session(
  role: 'device' | 'admin' | 'clinician',
  id: string,
  kind: Session['kind'] = 'principal',
): Session {
  return {
    principal: { role, id },
    id: role === 'device' ? id : `${role}:${id}`,
    kind,
    kid: '',
    remote: '127.0.0.1',
    log: silentLogger(),
  };
}

describe('acl rules', () => {
  test('a device publishes only to its own ingress topics', () => {
    const dev = session('device', 'd1');
    expect(publishKind(dev, 'mg/v1/dev/d1/telemetry')).toBe('telemetry');
    expect(publishKind(dev, 'mg/v1/dev/d1/update/status')).toBe('updateStatus');
    expect(publishKind(dev, 'mg/v1/dev/d1/fw/get')).toBe('fw');
    for (const topic of [
      'mg/v1/dev/d1/fw/data',
      'mg/v1/dev/d2/fw/get',
      'mg/v1/dev/d1/fw/get/more',
      'mg/v1/dev/d1/fw/req/chunk',
      'mg/v1/dev/d2/telemetry',
      'mg/v1/dev/d1/events',
      'mg/v1/dev/d1/update',
      'mg/v1/dev/d1/fw/abc/chunk',
      'mg/v1/verified/d1',
      'mg/v1/security',
      '$SYS/broker/heartbeat',
      'mg/v1/dev/d1/#',
      'mg/v1/dev/+/telemetry',
      'other',
    ]) {
      expect(publishKind(dev, topic), topic).toBeUndefined();
    }
    expect(publishKind(session('admin', 'a'), 'mg/v1/dev/d1/telemetry')).toBeUndefined();
    expect(publishKind(session('device', 'd1', 'enrol'), 'mg/v1/dev/d1/telemetry')).toBeUndefined();
  });

  test('each topic is parsed once, and its verdict is still per session', () => {
    const own = session('device', 'd7');
    const other = session('device', 'd8');
    // Alternating sessions on the same names: the cache holds the parsed topic, never a verdict.
    for (let i = 0; i < 3; i++) {
      expect(publishKind(own, 'mg/v1/dev/d7/telemetry')).toBe('telemetry');
      expect(publishKind(other, 'mg/v1/dev/d7/telemetry')).toBeUndefined();
      expect(publishKind(own, 'mg/v1/dev/d7/#')).toBeUndefined();
      expect(publishKind(other, 'mg/v1/dev/d8/update/status')).toBe('updateStatus');
    }
    // A name over the length limit is refused whatever it spells.
    const long = `mg/v1/dev/d7/telemetry${'/x'.repeat(200)}`;
    expect(publishKind(own, long)).toBeUndefined();
    expect(publishKind(own, long)).toBeUndefined();
  });
});

describe('through the gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      enrol: ['wearable-001', 'wearable-002', 'wearable-003', 'bp-cuff-001'],
      clinician: true,
      limits: { failuresBeforeSlowdown: 1000 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** Subscribes and returns the granted QoS of each filter (128: refused). */
  async function granted(client: MqttClient, filters: string[]): Promise<number[]> {
    try {
      const result = await client.subscribeAsync(filters, { qos: 1 });
      return filters.map((f) => result.find((g) => g.topic === f)?.qos ?? -1);
    } catch (err) {
      // mqtt.js rejects a SUBACK holding a failure (0x80); the packet has every granted code, in order.
      const packet = (err as { packet?: { granted?: number[] } }).packet;
      if (packet?.granted === undefined) throw err;
      return packet.granted;
    }
  }

  /** Publishes (QoS 1) and resolves once the gateway closed the connection. */
  async function closedAfterPublish(client: MqttClient, topic: string, payload: Uint8Array): Promise<void> {
    const closed = once(client, 'close');
    client.publishAsync(topic, Buffer.from(payload), { qos: 1 }).catch(() => undefined);
    await closed;
  }

  test("a device publishing on another device's telemetry topic is disconnected; nothing is logged", async () => {
    const admin = await gw.connect('admin:alice');
    await admin.subscribeAsync(SECURITY_TOPIC, { qos: 1 });
    const security = nextMessage(admin, SECURITY_TOPIC);
    const mallory = await gw.connect('wearable-002');
    const sizeBefore = gw.ledger.log.size;
    await closedAfterPublish(mallory, telemetryTopic('wearable-001'), gw.reading('wearable-002', 1));
    const line = gw.logged('publish refused; closing the connection').at(-1);
    expect(line).toMatchObject({
      code: G.PUBLISH_FORBIDDEN,
      principal: 'wearable-002',
      topic: telemetryTopic('wearable-001'),
    });
    expect(JSON.parse((await security).payload.toString())).toMatchObject({
      type: 'publish.forbidden',
      code: G.PUBLISH_FORBIDDEN,
      principal: 'wearable-002',
    });
    expect(gw.ledger.log.size).toBe(sizeBefore);
    admin.end(true);
  });

  test.each([
    ['its own events topic', eventsTopic('wearable-003')],
    ['its own update topic', updateTopic('wearable-003')],
    ['a verified topic', verifiedTopic('wearable-003')],
    ['the security topic', SECURITY_TOPIC],
    ['$SYS', '$SYS/medgate/heartbeat'],
    ['a topic outside v1', 'sensors/bed-12'],
  ])('a device cannot publish to %s (gateway-owned or not v1)', async (_name, topic) => {
    const client = await gw.connect('wearable-003');
    await closedAfterPublish(client, topic, new TextEncoder().encode('spoof'));
    expect(gw.logged('publish refused; closing the connection').at(-1)).toMatchObject({
      code: G.PUBLISH_FORBIDDEN,
      topic,
    });
  });

  test('a spoofed event never reaches the device it targets (sentinel)', async () => {
    const victim = await gw.connect('wearable-001');
    expect(await granted(victim, [eventsTopic('wearable-001')])).toEqual([1]);
    const first = nextMessage(victim);
    const attacker = await gw.connect('wearable-003');
    await closedAfterPublish(
      attacker,
      eventsTopic('wearable-001'),
      new TextEncoder().encode('{"result":"revoked"}'),
    );
    await gw.gateway.broker.publisher.deviceEvent('wearable-001', { type: 'sentinel' });
    const message = await first;
    expect(message.topic).toBe(eventsTopic('wearable-001'));
    expect(Buffer.from(message.payload).includes('sentinel')).toBe(true);
    victim.end(true);
  });

  test('telemetry at QoS 0 closes the connection (MG_ERR_QOS_REQUIRED) and is not logged', async () => {
    const client = await gw.connect('bp-cuff-001');
    const closed = once(client, 'close');
    client.publish(telemetryTopic('bp-cuff-001'), Buffer.from(gw.reading('bp-cuff-001', 1)), { qos: 0 });
    await closed;
    expect(gw.lines.some((l) => l.code === G.QOS_REQUIRED && l.principal === 'bp-cuff-001')).toBe(true);
    expect(await gw.ledger.log.indexOf('bp-cuff-001', 1)).toBeUndefined();
  });

  test('an update status that is no transaction is acknowledged, refused on the events topic, and the connection stays', async () => {
    const client = await gw.connect('bp-cuff-001');
    await client.subscribeAsync(eventsTopic('bp-cuff-001'), { qos: 1 });
    const event = nextMessage(client, eventsTopic('bp-cuff-001'));
    await client.publishAsync(updateStatusTopic('bp-cuff-001'), Buffer.from([0xa0]), { qos: 1 });
    const decoded = decodeCbor(new Uint8Array((await event).payload)) as Map<string, unknown>;
    expect(decoded.get('type')).toBe('status.rejected');
    expect(String(decoded.get('code'))).toMatch(/^MG_ERR_(COSE|CBOR)_/);
    expect(client.connected).toBe(true);
    expect(gw.lines.some((l) => l.code === G.TOPIC_NOT_SERVED)).toBe(false);
    client.end(true);
  });

  test("a device cannot publish to its own fw/data (gateway-owned) nor to another device's fw/get", async () => {
    for (const topic of [fwTopic('wearable-003', 'data'), fwTopic('wearable-001', 'get')]) {
      const client = await gw.connect('wearable-003');
      await closedAfterPublish(client, topic, new Uint8Array([0xa0]));
      expect(gw.logged('publish refused; closing the connection').at(-1)).toMatchObject({
        code: G.PUBLISH_FORBIDDEN,
        topic,
      });
    }
  });

  test("a device subscribes to its own events and update topics, not to another's, nor wildcards", async () => {
    const client = await gw.connect('wearable-003');
    const filters = [
      eventsTopic('wearable-003'),
      updateTopic('wearable-003'),
      fwTopic('wearable-003', 'data'),
      fwTopic('wearable-003', 'get'),
      fwTopic('wearable-001', 'data'),
      'mg/v1/dev/wearable-003/fw/#',
      'mg/v1/dev/wearable-003/fw/+',
      eventsTopic('wearable-001'),
      updateTopic('wearable-001'),
      telemetryTopic('wearable-001'),
      TOPIC_FILTERS.events,
      'mg/v1/dev/wearable-003/#',
      verifiedTopic('wearable-003'),
      SECURITY_TOPIC,
      '#',
      '$SYS/#',
    ];
    expect(await granted(client, filters)).toEqual([
      1,
      1,
      1,
      ...Array(filters.length - 3).fill(SUBACK_FAILURE),
    ]);
    expect(client.connected).toBe(true);
    // It receives nothing of wearable-001's: the sentinel on its own topic comes first.
    const first = nextMessage(client);
    await gw.gateway.broker.publisher.deviceEvent('wearable-001', { type: 'not-for-you' });
    await gw.gateway.broker.publisher.deviceEvent('wearable-003', { type: 'sentinel' });
    expect((await first).topic).toBe(eventsTopic('wearable-003'));
    expect(gw.logged('subscription refused').some((l) => l.filter === eventsTopic('wearable-001'))).toBe(
      true,
    );
    client.end(true);
  });

  test('a clinician without a grant cannot subscribe to a verified topic; with one it can, and gets verified readings', async () => {
    const clinician = await gw.connect('clinician:dr-lee');
    expect(await granted(clinician, [verifiedTopic('wearable-001')])).toEqual([SUBACK_FAILURE]);
    expect(
      await granted(clinician, [TOPIC_FILTERS.verified, SECURITY_TOPIC, eventsTopic('wearable-001')]),
    ).toEqual([SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE]);
    await gw.grant(['wearable-001']);
    expect(await granted(clinician, [verifiedTopic('wearable-001')])).toEqual([1]);

    const delivered = nextMessage(clinician, verifiedTopic('wearable-001'));
    const device = await gw.connect('wearable-001');
    await device.publishAsync(telemetryTopic('wearable-001'), Buffer.from(gw.reading('wearable-001', 7)), {
      qos: 1,
    });
    const verified = JSON.parse((await delivered).payload.toString());
    expect(verified).toMatchObject({ dev: 'wearable-001', seq: 7 });
    device.end(true);
    clinician.end(true);
  });

  test('an admin subscribes to security events and to every verified topic', async () => {
    const admin = await gw.connect('admin:carol');
    expect(
      await granted(admin, [SECURITY_TOPIC, TOPIC_FILTERS.verified, verifiedTopic('wearable-002')]),
    ).toEqual([1, 1, 1]);
    expect(await granted(admin, [eventsTopic('wearable-001'), telemetryTopic('wearable-001'), '#'])).toEqual([
      SUBACK_FAILURE,
      SUBACK_FAILURE,
      SUBACK_FAILURE,
    ]);
    const delivered = nextMessage(admin, verifiedTopic('wearable-002'));
    const device = await gw.connect('wearable-002');
    await device.publishAsync(telemetryTopic('wearable-002'), Buffer.from(gw.reading('wearable-002', 3)), {
      qos: 1,
    });
    expect(JSON.parse((await delivered).payload.toString())).toMatchObject({ dev: 'wearable-002', seq: 3 });
    device.end(true);
    admin.end(true);
  });

  test('the subscription rules read the live ledger state', () => {
    const state = gw.ledger.state;
    expect(maySubscribe(session('clinician', 'dr-lee'), verifiedTopic('wearable-001'), state)).toBe(true);
    expect(maySubscribe(session('clinician', 'dr-lee'), verifiedTopic('wearable-002'), state)).toBe(false);
    expect(maySubscribe(session('clinician', 'dr-lee'), TOPIC_FILTERS.verified, state)).toBe(false);
    expect(maySubscribe(session('device', 'x', 'enrol'), eventsTopic('x'), state)).toBe(true);
    expect(maySubscribe(session('device', 'x', 'enrol'), updateTopic('x'), state)).toBe(false);
  });
});
