/**
 * Child process of broker-flood.test.ts: the known aedes 1.2.0 crash, reproduced on a plain
 * aedes with either its stock emitter (`stock`) or the gateway's (`gateway`, gateway/broker/mq.ts).
 *
 * One subscriber on `flood` at QoS 0 stops reading (its socket fills, so aedes' deliveries to
 * it wait for `drain`), ten publishers flood QoS 0, the subscriber then drops its connection.
 * With the stock emitter the deliveries waiting on the subscriber hold all 100 concurrency
 * slots, the rest of the flood waits in mqemitter's queue, and once the subscriber is gone that
 * queue drains in one synchronous recursion: RangeError. Bounded: a fixed number of messages.
 *
 * Prints one JSON line: {"result":"survived"} after a fresh client published at QoS 1 and got
 * its PUBACK, or {"result":"crashed","error":...} (exit 3) on an uncaught exception.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { createGatewayEmitter } from '../../gateway/broker/mq.js';

const PUBLISHERS = 10;
const PER_PUBLISHER = 3_000;
const BURST = 250;

const mode = process.argv[2];
if (mode !== 'stock' && mode !== 'gateway') throw new Error('usage: flood-child.ts stock|gateway');

process.on('uncaughtException', (err) => {
  process.stdout.write(`${JSON.stringify({ result: 'crashed', error: `${err.name}: ${err.message}` })}\n`);
  process.exit(3);
});

const broker = await Aedes.createBroker(
  mode === 'gateway' ? { mq: createGatewayEmitter({ isIngress: () => false }) } : {},
);
broker.on('clientError', () => {});
const server = createServer(broker.handle);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
const connect = (clientId: string): Promise<MqttClient> =>
  mqtt.connectAsync(url, { clientId, reconnectPeriod: 0, protocolVersion: 4 });

const subscriber = await connect('subscriber');
await subscriber.subscribeAsync('flood', { qos: 0 });
// Stop reading: the subscriber's socket buffers fill and aedes' writes to it wait for drain.
const socket = subscriber.stream as unknown as NodeJS.ReadableStream;
socket.unpipe();
socket.pause();

const publishers = await Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => connect(`publisher-${i}`)));
const payload = Buffer.alloc(200, 1);
await Promise.all(
  publishers.map(
    (client) =>
      new Promise<void>((resolve) => {
        let sent = 0;
        const burst = () => {
          for (let i = 0; i < BURST && sent < PER_PUBLISHER; i++, sent++)
            client.publish('flood', payload, { qos: 0 });
          if (sent < PER_PUBLISHER) setImmediate(burst);
          else resolve();
        };
        burst();
      }),
  ),
);
// Let the broker read what the publishers wrote (bounded: until nothing is left to read).
for (
  let i = 0;
  i < 200 && publishers.some((c) => (c.stream as unknown as { writableLength: number }).writableLength > 0);
  i++
) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
await new Promise((resolve) => setTimeout(resolve, 200));
const backlog = (broker as unknown as { mq: { length: number } }).mq.length;

// The subscriber goes away without a DISCONNECT.
(subscriber.stream as unknown as { destroy(): void }).destroy();
await new Promise((resolve) => setTimeout(resolve, 500));

// Still serving: a fresh client publishes at QoS 1 and gets its PUBACK.
const probe = await connect('probe');
await probe.publishAsync('probe', 'still here', { qos: 1 });
process.stdout.write(`${JSON.stringify({ result: 'survived', backlog })}\n`);
for (const c of [probe, ...publishers]) c.end(true);
broker.close(() => server.close(() => process.exit(0)));
