/**
 * Enrolment both ways (DESIGN §3) through a real gateway. Self-enrolment: username `enrol`,
 * client id = device id, password = the enrolment request; the result arrives on the device's
 * events topic whatever comes first, the block or the SUBSCRIBE. Admin enrolment: a signed
 * `device.enrol` transaction, then the device simply connects.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { eventsTopic, telemetryTopic, updateTopic } from '../../firmware-ts/protocol/topics.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { nextMessage, once, randomKey, startTestGateway, type TestGateway, type TestKey } from './harness.js';

const G = GatewayErrorCode;

function eventOf(payload: Buffer): Record<string, unknown> {
  return Object.fromEntries(decodeCbor(new Uint8Array(payload)) as Map<string, unknown>);
}

describe('self-enrolment', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ enrol: ['wearable-001'], limits: { failuresBeforeSlowdown: 1000 } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const enrolConnect = (dev: string, password: Uint8Array, clientId = dev): Promise<MqttClient> =>
    gw.connect('enrol', { username: 'enrol', clientId, password });
  const refusedCode = (dev: string) =>
    gw
      .logged('connect refused')
      .filter((l) => l.principal === dev)
      .at(-1)?.code;

  test('auto policy: accepted once in a block (subscribed first), then the device connects with a token', async () => {
    const key = randomKey();
    const session = await enrolConnect('wear-new-1', gw.enrolRequest('wear-new-1', key, 'wearable-v1'));
    const event = nextMessage(session, eventsTopic('wear-new-1'));
    await session.subscribeAsync(eventsTopic('wear-new-1'), { qos: 1 });
    const result = eventOf((await event).payload);
    expect(result).toEqual({
      type: 'enrol',
      dev: 'wear-new-1',
      result: 'accepted',
      height: expect.any(Number),
    });
    expect(gw.ledger.state.devices.get('wear-new-1')).toMatchObject({
      status: 'active',
      enrolledBy: 'vendor:acme',
    });
    session.end(true);

    const device = await gw.connect('wear-new-1', { password: gw.token('wear-new-1', { key }) });
    await device.publishAsync(
      telemetryTopic('wear-new-1'),
      Buffer.from(gw.reading('wear-new-1', 1, { key })),
      { qos: 1 },
    );
    expect(await gw.ledger.log.indexOf('wear-new-1', 1)).toBeDefined();
    device.end(true);
  });

  test('the result also arrives when the SUBSCRIBE comes after the block', async () => {
    const key = randomKey();
    const session = await enrolConnect('wear-new-2', gw.enrolRequest('wear-new-2', key, 'wearable-v1'));
    // Wait until the request is in a block, then subscribe.
    for (let i = 0; i < 50 && !gw.ledger.state.devices.has('wear-new-2'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(gw.ledger.state.devices.has('wear-new-2')).toBe(true);
    const event = nextMessage(session, eventsTopic('wear-new-2'));
    await session.subscribeAsync(eventsTopic('wear-new-2'), { qos: 1 });
    expect(eventOf((await event).payload)).toMatchObject({ result: 'accepted', dev: 'wear-new-2' });
    session.end(true);
  });

  test('approval policy: pending until an admin approves; then the device connects', async () => {
    const key = randomKey();
    const session = await enrolConnect('cuff-new-1', gw.enrolRequest('cuff-new-1', key, 'bp-cuff-v1'));
    const event = nextMessage(session, eventsTopic('cuff-new-1'));
    await session.subscribeAsync(eventsTopic('cuff-new-1'), { qos: 1 });
    expect(eventOf((await event).payload)).toMatchObject({
      type: 'enrol',
      result: 'pending',
      dev: 'cuff-new-1',
    });
    session.end(true);

    const token = () => gw.token('cuff-new-1', { key });
    expect(await gw.refusal('cuff-new-1', { password: token() })).toBe(5);
    await gw.tx('admin:bob', 'device.approve', { dev: 'cuff-new-1' });
    const device = await gw.connect('cuff-new-1', { password: token() });
    device.end(true);
  });

  test('an enrolment session may only read its own events topic', async () => {
    const key = randomKey();
    const session = await enrolConnect('wear-new-3', gw.enrolRequest('wear-new-3', key, 'wearable-v1'));
    const refused = await session
      .subscribeAsync(updateTopic('wear-new-3'), { qos: 1 })
      .catch((err) => err.packet?.granted);
    expect(refused).toEqual([128]);
    const closed = once(session, 'close');
    session
      .publishAsync(telemetryTopic('wear-new-3'), Buffer.from(gw.reading('wear-new-3', 1, { key })), {
        qos: 1,
      })
      .catch(() => undefined);
    await closed;
    expect(await gw.ledger.log.indexOf('wear-new-3', 1)).toBeUndefined();
  });

  const cases: Array<[string, (key: TestKey) => { clientId: string; password: Uint8Array }, number, string]> =
    [
      [
        'attested by a key that is no vendor',
        (k) => ({
          clientId: 'bad-1',
          password: gw.enrolRequest('bad-1', k, 'wearable-v1', { vendorKey: randomKey() }),
        }),
        5,
        'MG_ERR_UNKNOWN_VENDOR',
      ],
      [
        'a model the vendor may not attest',
        (k) => ({ clientId: 'bad-2', password: gw.enrolRequest('bad-2', k, 'pump-v9') }),
        5,
        'MG_ERR_VENDOR_MODEL',
      ],
      [
        'an attestation of another device',
        (k) => ({
          clientId: 'bad-3',
          password: gw.enrolRequest('bad-3', k, 'wearable-v1', { attestedDev: 'other' }),
        }),
        4,
        'MG_ERR_ATTESTATION_MISMATCH',
      ],
      [
        'a client id other than the request dev',
        (k) => ({ clientId: 'bad-5', password: gw.enrolRequest('bad-4', k, 'wearable-v1') }),
        4,
        G.AUTH_ID_MISMATCH,
      ],
      [
        'a request too old',
        (k) => ({
          clientId: 'bad-6',
          password: gw.enrolRequest('bad-6', k, 'wearable-v1', { t: Date.now() - 3_600_000 }),
        }),
        4,
        G.AUTH_TOKEN_EXPIRED,
      ],
      [
        'a password that is no request',
        () => ({ clientId: 'bad-7', password: new TextEncoder().encode('let me in') }),
        4,
        G.AUTH_BAD_TOKEN,
      ],
    ];
  test.each(cases)('refused at CONNECT: %s', async (_name, make, returnCode, code) => {
    const { clientId, password } = make(randomKey());
    expect(await gw.refusal('enrol', { username: 'enrol', clientId, password })).toBe(returnCode);
    expect(refusedCode(clientId)).toBe(code);
    expect(gw.ledger.state.devices.has(clientId)).toBe(false);
  });

  test('a forged request signature: CONNACK 4, MG_ERR_BAD_SIGNATURE', async () => {
    const request = gw.enrolRequest('bad-8', randomKey(), 'wearable-v1');
    request[request.length - 1]! ^= 0x01;
    expect(await gw.refusal('enrol', { username: 'enrol', clientId: 'bad-8', password: request })).toBe(4);
    expect(refusedCode('bad-8')).toBe('MG_ERR_BAD_SIGNATURE');
  });

  test('an enrolled id: CONNACK 5, and the live device with that id stays connected', async () => {
    const device = await gw.connect('wearable-001');
    const request = gw.enrolRequest('wearable-001', randomKey(), 'wearable-v1');
    expect(
      await gw.refusal('enrol', { username: 'enrol', clientId: 'wearable-001', password: request }),
    ).toBe(5);
    expect(refusedCode('wearable-001')).toBe('MG_ERR_DEVICE_EXISTS');
    await device.publishAsync(telemetryTopic('wearable-001'), Buffer.from(gw.reading('wearable-001', 1)), {
      qos: 1,
    });
    expect(device.connected).toBe(true);
    device.end(true);
  });

  test('a replayed request is refused (its nonce, then its id, are taken)', async () => {
    const request = gw.enrolRequest('wear-new-4', randomKey(), 'wearable-v1');
    const session = await enrolConnect('wear-new-4', request);
    session.end(true);
    expect(await gw.refusal('enrol', { username: 'enrol', clientId: 'wear-new-4', password: request })).toBe(
      4,
    );
    expect(refusedCode('wear-new-4')).toBe(G.AUTH_NONCE_REUSED);
  });
});

describe('admin enrolment', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  test('a signed device.enrol transaction on the ledger, then the device connects and publishes', async () => {
    expect(await gw.refusal('glucose-001')).toBe(4);
    const position = await gw.tx('admin:carol', 'device.enrol', {
      dev: 'glucose-001',
      pub: gw.key('glucose-001').pub,
      model: 'glucose-v1',
    });
    expect(position.height).toBeGreaterThan(0);
    const device = await gw.connect('glucose-001');
    await device.publishAsync(telemetryTopic('glucose-001'), Buffer.from(gw.reading('glucose-001', 1)), {
      qos: 1,
    });
    expect(await gw.ledger.log.indexOf('glucose-001', 1)).toBeDefined();
    device.end(true);
  });
});
