/**
 * The gateway's firmware service through a real gateway and real MQTT clients
 * (gateway/updates/): retained offers for the open wave only, each verifiable against the
 * authority key; chunks only of the offered image, coded refusals otherwise; device-signed
 * statuses recorded on the ledger, spoofed ones refused; offers cleared when a device's update
 * ends or the rollout halts, and the next wave offered.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { verifyBlock, verifyTxInclusion } from '../../firmware-ts/protocol/block.js';
import { fromHex, toHex } from '../../firmware-ts/protocol/bytes.js';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import {
  fwTopic,
  SECURITY_TOPIC,
  updateStatusTopic,
  updateTopic,
} from '../../firmware-ts/protocol/topics.js';
import {
  type Chunk,
  completingTx,
  decodeChunk,
  decodeOffer,
  encodeChunkRequest,
  UPDATE_LIMITS,
} from '../../firmware-ts/protocol/update/index.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { nextMessage, startTestGateway, type TestGateway } from '../gateway/harness.js';
import { authorizeRollout, Events, type Release, releaseImage, signedBy } from './update-harness.js';

const G = GatewayErrorCode;
const W = ['wearable-001', 'wearable-002', 'wearable-003'] as const;

describe('firmware service', () => {
  let gw: TestGateway;
  let release: Release;
  let rollout: string;
  const devices = new Map<string, { client: MqttClient; events: Events }>();

  async function device(dev: string): Promise<{ client: MqttClient; events: Events }> {
    let d = devices.get(dev);
    if (d === undefined) {
      const client = await gw.connect(dev);
      d = { client, events: await Events.of(client, dev) };
      devices.set(dev, d);
    }
    return d;
  }

  /** Publishes a chunk request and resolves with the chunk or the refusal event. */
  async function fetchChunk(
    dev: string,
    digest: Uint8Array,
    offset: number,
    len: number = UPDATE_LIMITS.maxChunk,
  ): Promise<{ chunk?: Chunk; event?: Record<string, unknown> }> {
    const { client, events } = await device(dev);
    await client.subscribeAsync(fwTopic(dev, 'data'), { qos: 1 });
    const data = nextMessage(client, fwTopic(dev, 'data'), 3_000).then((m) => ({
      chunk: decodeChunk(new Uint8Array(m.payload)),
    }));
    const refused = events.next('fw.rejected', 3_000).then((event) => ({ event }));
    await client.publishAsync(fwTopic(dev, 'get'), Buffer.from(encodeChunkRequest({ digest, offset, len })), {
      qos: 1,
    });
    const result = await Promise.race([data, refused]);
    data.catch(() => undefined);
    refused.catch(() => undefined);
    return result;
  }

  async function report(
    dev: string,
    body: { state: 'downloading' | 'confirmed' | 'rolledBack'; seq: number; error?: string },
    key = dev,
  ) {
    const { client, events } = await device(dev);
    const bytes = signedBy(gw, dev, gw.key(key), 'update.report', { rollout: fromHex(rollout), ...body });
    await client.publishAsync(updateStatusTopic(dev), Buffer.from(bytes), { qos: 1 });
    return events;
  }

  beforeAll(async () => {
    gw = await startTestGateway({ enrol: [...W], config: { blockIntervalMs: 50 } });
    release = await releaseImage(gw, { size: 40_000 });
    rollout = await authorizeRollout(gw, release, {
      target: { devs: ['wearable-001', 'wearable-002'] },
      waves: [1, 1],
    });
    await gw.gateway.updates.offers.reconcile();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  test('the open wave gets a retained offer that verifies against the authority key and the ledger', async () => {
    expect([...gw.gateway.updates.offers.retained]).toEqual([['wearable-001', rollout]]);
    const { client } = await device('wearable-001');
    const message = nextMessage(client, updateTopic('wearable-001'));
    await client.subscribeAsync(updateTopic('wearable-001'), { qos: 1 });
    const { payload, retain } = await message;
    expect(retain).toBe(true);
    const offer = decodeOffer(new Uint8Array(payload));
    expect(toHex(offer.rollout)).toBe(rollout);
    expect(toHex(offer.manifest)).toBe(toHex(release.manifest));
    expect(offer.approvals).toHaveLength(1);
    expect(offer.chunk).toBe(UPDATE_LIMITS.maxChunk);
    const block = verifyBlock(
      offer.block,
      { authorities: gw.ledger.authorities, chain: gw.chain },
      nodeBackend,
    );
    expect(block.header.height).toBe(gw.ledger.state.rollouts.get(rollout)!.authorized.height);
    expect(() =>
      verifyTxInclusion(completingTx(offer), offer.txIndex, offer.txPath, block.header),
    ).not.toThrow();
    const latest = verifyBlock(
      offer.latest,
      { authorities: gw.ledger.authorities, chain: gw.chain },
      nodeBackend,
    );
    expect(latest.header.height).toBeGreaterThanOrEqual(block.header.height);
  });

  test('a device of a closed wave, and an untargeted one, get no offer (sentinel)', async () => {
    for (const dev of ['wearable-002', 'wearable-003']) {
      const { client } = await device(dev);
      await client.subscribeAsync(updateTopic(dev), { qos: 1 });
      const first = nextMessage(client);
      await gw.gateway.broker.publisher.deviceEvent(dev, { type: 'sentinel' });
      expect((await first).topic, dev).not.toBe(updateTopic(dev));
      devices.get(dev)!.events.list.length = 0;
    }
  });

  test('serves chunks of the offered image, resumable from any offset, the last one short', async () => {
    const first = await fetchChunk('wearable-001', release.digest, 0);
    expect(toHex(first.chunk?.data ?? new Uint8Array())).toBe(toHex(release.image.subarray(0, 16_384)));
    const resumed = await fetchChunk('wearable-001', release.digest, 20_000, 1000);
    expect(resumed.chunk?.offset).toBe(20_000);
    expect(toHex(resumed.chunk?.data ?? new Uint8Array())).toBe(
      toHex(release.image.subarray(20_000, 21_000)),
    );
    const last = await fetchChunk('wearable-001', release.digest, 32_768);
    expect(last.chunk?.data.length).toBe(40_000 - 32_768);
  });

  test.each([
    ['an untargeted device', 'wearable-003', () => release.digest, 0, G.FW_NOT_OFFERED],
    ['a device whose wave is not open', 'wearable-002', () => release.digest, 0, G.FW_NOT_OFFERED],
    ['an unknown digest', 'wearable-001', () => new Uint8Array(32).fill(1), 0, G.FW_NOT_OFFERED],
    ['an offset past the end', 'wearable-001', () => release.digest, 40_000, G.FW_BAD_OFFSET],
  ])('refuses %s with a coded event and keeps the connection', async (_name, dev, digest, offset, code) => {
    const result = await fetchChunk(dev, digest(), offset);
    expect('event' in result && result.event).toMatchObject({ type: 'fw.rejected', code });
    expect(devices.get(dev)!.client.connected).toBe(true);
  });

  test('refuses a request for more than 16384 bytes (strict decoder)', async () => {
    const { client, events } = await device('wearable-001');
    const oversized = encodeCbor(
      new Map<string, unknown>([
        ['digest', release.digest],
        ['offset', 0],
        ['len', UPDATE_LIMITS.maxChunk + 1],
      ]),
    );
    await client.publishAsync(fwTopic('wearable-001', 'get'), Buffer.from(oversized), { qos: 1 });
    expect(await events.next('fw.rejected')).toMatchObject({
      code: ProtocolErrorCode.BAD_FIELD,
      field: 'len',
    });
  });

  test('a status signed for another device is refused and raised as a security event; the ledger is untouched', async () => {
    const admin = await gw.connect('admin:carol');
    await admin.subscribeAsync(SECURITY_TOPIC, { qos: 1 });
    const security = nextMessage(admin, SECURITY_TOPIC);
    // wearable-003 relays a genuine report of wearable-001 (its key, its actor) on its own topic.
    const { client, events } = await device('wearable-003');
    const bytes = signedBy(gw, 'wearable-001', gw.key('wearable-001'), 'update.report', {
      rollout: fromHex(rollout),
      state: 'downloading',
      seq: 1,
    });
    await client.publishAsync(updateStatusTopic('wearable-003'), Buffer.from(bytes), { qos: 1 });
    expect(await events.next('status.rejected')).toMatchObject({ code: G.FW_STATUS_SPOOFED, field: 'actor' });
    expect(JSON.parse((await security).payload.toString())).toMatchObject({
      type: 'status.spoofed',
      code: G.FW_STATUS_SPOOFED,
      principal: 'wearable-003',
      dev: 'wearable-001',
    });
    expect(gw.ledger.state.rollouts.get(rollout)!.reports.size).toBe(0);
    admin.end(true);
  });

  test('statuses that the state machine refuses come back with its code', async () => {
    const events = await report('wearable-003', { state: 'downloading', seq: 1 });
    expect(await events.next('status.rejected')).toMatchObject({ code: StateErrorCode.NOT_TARGETED });
    const { client } = await device('wearable-003');
    const notReport = signedBy(gw, 'wearable-003', gw.key('wearable-003'), 'device.revoke', {
      dev: 'wearable-003',
    });
    await client.publishAsync(updateStatusTopic('wearable-003'), Buffer.from(notReport), { qos: 1 });
    expect(await events.next('status.rejected')).toMatchObject({ code: G.FW_STATUS_NOT_REPORT });
    // Signed by another key than the actor's: the state machine's signature check.
    await report('wearable-003', { state: 'downloading', seq: 1 }, 'wearable-002');
    expect((await events.next('status.rejected')).code).toMatch(/^MG_ERR_(BAD_SIGNATURE|COSE_KID_MISMATCH)$/);
  });

  test('device statuses go on the ledger; a confirmed device loses its offer and the next wave gets one', async () => {
    const events = await report('wearable-001', { state: 'downloading', seq: 1 });
    expect(await events.next('status.accepted')).toMatchObject({ state: 'downloading', rollout });
    expect(gw.ledger.state.rollouts.get(rollout)!.reports.get('wearable-001')).toMatchObject({
      state: 'downloading',
    });

    const { client } = await device('wearable-001');
    const cleared = nextMessage(client, updateTopic('wearable-001'));
    const offered = nextMessage(devices.get('wearable-002')!.client, updateTopic('wearable-002'));
    await report('wearable-001', { state: 'confirmed', seq: 2 });
    expect(await events.next('status.accepted')).toMatchObject({ state: 'confirmed' });
    expect((await cleared).payload.length).toBe(0);
    expect(toHex(decodeOffer(new Uint8Array((await offered).payload)).rollout)).toBe(rollout);
    expect(gw.ledger.state.devices.get('wearable-001')!.firmware).toMatchObject({ seq: 2, version: '2.0.0' });
    // Its update ended: no more chunks for it.
    expect(await fetchChunk('wearable-001', release.digest, 0)).toMatchObject({
      event: { code: G.FW_NOT_OFFERED },
    });
  });

  test('a halt clears the offers and stops the chunks (MG_ERR_FW_ROLLOUT_HALTED)', async () => {
    expect((await fetchChunk('wearable-002', release.digest, 0)).chunk?.offset).toBe(0);
    const cleared = nextMessage(devices.get('wearable-002')!.client, updateTopic('wearable-002'));
    await gw.tx('admin:carol', 'rollout.halt', { rollout: fromHex(rollout), reason: 'test halt' });
    expect((await cleared).payload.length).toBe(0);
    await gw.gateway.updates.offers.reconcile();
    expect(gw.gateway.updates.offers.retained.size).toBe(0);
    expect(await fetchChunk('wearable-002', release.digest, 0)).toMatchObject({
      event: { code: G.FW_ROLLOUT_HALTED },
    });
  });
});
