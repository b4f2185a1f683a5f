/**
 * The seq rules over time: duplicates (QoS 1 redelivery, concurrent copies, older readings)
 * acknowledged and stored once; replay protection across a restart; the reading store caught
 * up from the reading log after a crash between the append and the store; readings the
 * gateway could not decide are not acknowledged and can be redelivered; penalties.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { parseVerifiedReading } from '../../firmware-ts/protocol/verified-reading.js';
import { READINGS_SUBDIR } from '../../gateway/telemetry/reading-store.js';
import { VerifyPool } from '../../gateway/verify/pool.js';
import { removeTempDirs } from '../ledger/ledger-harness.js';
import { closeSharedPool, HEART_RATE, PipelineHarness } from './pipeline-harness.js';

afterAll(async () => {
  await closeSharedPool();
  await removeTempDirs();
});

describe('duplicates', () => {
  it('a QoS 1 redelivery is acknowledged as a duplicate and stored and published once', async () => {
    const h = await PipelineHarness.start();
    const bytes = h.sign('dev-1', { seq: 1 });
    expect(await h.send('dev-1', bytes)).toBe('accepted');
    expect(await h.send('dev-1', bytes, { dup: true })).toBe('duplicate');
    // Also long after, once newer readings were accepted.
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 2 }))).toBe('accepted');
    expect(await h.send('dev-1', bytes, { dup: true })).toBe('duplicate');
    await h.settle();
    expect(h.ledger.log.size).toBe(2);
    expect((await h.store.history('dev-1', { limit: 10 })).map((r) => r.seq)).toEqual([1, 2]);
    expect(h.on('mg/v1/verified/dev-1')).toHaveLength(2);
    expect(h.events('dev-1').map((e) => e.get('type'))).toEqual(['accepted', 'accepted']);
    expect(h.securityEvents()).toEqual([]);
    expect(await h.acceptedCount()).toBe(2);
    await h.close();
  });

  it('copies in flight together: one is logged, the others wait for its durable leaf', async () => {
    const h = await PipelineHarness.start();
    const bytes = h.sign('dev-1', { seq: 7 });
    const verdicts = await Promise.all([1, 2, 3].map(() => h.send('dev-1', bytes)));
    expect(verdicts.sort()).toEqual(['accepted', 'duplicate', 'duplicate']);
    expect(h.ledger.log.size).toBe(1);
    await h.close();
  });

  it('judges by the reading log when the log has a reading the pipeline did not see', async () => {
    const h = await PipelineHarness.start();
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 1 }))).toBe('accepted');
    // Another writer logged seq 2 and 3 of dev-1 behind the pipeline's back.
    const two = h.sign('dev-1', { seq: 2 });
    await h.ledger.appendReading({ leafData: two, deviceId: 'dev-1', seq: 2 });
    await h.ledger.appendReading({ leafData: h.sign('dev-1', { seq: 3 }), deviceId: 'dev-1', seq: 3 });
    expect(await h.send('dev-1', two)).toBe('duplicate');
    const otherThree = h.sign('dev-1', { seq: 3, obs: [{ ...HEART_RATE, v: 80 }] });
    expect(await h.send('dev-1', otherThree)).toBe('refused');
    await h.settle();
    expect(h.events('dev-1').at(-1)?.get('code')).toBe('MG_ERR_REPLAY');
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 4 }))).toBe('accepted');
    await h.close();
  });
});

describe('after a restart', () => {
  it('keeps replay protection: lower or equal seqs with other bytes are replays, copies are duplicates', async () => {
    const h = await PipelineHarness.start();
    const sent = [1, 2, 3].map((seq) => h.sign('dev-1', { seq }));
    for (const bytes of sent) expect(await h.send('dev-1', bytes)).toBe('accepted');
    await h.restart();
    const forged = h.sign('dev-1', { seq: 3, obs: [{ ...HEART_RATE, v: 99 }] });
    expect(await h.send('dev-1', forged)).toBe('refused');
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 1, obs: [{ ...HEART_RATE, v: 98 }] }))).toBe(
      'refused',
    );
    expect(await h.send('dev-1', sent[1]!)).toBe('duplicate');
    expect(await h.send('dev-1', sent[2]!)).toBe('duplicate');
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 4 }))).toBe('accepted');
    await h.settle();
    const codes = h.securityEvents().map((e) => e.code);
    expect(codes).toEqual(['MG_ERR_REPLAY', 'MG_ERR_REPLAY']);
    const four = h
      .on('mg/v1/verified/dev-1')
      .map((p) => parseVerifiedReading(p.payload as string))
      .at(-1);
    expect(four?.seq).toBe(4);
    expect(four?.gap).toBeUndefined();
    expect(h.ledger.log.size).toBe(4);
    await h.close();
  });

  it('catches the store up with readings logged but not stored before a crash, and publishes them', async () => {
    const h = await PipelineHarness.start();
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 1 }))).toBe('accepted');
    await h.settle();
    // A crash after the durable append, before the store write: the log has seq 2 and 4 only.
    await h.ledger.appendReading({ leafData: h.sign('dev-1', { seq: 2 }), deviceId: 'dev-1', seq: 2 });
    await h.ledger.appendReading({ leafData: h.sign('dev-1', { seq: 4 }), deviceId: 'dev-1', seq: 4 });
    const published = h.published.length;
    await h.restart();
    expect((await h.store.history('dev-1', { limit: 10 })).map((r) => [r.seq, r.gap])).toEqual([
      [1, undefined],
      [2, undefined],
      [4, 1],
    ]);
    expect((await h.store.head('dev-1'))?.seq).toBe(4);
    expect(h.store.mark).toBe(3);
    const announced = h.published.slice(published).map((p) => p.payload as string);
    expect(announced.map((text) => parseVerifiedReading(text).seq)).toEqual([2, 4]);
    // Served from the store's entries and the log's bytes, they are the text announced.
    const served = await h.readings.history('dev-1', { afterSeq: 1, limit: 10 });
    expect(served.map((r) => JSON.stringify(r))).toEqual(announced);
    // The recovered head is the replay bound.
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 3 }))).toBe('refused');
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 5 }))).toBe('accepted');
    await h.close();
  });

  it('rebuilds a store moved aside from the reading log, without publishing again', async () => {
    const h = await PipelineHarness.start();
    for (const seq of [1, 2, 3]) expect(await h.send('dev-2', h.sign('dev-2', { seq }))).toBe('accepted');
    await h.close();
    await rm(join(h.dir, READINGS_SUBDIR), { recursive: true });
    const published = h.published.length;
    await h.open();
    expect(h.store.fresh).toBe(true);
    expect((await h.store.history('dev-2', { limit: 10 })).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(h.published.length).toBe(published);
    expect(await h.send('dev-2', h.sign('dev-2', { seq: 2, obs: [{ ...HEART_RATE, v: 90 }] }))).toBe(
      'refused',
    );
    await h.close();
  });
});

describe('readings the gateway cannot decide', () => {
  it('a failed durable write rejects (no PUBACK); the redelivery is accepted, not taken for a replay', async () => {
    let fail = true;
    const h = await PipelineHarness.start({
      beforeWrite: () => {
        if (fail) throw new Error('disk full');
      },
    });
    // Enrolment used no reading-log batch; the first reading's batch fails.
    const one = h.sign('dev-1', { seq: 1 });
    await expect(h.send('dev-1', one)).rejects.toMatchObject({ code: 'MG_ERR_LEDGER_WRITE_FAILED' });
    fail = false;
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 2 }))).toBe('accepted');
    expect(await h.send('dev-1', one, { dup: true })).toBe('accepted');
    expect(await h.send('dev-1', one, { dup: true })).toBe('duplicate');
    expect(h.ledger.log.size).toBe(2);
    await h.settle();
    expect(h.securityEvents()).toEqual([]);
    expect(h.events('dev-1').map((e) => e.get('type'))).toEqual(['accepted', 'accepted']);
    await h.close();
  });

  it('a closed verify pool rejects with its code; a closing pipeline with MG_ERR_TELEMETRY_CLOSED', async () => {
    const pool = await VerifyPool.create({ threads: 1 });
    const h = await PipelineHarness.start({ pool });
    expect(await h.send('dev-1', h.sign('dev-1', { seq: 1 }))).toBe('accepted');
    await pool.close();
    const err = await h.send('dev-1', h.sign('dev-1', { seq: 2 })).catch((e: unknown) => e);
    expect(isMedgateError(err, 'MG_ERR_VERIFY_POOL_CLOSED')).toBe(true);
    expect(h.ledger.log.size).toBe(1);
    await h.pipeline.close();
    await expect(h.send('dev-1', h.sign('dev-1', { seq: 2 }))).rejects.toMatchObject({
      code: 'MG_ERR_TELEMETRY_CLOSED',
    });
    await h.store.close();
    await h.ledger.close();
  });
});

describe('a client that keeps failing', () => {
  it('is slowed, then banned, and the broker is told', async () => {
    const h = await PipelineHarness.start({ limits: { failuresBeforeSlowdown: 2, banMs: 60_000 } });
    const verdicts: string[] = [];
    for (let i = 0; i < 4; i++) {
      const bytes = h.sign('dev-1', { seq: 10 + i });
      bytes[bytes.length - 1] = (bytes.at(-1) as number) ^ 0x01;
      verdicts.push(await h.send('dev-1', bytes));
    }
    expect(verdicts).toEqual(['refused', 'refused', 'refused', 'refused']);
    expect(h.penalties).toEqual([
      { principal: 'dev-1', decision: 'slow' },
      { principal: 'dev-1', decision: 'slow' },
      { principal: 'dev-1', decision: 'ban' },
    ]);
    expect(h.pipeline.penalty.bannedUntil('dev-1')).toBe(h.clock.t + 60_000);
    // Another device is not affected.
    expect(h.pipeline.penalty.status('dev-2')).toBe('ok');
    await h.close();
  });
});
