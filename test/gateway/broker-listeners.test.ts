/**
 * The listeners (gateway/broker/listeners.ts): a device connects and publishes over MQTT/TLS
 * (a self-signed certificate made here with openssl; skipped with a message if openssl is
 * missing) and over MQTT/WebSocket; a packet larger than the limit closes the connection
 * before it is read; a port in use is a coded error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { initLedger } from '../../gateway/ledger/init.js';
import { startGateway } from '../../gateway/server.js';
import { once, startTestGateway, type TestGateway, testConfig } from './harness.js';

/** A self-signed certificate for 127.0.0.1, or undefined when openssl is not installed. */
function selfSigned(dir: string): { certFile: string; keyFile: string } | undefined {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ed25519',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
  } catch {
    return undefined;
  }
  return { certFile, keyFile };
}

describe('listeners', () => {
  let gw: TestGateway;
  let tlsDir: string;
  let tls: { certFile: string; keyFile: string } | undefined;

  beforeAll(async () => {
    tlsDir = await mkdtemp(join(tmpdir(), 'medgate-tls-'));
    tls = selfSigned(tlsDir);
    if (tls === undefined) console.warn('openssl not found: the MQTT/TLS test is skipped');
    gw = await startTestGateway({
      enrol: ['wearable-001', 'wearable-002', 'wearable-003'],
      config: tls === undefined ? {} : { tls: { ...tls, caFile: null }, mqttsPort: 0 },
      limits: { maxPayloadBytes: 1024 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await rm(tlsDir, { recursive: true, force: true });
  });

  test('MQTT over TLS accepts a device, which publishes a reading', async (ctx) => {
    if (tls === undefined) ctx.skip();
    expect(gw.ports.mqtts).toBeGreaterThan(0);
    const device = await gw.connect('wearable-001', { transport: 'mqtts' });
    await device.publishAsync(telemetryTopic('wearable-001'), Buffer.from(gw.reading('wearable-001', 1)), {
      qos: 1,
    });
    expect(await gw.ledger.log.indexOf('wearable-001', 1)).toBeDefined();
    device.end(true);
  });

  test('MQTT over WebSocket accepts a device, which publishes a reading', async () => {
    expect(gw.ports.ws).toBeGreaterThan(0);
    const device = await gw.connect('wearable-002', { transport: 'ws' });
    await device.publishAsync(telemetryTopic('wearable-002'), Buffer.from(gw.reading('wearable-002', 1)), {
      qos: 1,
    });
    expect(await gw.ledger.log.indexOf('wearable-002', 1)).toBeDefined();
    device.end(true);
  });

  test('the WebSocket port answers plain HTTP with 426', async () => {
    const response = await fetch(`http://127.0.0.1:${gw.ports.ws}/mqtt`);
    expect(response.status).toBe(426);
  });

  test('a packet over the limit closes the connection before it is read (MG_ERR_PACKET_TOO_LARGE)', async () => {
    const device = await gw.connect('wearable-003');
    const closed = once(device, 'close');
    device
      .publishAsync(telemetryTopic('wearable-003'), Buffer.alloc(64 * 1024, 7), { qos: 1 })
      .catch(() => undefined);
    await closed;
    expect(gw.logged('packet too large; connection closed').at(-1)).toMatchObject({
      principal: 'wearable-003',
      err: { code: GatewayErrorCode.PACKET_TOO_LARGE },
    });
    // A reading within the limit still goes through on a new connection.
    const again = await gw.connect('wearable-003');
    await again.publishAsync(telemetryTopic('wearable-003'), Buffer.from(gw.reading('wearable-003', 1)), {
      qos: 1,
    });
    again.end(true);
  });

  test('a port in use: MG_ERR_LISTEN_FAILED, and nothing is left open', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = await mkdtemp(join(tmpdir(), 'medgate-busy-'));
    try {
      await initLedger({ dir, demo: true });
      const config = { ...testConfig(dir), mqttPort: port };
      await expect(startGateway(config, { log: gw.makeLogger('silent') })).rejects.toMatchObject({
        code: GatewayErrorCode.LISTEN_FAILED,
      });
      // The ledger was closed again: a second start on the same directory works.
      const ok = await startGateway(testConfig(dir), { log: gw.makeLogger('silent') });
      await ok.stop();
    } finally {
      blocker.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
