/**
 * The telemetry pipeline end to end below MQTT: a real ledger, verify pool and reading store.
 * An accepted reading is a durable leaf with a verifiable receipt, its verified JSON decodes
 * and re-verifies with the noble backend, and the store and the device hear of it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import { nobleBackend } from '../../firmware-ts/protocol/ed25519/noble.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { encodeReceipt, verifyReceipt } from '../../firmware-ts/protocol/receipt.js';
import { parseVerifiedReading, verifyVerifiedReading } from '../../firmware-ts/protocol/verified-reading.js';
import { removeTempDirs } from '../ledger/ledger-harness.js';
import { CHAIN, closeSharedPool, keyFor, PipelineHarness } from './pipeline-harness.js';

afterAll(async () => {
  await closeSharedPool();
  await removeTempDirs();
});

describe('an accepted reading', () => {
  it('is a durable leaf with a receipt, published as verified JSON, stored, and announced to the device', async () => {
    const h = await PipelineHarness.start();
    const bytes = h.sign('dev-1', { seq: 1, fw: 3 });
    expect(await h.send('dev-1', bytes)).toBe('accepted');

    // The leaf is in the log the moment `handle` resolved (before the follow-up work).
    const index = await h.ledger.log.indexOf('dev-1', 1);
    expect(index).toBe(0);
    const leaf = await h.ledger.log.leaf(index!);
    expect(leaf.leafData).toEqual(bytes);
    expect(leaf.leafHash).toEqual(leafHash(bytes));

    await h.ledger.cutBlock();
    const receipt = encodeReceipt(await h.ledger.receipt(leafHash(bytes)));
    const verified = verifyReceipt(
      JSON.parse(JSON.stringify(receipt)),
      [keyFor('authority').pub],
      nobleBackend,
    );
    expect(verified.leafIndex).toBe(0);

    await h.settle();
    const [message] = h.on('mg/v1/verified/dev-1');
    expect(message?.qos).toBe(1);
    expect(message?.retain).toBe(false);
    const r = parseVerifiedReading(message!.payload as string);
    expect(r).toMatchObject({ chain: CHAIN, dev: 'dev-1', seq: 1, t: h.clock.t, fw: 3, leafIndex: 0 });
    expect(r.obs).toEqual([{ code: '8867-4', display: 'Heart rate', v: 72, u: '/min' }]);
    expect(r.alerts).toBeUndefined();
    expect(r.late).toBeUndefined();
    expect(r.gap).toBeUndefined();
    expect(r.leafHash).toEqual(leafHash(bytes));
    expect(r.kid).toEqual(keyFor('dev-1').kid);
    expect(r.cose).toEqual(bytes);
    // A clinician re-verifies the COSE bytes with the device's key from the ledger alone.
    const signed = verifyVerifiedReading(r, keyFor('dev-1').pub, nobleBackend);
    expect(signed.seq).toBe(1);

    // The store keeps where the bytes are and what was decided; served, it is the published text.
    expect(await h.store.get('dev-1', 1)).toEqual({
      dev: 'dev-1',
      seq: 1,
      leafIndex: 0,
      received: r.received,
      late: false,
    });
    const served = await h.readings.get('dev-1', 1);
    expect(JSON.stringify(served)).toBe(Buffer.from(message!.payload).toString('utf8'));
    expect(served?.cose).toBe(toBase64(bytes));
    expect(served?.leafHash).toBe(toHex(leafHash(bytes)));
    expect(await h.store.head('dev-1')).toEqual({ seq: 1, leafIndex: 0, leafHash: leafHash(bytes) });

    const [event] = h.events('dev-1');
    expect(Object.fromEntries(event!)).toEqual({ type: 'accepted', seq: 1, leaf: 0 });
    expect(h.securityEvents()).toEqual([]);
    expect(await h.acceptedCount()).toBe(1);
    expect(
      (await h.metrics.verifyLatency.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value,
    ).toBe(1);
    await h.close();
  });

  it('carries NEWS2 alerts for red-band values, and none otherwise', async () => {
    const h = await PipelineHarness.start();
    const obs = [
      { code: '2708-6', v: 88, u: '%' },
      { code: '8867-4', v: 135, u: '/min' },
      { code: '8310-5', v: 36.8, u: 'Cel' },
    ];
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 1, obs }))).toBe('accepted');
    await h.settle();
    const r = parseVerifiedReading(h.on('mg/v1/verified/dev-1')[0]!.payload as string);
    expect(r.alerts).toEqual([
      {
        index: 0,
        code: '2708-6',
        display: 'Oxygen saturation',
        value: 88,
        unit: '%',
        direction: 'low',
        threshold: { value: 91, inclusive: true },
        source: 'NEWS2',
      },
      {
        index: 1,
        code: '8867-4',
        display: 'Heart rate',
        value: 135,
        unit: '/min',
        direction: 'high',
        threshold: { value: 131, inclusive: true },
        source: 'NEWS2',
      },
    ]);
    expect(r.obs.map((o) => o.display)).toEqual(['Oxygen saturation', 'Heart rate', 'Body temperature']);
    verifyVerifiedReading(r, keyFor('dev-1').pub, nodeBackend);
    await h.close();
  });

  it('reports a gap in seq in the verified JSON, the device event and the log', async () => {
    const h = await PipelineHarness.start();
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 1 }))).toBe('accepted');
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 4 }))).toBe('accepted');
    await h.settle();
    const [first, second] = h
      .on('mg/v1/verified/dev-1')
      .map((p) => parseVerifiedReading(p.payload as string));
    expect(first?.gap).toBeUndefined();
    expect(second?.gap).toBe(2);
    expect(Object.fromEntries(h.events('dev-1')[1]!)).toEqual({ type: 'accepted', seq: 4, leaf: 1, gap: 2 });
    expect(h.lines.find((l) => l.msg === 'reading gap')).toMatchObject({ deviceId: 'dev-1', seq: 4, gap: 2 });
    await h.close();
  });

  it('accepts store-and-forward backlog outside the skew window as late, with seq rising', async () => {
    const h = await PipelineHarness.start();
    const twoHoursAgo = h.clock.t - 2 * 60 * 60 * 1000;
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 1, t: twoHoursAgo }))).toBe('accepted');
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 2, t: twoHoursAgo + 1000 }))).toBe('accepted');
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 3 }))).toBe('accepted');
    await h.settle();
    const late = h.on('mg/v1/verified/dev-1').map((p) => parseVerifiedReading(p.payload as string).late);
    expect(late).toEqual([true, true, undefined]);
    expect(Object.fromEntries(h.events('dev-1')[0]!)).toEqual({
      type: 'accepted',
      seq: 1,
      leaf: 0,
      late: true,
    });
    await h.close();
  });

  it('decides the readings of one device in arrival order while verifying them in parallel', async () => {
    const h = await PipelineHarness.start({ devices: ['dev-1', 'dev-2', 'dev-3'] });
    const devices = ['dev-1', 'dev-2', 'dev-3'];
    const n = 120;
    const sends: Promise<string>[] = [];
    for (let seq = 1; seq <= n; seq++) {
      for (const dev of devices) sends.push(h.send(dev, h.sign(dev, { seq })));
    }
    expect(new Set(await Promise.all(sends))).toEqual(new Set(['accepted']));
    expect(h.ledger.log.size).toBe(n * devices.length);
    for (const dev of devices) {
      // Logged in seq order per device: each leaf index is above the previous seq's.
      let previous = -1;
      for (let seq = 1; seq <= n; seq++) {
        const index = (await h.ledger.log.indexOf(dev, seq)) as number;
        expect(index).toBeGreaterThan(previous);
        previous = index;
      }
    }
    await h.settle();
    expect((await h.store.history('dev-2', { limit: 1000 })).map((r) => r.seq)).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
    expect(
      h.on('mg/v1/verified/dev-3').map((p) => parseVerifiedReading(p.payload as string).gap),
    ).not.toContain(1);
    await h.close();
  });
});
