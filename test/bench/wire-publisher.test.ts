/**
 * The bench lanes' raw publisher against a real aedes on loopback: every QoS 1 publish gets its
 * own PUBACK (ids are reused once answered), the broker receives the bytes unchanged, a refused
 * CONNECT fails the connect, and a lost connection fails the publishes still waiting.
 */
import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { WirePublisher } from './wire-publisher.js';

let server: Server | undefined;
let broker: Aedes | undefined;

async function startBroker(options: Parameters<typeof Aedes.createBroker>[0] = {}): Promise<number> {
  broker = await Aedes.createBroker(options);
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  await new Promise<void>((resolve) => (broker === undefined ? resolve() : broker.close(() => resolve())));
  server = undefined;
  broker = undefined;
});

const publish = (p: WirePublisher, topic: string, payload: Buffer) =>
  new Promise<Error | undefined>((resolve) => p.publish(topic, payload, { qos: 1 }, resolve));

describe('WirePublisher', () => {
  it('gets a PUBACK for every QoS 1 publish, with the payload delivered unchanged', async () => {
    const port = await startBroker();
    const received: Buffer[] = [];
    broker!.on('publish', (packet, client) => {
      if (client !== null && client !== undefined) received.push(Buffer.from(packet.payload as Buffer));
    });
    const p = await WirePublisher.connect(port, 'dev-1', Buffer.from('secret'));
    try {
      const payloads = Array.from({ length: 300 }, (_, i) => Buffer.alloc(50 + (i % 200), i & 0xff));
      // Windows of 64 outstanding, as the bench sends them; 300 publishes reuse identifiers.
      for (let i = 0; i < payloads.length; i += 64) {
        const results = await Promise.all(payloads.slice(i, i + 64).map((b) => publish(p, 'a/b', b)));
        expect(results.every((r) => r === undefined)).toBe(true);
      }
      expect(received).toEqual(payloads);
      // A second topic is encoded afresh.
      expect(await publish(p, 'c/d/e', Buffer.from('x'))).toBeUndefined();
    } finally {
      p.end();
    }
  });

  it('fails the connect on a refused CONNECT, and waiting publishes when the connection ends', async () => {
    const port = await startBroker({
      authenticate: (_client, username, _password, done) => done(null, username === 'dev-ok'),
      // Holds every publish unanswered: the socket closes under them.
      authorizePublish: () => {},
    });
    await expect(WirePublisher.connect(port, 'dev-bad', Buffer.from('x'))).rejects.toThrow(/CONNACK 5/);

    const connected: { close(): void }[] = [];
    broker!.on('client', (client) => connected.push(client));
    const p = await WirePublisher.connect(port, 'dev-ok', Buffer.from('x'));
    const pending = [publish(p, 'a/b', Buffer.from('1')), publish(p, 'a/b', Buffer.from('2'))];
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const client of connected) client.close();
    const errors = await Promise.all(pending);
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    // After the loss, a publish fails at once.
    expect(await publish(p, 'a/b', Buffer.from('3'))).toBeInstanceOf(Error);
    p.end();
  });
});
