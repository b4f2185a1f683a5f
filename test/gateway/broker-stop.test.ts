/**
 * Graceful stop in process (gateway/server.ts): readings being stored when the stop begins are
 * acknowledged, nothing acknowledged is missing from the log after it, the last block covers
 * every leaf, and new connections are refused from the first moment. Also: the connection
 * limit, and what the logger never writes.
 */
import { type Socket, connect as tcpConnect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import { telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { Ledger } from '../../gateway/ledger/ledger.js';
import { createLogger } from '../../gateway/log.js';
import { startTestGateway, type TestGateway } from './harness.js';

/** An MQTT 3.1.1 CONNECT (§3.1) with clean session, username and password, written by hand. */
function connectPacket(clientId: string, password: Uint8Array): Buffer {
  const str = (value: Uint8Array) =>
    Buffer.concat([Buffer.from([value.length >> 8, value.length & 0xff]), value]);
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    str(Buffer.from('MQTT')),
    Buffer.from([4, 0xc2, 0, 60]),
    str(id),
    str(id),
    str(password),
  ]);
  const length: number[] = [];
  for (let n = body.length; ; ) {
    const digit = n % 128;
    n = Math.floor(n / 128);
    length.push(n > 0 ? digit | 0x80 : digit);
    if (n === 0) break;
  }
  return Buffer.concat([Buffer.from([0x10, ...length]), body]);
}

/** The CONNACK return code the server answers on `socket` (MQTT 3.1.1 §3.2). */
function connackCode(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('data', (data: Buffer) =>
      data[0] === 0x20 ? resolve(data[3]!) : reject(new Error('not a CONNACK')),
    );
    socket.once('error', reject);
  });
}

describe('graceful stop', () => {
  let gw: TestGateway | undefined;
  afterAll(async () => {
    await gw?.stop();
  });

  test('readings in flight at the stop are acknowledged and in the last block; later CONNECTs get CONNACK 3', async () => {
    gw = await startTestGateway({ enrol: ['wearable-001', 'wearable-002'] });
    const g = gw;
    const device = await g.connect('wearable-001');
    const acked: number[] = [];
    const publishes = [...Array(200).keys()].map((i) =>
      device
        .publishAsync(telemetryTopic('wearable-001'), Buffer.from(g.reading('wearable-001', i + 1)), {
          qos: 1,
        })
        .then(
          () => acked.push(i + 1),
          () => undefined,
        ),
    );
    // A connection accepted before the stop whose CONNECT arrives after it began.
    const socket = tcpConnect(g.ports.mqtt, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    await publishes[9];
    const stopped = g.gateway.stop();
    const answer = connackCode(socket);
    socket.write(connectPacket('wearable-002', g.token('wearable-002')));
    expect(await answer).toBe(3);
    socket.destroy();
    await stopped;
    await Promise.all(publishes);
    expect(acked.length).toBeGreaterThanOrEqual(10);
    expect(g.logged('connect refused').at(-1)).toMatchObject({
      code: GatewayErrorCode.GATEWAY_STOPPING,
      returnCode: 3,
    });

    const ledger = await Ledger.open(g.dir, { readOnly: true });
    try {
      for (const seq of acked) expect(await ledger.log.indexOf('wearable-001', seq)).toBeDefined();
      expect(ledger.tip.header.log.size).toBe(ledger.log.size);
    } finally {
      await ledger.close();
    }
  });
});

describe('limits and logs', () => {
  let gw: TestGateway | undefined;
  afterAll(async () => {
    await gw?.stop();
  });

  test('beyond limits.maxConnections: CONNACK 3, MG_ERR_TOO_MANY_CONNECTIONS', async () => {
    gw = await startTestGateway({ enrol: ['wearable-001', 'wearable-002'], limits: { maxConnections: 1 } });
    const first = await gw.connect('wearable-001');
    expect(await gw.refusal('wearable-002')).toBe(3);
    expect(gw.logged('connect refused').at(-1)).toMatchObject({
      code: GatewayErrorCode.TOO_MANY_CONNECTIONS,
    });
    first.end(true);
  });

  test('the logger censors secret fields and keeps only code, message and field of errors', () => {
    let out = '';
    const log = createLogger({
      level: 'info',
      destination: new Writable({
        write: (chunk: Buffer, _enc, done) => {
          out += chunk.toString();
          done();
        },
      }),
    });
    const err = Object.assign(new Error('refused'), { code: 'MG_ERR_X', got: 'wire-bytes-here' });
    log.info(
      {
        password: 'p4ss',
        token: 'tok3n',
        payload: 'vital-signs',
        nested: { secretKey: 's3cret', cose: 'c0se' },
        err,
      },
      'line',
    );
    for (const secret of ['p4ss', 'tok3n', 'vital-signs', 's3cret', 'c0se', 'wire-bytes-here']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('[redacted]');
    expect(JSON.parse(out).err).toMatchObject({ message: 'refused', code: 'MG_ERR_X' });
  });
});
