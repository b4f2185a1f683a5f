/**
 * The pipeline's small parts on their own: per-device turns (lanes.ts), the failure score
 * that slows and bans (penalty.ts, with a clock the test moves), and the device events and
 * security events of refusals.ts.
 */
import { describe, expect, it } from 'vitest';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import type { LeafPosition } from '../../gateway/ledger/sequencer.js';
import { Lanes } from '../../gateway/telemetry/lanes.js';
import { Penalty } from '../../gateway/telemetry/penalty.js';
import {
  acceptedEvent,
  isSecurityRefusal,
  readingSecurityEvent,
  rejectedEvent,
} from '../../gateway/telemetry/refusals.js';
import { SeqTracker } from '../../gateway/telemetry/seq-tracker.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Lanes', () => {
  it('gives turns of one key in call order, whatever order the holders finish their work in', async () => {
    const lanes = new Lanes();
    const order: string[] = [];
    const a = lanes.enter('d');
    const b = lanes.enter('d');
    const c = lanes.enter('d');
    const other = lanes.enter('e');
    void b.wait.then(() => order.push('b'));
    void c.wait.then(() => order.push('c'));
    void other.wait.then(() => order.push('other'));
    await tick();
    expect(order).toEqual(['other']);
    // c gives up early (a refusal before its turn): b still waits for a.
    c.end();
    await tick();
    expect(order).toEqual(['other']);
    a.end();
    await tick();
    expect(order).toEqual(['other', 'b']);
    b.end();
    await tick();
    expect(order).toEqual(['other', 'b', 'c']);
    other.end();
    expect(lanes.size).toBe(0);
  });

  it('lets a new turn start at once when every earlier one ended; end() is idempotent', async () => {
    const lanes = new Lanes();
    const a = lanes.enter('d');
    a.end();
    a.end();
    const b = lanes.enter('d');
    let started = false;
    void b.wait.then(() => {
      started = true;
    });
    await tick();
    expect(started).toBe(true);
    b.end();
  });
});

describe('Penalty', () => {
  function box(o: { threshold?: number; banMs?: number } = {}) {
    let now = 1_000_000;
    const penalty = new Penalty({
      failuresBeforeSlowdown: o.threshold ?? 3,
      banMs: o.banMs ?? 60_000,
      forgiveMs: 10_000,
      now: () => now,
    });
    return { penalty, advance: (ms: number) => (now += ms), now: () => now };
  }

  it('slows from the threshold with a doubling delay, bans at twice it, and lets the ban expire', () => {
    const { penalty, advance, now } = box();
    expect([1, 2].map(() => penalty.onRefusal('p'))).toEqual(['ok', 'ok']);
    expect(penalty.delayMs('p')).toBe(0);
    expect(penalty.onRefusal('p')).toBe('slow');
    expect(penalty.delayMs('p')).toBe(100);
    expect(penalty.onRefusal('p')).toBe('slow');
    expect(penalty.delayMs('p')).toBe(200);
    expect(penalty.onRefusal('p')).toBe('slow');
    expect(penalty.onRefusal('p')).toBe('ban');
    expect(penalty.bannedUntil('p')).toBe(now() + 60_000);
    expect(penalty.status('p')).toBe('ban');
    expect(penalty.onRefusal('p')).toBe('ban');
    expect(penalty.status('q')).toBe('ok');
    advance(60_001);
    expect(penalty.bannedUntil('p')).toBeUndefined();
    // The ban served, the score restarted at the threshold and decayed for 60 s (six failures).
    expect(penalty.status('p')).toBe('ok');
  });

  it('forgives one failure per forgiveMs, so an occasional bad reading never slows a device', () => {
    const { penalty, advance } = box();
    for (let i = 0; i < 50; i++) {
      expect(penalty.onRefusal('p')).toBe('ok');
      advance(10_000);
    }
    // Fully forgiven: the record is dropped when next looked at.
    expect(penalty.status('p')).toBe('ok');
    expect(penalty.size).toBe(0);
  });

  it('never bans with banMs 0, caps the delay, and forgets a principal on forgive()', () => {
    const { penalty } = box({ threshold: 1, banMs: 0 });
    for (let i = 0; i < 40; i++) expect(penalty.onRefusal('p')).toBe('slow');
    expect(penalty.delayMs('p')).toBe(5_000);
    penalty.forgive('p');
    expect(penalty.status('p')).toBe('ok');
  });

  it('remembers a bounded number of principals', () => {
    const penalty = new Penalty({ failuresBeforeSlowdown: 2, banMs: 0, maxTracked: 100, now: () => 0 });
    for (let i = 0; i < 1000; i++) penalty.onRefusal(`p${i}`);
    expect(penalty.size).toBe(100);
    expect(penalty.status('p999')).toBe('ok');
  });

  it('refuses nonsense options', () => {
    expect(() => new Penalty({ failuresBeforeSlowdown: 0, banMs: 0 })).toThrow(
      expect.objectContaining({ code: 'MG_ERR_BAD_ARGUMENT', field: 'failuresBeforeSlowdown' }),
    );
  });
});

