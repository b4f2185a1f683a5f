/**
 * The known aedes 1.2.0 trap (REFERENCE "Known traps", issue 4): many publishers flood QoS 0,
 * a subscriber then disconnects, and mqemitter's queue drains in one synchronous recursion
 * until `RangeError: Maximum call stack size exceeded` kills the process. gateway/broker/mq.ts
 * explains the cause and the fix.
 *
 * 1. In a child process (a crash must not take the test runner with it): the stock emitter
 *    crashes in the reproduction, the gateway's emitter survives it and keeps serving.
 * 2. The whole gateway, which routes through that emitter: ten devices flood telemetry (QoS 1
 *    pipelined, then QoS 0, which closes their connections) while an admin subscribed to every
 *    verified reading stops reading and then drops its connection. Afterwards a well-behaved
 *    device connects and publishes, and every acknowledged reading is in the reading log.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TOPIC_FILTERS, telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { once, randomKey, startTestGateway, type TestGateway, type TestKey } from './harness.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./flood-child.ts', import.meta.url));

async function flood(mode: 'stock' | 'gateway'): Promise<{ result: string; error?: string }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, mode], { timeout: 60_000 }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
}

describe('the mqemitter recursion, reproduced on a plain aedes', () => {
  test('the stock emitter crashes with RangeError (the reproduction is real)', async () => {
    const outcome = await flood('stock');
    expect(outcome.result).toBe('crashed');
    expect(outcome.error).toMatch(/RangeError: Maximum call stack size exceeded/);
  });

  test("the gateway's emitter survives it and still acknowledges a QoS 1 publish", async () => {
    expect(await flood('gateway')).toMatchObject({ result: 'survived', backlog: 0 });
  });
});

describe('the gateway under a flood', () => {
  const DEVICES = 10;
  const READINGS = 100;
  let gw: TestGateway;
  const keys = new Map<string, TestKey>();

  beforeAll(async () => {
    gw = await startTestGateway({ limits: { failuresBeforeSlowdown: 1000 } });
    const enrolled: Promise<unknown>[] = [];
    for (let i = 0; i < DEVICES; i++) {
      const dev = `flood-${i}`;
      keys.set(dev, randomKey());
      enrolled.push(gw.enrolDevice(dev, keys.get(dev)!.pub, 'wearable-v1'));
    }
    keys.set('calm-1', randomKey());
    enrolled.push(gw.enrolDevice('calm-1', keys.get('calm-1')!.pub, 'wearable-v1'));
    await Promise.all(enrolled);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const connectDevice = (dev: string): Promise<MqttClient> =>
    gw.connect(dev, { password: gw.token(dev, { key: keys.get(dev)! }) });

  test('floods and a subscriber that stalls then vanishes leave it serving, with no acked reading lost', async () => {
    // The broker routes through the emitter of test 1 (mq.ts: no queue to recurse through).
    expect((gw.gateway.broker.aedes as unknown as { mq: { concurrency: number } }).mq.concurrency).toBe(0);
    // The admin watches every verified reading, then stops reading from its socket.
    const admin = await gw.connect('admin:alice');
    await admin.subscribeAsync([TOPIC_FILTERS.verified, 'mg/v1/security'], { qos: 0 });
    const adminSocket = admin.stream as unknown as NodeJS.ReadableStream & { destroy(): void };
    adminSocket.unpipe();
    adminSocket.pause();

    const devices = await Promise.all([...Array(DEVICES).keys()].map((i) => connectDevice(`flood-${i}`)));
    const acked: Array<[string, number]> = [];
    // QoS 1, pipelined: every reading is sent before any PUBACK is awaited.
    const publishes = devices.flatMap((client, i) => {
      const dev = `flood-${i}`;
      return [...Array(READINGS).keys()].map((k) =>
        client
          .publishAsync(telemetryTopic(dev), Buffer.from(gw.reading(dev, k + 1, { key: keys.get(dev)! })), {
            qos: 1,
          })
          .then(() => acked.push([dev, k + 1])),
      );
    });
    // Halfway through, the stalled subscriber disappears without a DISCONNECT.
    await Promise.all(publishes.filter((_, i) => i % READINGS < READINGS / 2));
    adminSocket.destroy();
    await Promise.all(publishes);
    expect(acked).toHaveLength(DEVICES * READINGS);

    // Then QoS 0 from every device, which the gateway refuses by closing the connection.
    const closed = devices.map((client) => once(client, 'close', 20_000));
    devices.forEach((client, i) => {
      const dev = `flood-${i}`;
      for (let seq = READINGS + 1; seq <= READINGS + 300; seq++) {
        client.publish(telemetryTopic(dev), Buffer.from(gw.reading(dev, seq, { key: keys.get(dev)! })), {
          qos: 0,
        });
      }
    });
    await Promise.all(closed);
    expect(gw.lines.filter((l) => l.code === GatewayErrorCode.QOS_REQUIRED)).toHaveLength(DEVICES);

    // A well-behaved device still connects and gets its PUBACK.
    const calm = await connectDevice('calm-1');
    await calm.publishAsync(
      telemetryTopic('calm-1'),
      Buffer.from(gw.reading('calm-1', 1, { key: keys.get('calm-1')! })),
      {
        qos: 1,
      },
    );
    expect(await gw.ledger.log.indexOf('calm-1', 1)).toBeDefined();

    // Every acknowledged reading is in the log; no QoS 0 reading is.
    for (const [dev, seq] of acked) expect(await gw.ledger.log.indexOf(dev, seq)).toBeDefined();
    expect(await gw.ledger.log.indexOf('flood-0', READINGS + 1)).toBeUndefined();
    calm.end(true);
  });
});
