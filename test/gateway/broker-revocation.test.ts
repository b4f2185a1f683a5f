/**
 * Live revocation (gateway/broker/revocation.ts): a ledger change acts on connections that are
 * already open, from the block that records it. With 200 ms blocks, the disconnect comes from
 * the onBlock of the very block that holds the transaction (the log line carries its height),
 * so within one block interval of the submission.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { telemetryTopic, verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { signRotateProof } from '../../firmware-ts/protocol/tx/sign.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { nextMessage, once, randomKey, startTestGateway, type TestGateway } from './harness.js';

describe('live revocation', () => {
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

  const disconnects = (principal: string) =>
    gw.logged('disconnected by a ledger change').filter((l) => l.principal === principal);

  test('revoking a device disconnects its live connection with the block that records it', async () => {
    const device = await gw.connect('wearable-001');
    const closed = once(device, 'close', 5_000);
    const position = await gw.revokeDevice('wearable-001');
    await closed;
    expect(disconnects('wearable-001')).toEqual([
      expect.objectContaining({ code: 'MG_ERR_DEVICE_REVOKED', height: position.height }),
    ]);
    // And it cannot come back.
    expect(await gw.refusal('wearable-001')).toBe(5);
  });

  test('rotating a key disconnects the session of the old key; the new key connects and publishes', async () => {
    const old = gw.key('wearable-002');
    const next = randomKey();
    const device = await gw.connect('wearable-002');
    const closed = once(device, 'close', 5_000);
    const proof = signRotateProof(
      { dev: 'wearable-002', old: old.kid, pub: next.pub },
      next.signer,
      gw.chain,
    );
    const position = await gw.tx('wearable-002', 'device.rotate', { pub: next.pub, proof }, old);
    await closed;
    expect(disconnects('wearable-002')).toEqual([
      expect.objectContaining({ code: GatewayErrorCode.KEY_ROTATED, height: position.height }),
    ]);
    const again = await gw.connect('wearable-002', { password: gw.token('wearable-002', { key: next }) });
    await again.publishAsync(
      telemetryTopic('wearable-002'),
      Buffer.from(gw.reading('wearable-002', 1, { key: next })),
      {
        qos: 1,
      },
    );
    expect(await gw.ledger.log.indexOf('wearable-002', 1)).toBeDefined();
    again.end(true);
  });

  test('other devices are not touched by a revocation', async () => {
    const bystander = await gw.connect('bp-cuff-001');
    await gw.enrolDevice('tmp-1', randomKey().pub);
    await gw.revokeDevice('tmp-1');
    expect(bystander.connected).toBe(true);
    expect(disconnects('bp-cuff-001')).toEqual([]);
    bystander.end(true);
  });

  test("revoking a clinician's grant stops delivery and removes the subscription (sentinel)", async () => {
    await gw.grant(['wearable-003', 'bp-cuff-001']);
    const clinician = await gw.connect('clinician:dr-lee');
    await clinician.subscribeAsync([verifiedTopic('wearable-003'), verifiedTopic('bp-cuff-001')], { qos: 1 });
    const publisher = gw.gateway.broker.publisher;

    const before = nextMessage(clinician);
    await publisher.verified('wearable-003', { probe: 'before' });
    expect(JSON.parse((await before).payload.toString())).toEqual({ probe: 'before' });

    const position = await gw.revokeGrant(['wearable-003']);
    expect(gw.logged('grant revoked').at(-1)).toMatchObject({
      principal: 'clinician:dr-lee',
      height: position.height,
    });
    const next = nextMessage(clinician);
    await publisher.verified('wearable-003', { probe: 'after' });
    await publisher.verified('bp-cuff-001', { probe: 'sentinel' });
    const message = await next;
    expect(message.topic).toBe(verifiedTopic('bp-cuff-001'));
    expect(JSON.parse(message.payload.toString())).toEqual({ probe: 'sentinel' });
    // The server side holds no subscription to the revoked device any more.
    const session = gw.gateway.broker.sessions.client('clinician:dr-lee') as unknown as {
      subscriptions: Record<string, unknown>;
    };
    expect(Object.keys(session.subscriptions)).toEqual([verifiedTopic('bp-cuff-001')]);
    clinician.end(true);
  });

  test('revocation reaches a persistent session too: its subscription is refused when restored', async () => {
    await gw.grant(['wearable-003']);
    const persistent = { mqtt: { clean: false } };
    const first = await gw.connect('clinician:dr-lee', persistent);
    await first.subscribeAsync(verifiedTopic('wearable-003'), { qos: 1 });
    first.end(true);
    await gw.revokeGrant(['wearable-003']);
    const second = await gw.connect('clinician:dr-lee', persistent);
    const next = nextMessage(second);
    await gw.gateway.broker.publisher.verified('wearable-003', { probe: 'after' });
    // Nothing arrives for the revoked device; a restored subscription was refused in the log.
    await second.subscribeAsync(verifiedTopic('bp-cuff-001'), { qos: 1 });
    await gw.gateway.broker.publisher.verified('bp-cuff-001', { probe: 'sentinel' });
    expect((await next).topic).toBe(verifiedTopic('bp-cuff-001'));
    expect(
      gw
        .logged('subscription refused')
        .some((l) => l.principal === 'clinician:dr-lee' && l.filter === verifiedTopic('wearable-003')),
    ).toBe(true);
    second.end(true);
  });
});