describe('refusal events', () => {
  it('encodes device events as deterministic CBOR maps without absent fields', () => {
    expect(decodeCbor(rejectedEvent({ code: 'MG_ERR_REPLAY', seq: 4, field: 'seq' }))).toEqual(
      new Map<string, unknown>([
        ['seq', 4],
        ['code', 'MG_ERR_REPLAY'],
        ['type', 'rejected'],
        ['field', 'seq'],
      ]),
    );
    expect([
      ...(decodeCbor(rejectedEvent({ code: 'MG_ERR_COSE_MALFORMED' })) as Map<string, unknown>).keys(),
    ]).toEqual(['code', 'type']);
    expect(
      Object.fromEntries(decodeCbor(acceptedEvent({ seq: 1, leaf: 9, late: false })) as Map<string, unknown>),
    ).toEqual({
      type: 'accepted',
      seq: 1,
      leaf: 9,
    });
  });

  it('marks security-relevant codes only', () => {
    for (const code of [
      'MG_ERR_BAD_SIGNATURE',
      'MG_ERR_REPLAY',
      'MG_ERR_READING_SPOOFED',
      'MG_ERR_DEVICE_REVOKED',
      'MG_ERR_KEY_ROTATED',
    ]) {
      expect(isSecurityRefusal(code)).toBe(true);
    }
    for (const code of [
      'MG_ERR_BAD_UNIT',
      'MG_ERR_CLOCK_SKEW',
      'MG_ERR_COSE_MALFORMED',
      'MG_ERR_READING_TOO_LARGE',
    ]) {
      expect(isSecurityRefusal(code)).toBe(false);
    }
    expect(
      readingSecurityEvent({ code: 'MG_ERR_REPLAY', dev: 'd', principal: 'd', seq: 3, kid: undefined, t: 5 }),
    ).toEqual({
      type: 'reading.refused',
      code: 'MG_ERR_REPLAY',
      principal: 'd',
      dev: 'd',
      detail: { seq: 3 },
      t: 5,
    });
  });
});

describe('SeqTracker', () => {
  const h = (n: number) => new Uint8Array(32).fill(n);
  const leaf = (index: number): Promise<LeafPosition> => Promise.resolve({ index, leafHash: h(index) });

  function tracker(
    heads: Record<string, number> = {},
    logged: Record<string, number> = {},
    maxDevices = 100,
  ) {
    const loads: string[] = [];
    const t = new SeqTracker(
      {
        head: async (dev) => {
          loads.push(dev);
          return heads[dev] === undefined ? undefined : { seq: heads[dev], leafHash: h(heads[dev]) };
        },
        logged: async (dev, seq) =>
          logged[`${dev}/${seq}`] === undefined ? undefined : h(logged[`${dev}/${seq}`]!),
      },
      { maxDevices },
    );
    return { t, loads };
  }

  it('accepts rising seqs, counts gaps, and tells duplicates from replays by their bytes', async () => {
    const { t } = tracker({ d: 5 }, { 'd/3': 3 });
    expect(await t.decide('d', 6, h(6))).toEqual({ kind: 'accept' });
    expect(await t.decide('d', 9, h(9))).toEqual({ kind: 'accept', gap: 3 });
    expect(await t.decide('d', 5, h(5))).toEqual({ kind: 'duplicate' });
    expect(await t.decide('d', 5, h(50))).toEqual({ kind: 'replay', last: 5 });
    expect(await t.decide('d', 3, h(3))).toEqual({ kind: 'duplicate' });
    expect(await t.decide('d', 4, h(4))).toEqual({ kind: 'replay', last: 5 });
    // A device never seen: any first seq, no gap.
    expect(await t.decide('new', 1000, h(1))).toEqual({ kind: 'accept' });
  });

  it('keeps appends in flight as pending duplicates, and failed seqs open for redelivery', async () => {
    const { t } = tracker();
    expect((await t.decide('d', 1, h(1))).kind).toBe('accept');
    let fail!: (err: Error) => void;
    const one = new Promise<LeafPosition>((_, reject) => {
      fail = reject;
    });
    one.catch(() => {});
    t.accepted('d', 1, h(1), one);
    const dup = await t.decide('d', 1, h(1));
    expect(dup.kind).toBe('duplicate');
    expect(dup.kind === 'duplicate' && dup.pending).toBe(one);
    expect(await t.decide('d', 1, h(2))).toEqual({ kind: 'replay', last: 1 });
    t.accepted('d', 2, h(2), leaf(2));
    fail(new Error('disk'));
    await tick();
    // seq 1 was never logged: its redelivery is new, though 2 is the last now.
    expect(await t.decide('d', 1, h(1))).toEqual({ kind: 'accept' });
    expect(await t.last('d')).toBe(2);
  });

  it('forgets idle devices beyond its bound and reloads them from the store', async () => {
    const { t, loads } = tracker({ a: 1, b: 1, c: 1 }, {}, 2);
    for (const dev of ['a', 'b', 'c']) await t.decide(dev, 2, h(2));
    expect(t.size).toBe(2);
    await t.decide('a', 2, h(2));
    expect(loads).toEqual(['a', 'b', 'c', 'a']);
  });
});
