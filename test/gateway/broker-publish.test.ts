/**
 * The seam between `authorizePublish` and the telemetry handler (gateway/broker/telemetry-seam.ts),
 * with a handler of the test's own: the PUBACK waits for `handle`; a refused reading is
 * acknowledged and the device stays connected; a reading that could not be stored is not
 * acknowledged, the connection closes, and the device's redelivery (DUP) is handled again.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { telemetryTopic, updateTopic } from '../../firmware-ts/protocol/topics.js';
import type {
  PublishInfo,
  TelemetryClient,
  TelemetryHandler,
  TelemetryVerdict,
} from '../../gateway/broker/telemetry-seam.js';
import { GatewayErrorCode, MedgateError } from '../../gateway/errors.js';
import { once, startTestGateway, type TestGateway } from './harness.js';

interface Call {
  readonly client: TelemetryClient;
  readonly payload: Uint8Array;
  readonly info: PublishInfo;
  settle(verdict: TelemetryVerdict | Error): void;
}

/** A handler whose calls the test answers one by one. */
class ScriptedHandler implements TelemetryHandler {
  readonly calls: Call[] = [];
  #waiters: Array<(call: Call) => void> = [];

  handle(client: TelemetryClient, payload: Uint8Array, info: PublishInfo): Promise<TelemetryVerdict> {
    return new Promise((resolve, reject) => {
      const call: Call = {
        client,
        payload: Uint8Array.from(payload),
        info,
        settle: (verdict) => (verdict instanceof Error ? reject(verdict) : resolve(verdict)),
      };
      this.calls.push(call);
      this.#waiters.shift()?.(call);
    });
  }

  /** The next call (one already made and not yet taken, or the next one to come). */
  next(): Promise<Call> {
    const taken = this.calls.length - this.#taken;
    if (taken > 0) return Promise.resolve(this.calls[this.#taken++]!);
    return new Promise((resolve) => {
      this.#waiters.push((call) => {
        this.#taken++;
        resolve(call);
      });
    });
  }

  #taken = 0;
}

const handler = new ScriptedHandler();
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    telemetry: handler,
    enrol: ['wearable-001', 'wearable-002', 'wearable-003'],
  });
});
afterAll(async () => {
  await gw?.stop();
});

function pubacks(client: MqttClient): () => number {
  let count = 0;
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback') count++;
  });
  return () => count;
}

test('the PUBACK waits for the handler; the handler sees the publisher and the packet', async () => {
  const device = await gw.connect('wearable-001');
  const seen = pubacks(device);
  const payload = Buffer.from('reading-1');
  const published = device.publishAsync(telemetryTopic('wearable-001'), payload, { qos: 1, retain: true });
  const call = await handler.next();
  expect(call.client).toEqual({ principal: 'wearable-001', deviceId: 'wearable-001' });
  expect(Buffer.from(call.payload).toString()).toBe('reading-1');
  expect(call.info).toEqual({ topic: telemetryTopic('wearable-001'), qos: 1, retain: true, dup: false });

  // A full round trip on another connection while the handler is pending: still no PUBACK.
  const other = await gw.connect('wearable-002');
  const otherPublished = other.publishAsync(telemetryTopic('wearable-002'), Buffer.from('x'), { qos: 1 });
  (await handler.next()).settle('accepted');
  await otherPublished;
  expect(seen()).toBe(0);

  call.settle('accepted');
  await published;
  expect(seen()).toBe(1);
  // Never stored as retained (the retain flag is dropped); a control shows the check can see one.
  const persistence = (
    gw.gateway.broker.aedes as unknown as {
      persistence: { createRetainedStream(pattern: string): NodeJS.ReadableStream };
    }
  ).persistence;
  const retainedOn = (topic: string) =>
    new Promise<number>((resolve) => {
      let n = 0;
      const stream = persistence.createRetainedStream(topic);
      stream.on('data', () => n++);
      stream.on('end', () => resolve(n));
    });
  await gw.gateway.broker.publisher.publish(updateTopic('wearable-001'), Buffer.from('offer'), {
    retain: true,
  });
  expect(await retainedOn(updateTopic('wearable-001'))).toBe(1);
  const retained = await retainedOn(telemetryTopic('wearable-001'));
  expect(retained).toBe(0);
  device.end(true);
  other.end(true);
});

test('a refused reading is acknowledged and the device stays connected', async () => {
  const device = await gw.connect('wearable-003');
  const published = device.publishAsync(telemetryTopic('wearable-003'), Buffer.from('bad'), { qos: 1 });
  (await handler.next()).settle('refused');
  await published;
  expect(device.connected).toBe(true);
  device.end(true);
});

test('a reading that could not be stored is not acknowledged; the redelivery (DUP) is handled again', async () => {
  const device = await gw.connect('wearable-001');
  const seen = pubacks(device);
  const closed = once(device, 'close');
  const published = device
    .publishAsync(telemetryTopic('wearable-001'), Buffer.from('reading-2'), { qos: 1 })
    .then(
      () => 'acknowledged',
      () => 'not acknowledged',
    );
  const first = await handler.next();
  first.settle(new MedgateError(GatewayErrorCode.LEDGER_CLOSED, 'the ledger is closed'));
  await closed;
  expect(seen()).toBe(0);
  expect(
    gw.logged('publish not stored; closing the connection so the device redelivers').at(-1),
  ).toMatchObject({
    principal: 'wearable-001',
    err: { code: GatewayErrorCode.LEDGER_CLOSED },
  });

  // The device redelivers on a new connection (MQTT 3.1.1 §4.4: DUP set) and is answered.
  const again = await gw.connect('wearable-001');
  const redelivered = again.publishAsync(telemetryTopic('wearable-001'), Buffer.from('reading-2'), {
    qos: 1,
    dup: true,
  });
  const second = await handler.next();
  expect(Buffer.from(second.payload).toString()).toBe('reading-2');
  expect(second.info.dup).toBe(true);
  second.settle('duplicate');
  await redelivered;
  again.end(true);
  device.end(true);
  expect(await published).toBe('not acknowledged');
});
