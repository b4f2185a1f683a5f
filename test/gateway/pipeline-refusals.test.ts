/**
 * Every refusal of the telemetry pipeline with its code, its device event, its security event
 * (only for the security-relevant ones), its log line (never the payload) and its metric; after
 * each hostile case a good reading of the same device is still accepted, and at the end every
 * acknowledged reading is in the reading log with its exact bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64, toHex } from '../../firmware-ts/protocol/bytes.js';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { leafHash } from '../../firmware-ts/protocol/merkle/index.js';
import { removeTempDirs } from '../ledger/ledger-harness.js';
import { CHAIN, closeSharedPool, HEART_RATE, keyFor, PipelineHarness } from './pipeline-harness.js';

const SECURITY = true;

let h: PipelineHarness;
const next = new Map<string, number>();
const sent: Uint8Array[] = [];

/** The next unused seq of `dev`. */
function seq(dev: string): number {
  const s = (next.get(dev) ?? 0) + 1;
  next.set(dev, s);
  return s;
}

interface Expect {
  security: boolean;
  seq?: number;
  field?: string;
  /** Device whose topic carried it (default the signer). */
  topicOf?: string;
}

/** `bytes` on `dev`'s topic is refused with `code`, with everything a refusal produces. */
async function refused(dev: string, bytes: Uint8Array, code: string, want: Expect): Promise<void> {
  sent.push(bytes);
  const events = h.events(dev).length;
  const security = h.securityEvents().length;
  const before = await h.refusedCount(code);
  const logLines = h.lines.length;
  expect(await h.send(dev, bytes)).toBe('refused');
  await h.settle();

  const event = Object.fromEntries(h.events(dev).slice(events)[0] ?? []);
  expect(event.type).toBe('rejected');
  expect(event.code).toBe(code);
  expect(event.seq).toBe(want.seq);
  if (want.field !== undefined) expect(event.field).toBe(want.field);
  const published = h.on(`mg/v1/dev/${dev}/events`).at(-1);
  expect(published?.qos).toBe(1);

  const newSecurity = h.securityEvents().slice(security);
  if (want.security) {
    expect(newSecurity).toHaveLength(1);
    expect(newSecurity[0]).toMatchObject({ type: 'reading.refused', code, dev, principal: dev });
    expect(typeof newSecurity[0]?.t).toBe('number');
  } else {
    expect(newSecurity).toEqual([]);
  }
  const line = h.lines.slice(logLines).find((l) => l.code === code);
  expect(line).toMatchObject({ deviceId: dev, code, level: want.security ? 40 : 30 });
  expect(await h.refusedCount(code)).toBe(before + 1);

  // The device is still served.
  const good = h.sign(dev, { seq: seq(dev) });
  sent.push(good);
  expect(await h.send(dev, good)).toBe('accepted');
}

beforeAll(async () => {
  // A high slowdown threshold: penalties have their own test below.
  h = await PipelineHarness.start({
    devices: ['dev-1', 'dev-2', 'dev-3'],
    limits: { failuresBeforeSlowdown: 1000 },
  });
  for (const dev of ['dev-1', 'dev-2', 'dev-3'])
    expect(await h.send(dev, h.sign(dev, { seq: seq(dev) }))).toBe('accepted');
});

afterAll(async () => {
  await h.close();
  await closeSharedPool();
  await removeTempDirs();
});

describe('refused readings', () => {
  it('a forged signature: MG_ERR_BAD_SIGNATURE, security event', async () => {
    const bytes = h.sign('dev-1', { seq: seq('dev-1') });
    bytes[bytes.length - 1] = (bytes.at(-1) as number) ^ 0x01;
    await refused('dev-1', bytes, 'MG_ERR_BAD_SIGNATURE', { security: SECURITY, field: 'signature' });
  });

  it('a reading signed for another chain id: MG_ERR_BAD_SIGNATURE (the chain is the external_aad)', async () => {
    const bytes = h.sign('dev-1', { seq: seq('dev-1'), chain: 'another-chain' });
    await refused('dev-1', bytes, 'MG_ERR_BAD_SIGNATURE', { security: SECURITY });
  });

  it('a reading of device A published as B: MG_ERR_READING_SPOOFED (kid of another principal)', async () => {
    const bytes = h.sign('dev-1', { seq: seq('dev-2') + 100 });
    await refused('dev-2', bytes, 'MG_ERR_READING_SPOOFED', { security: SECURITY, field: 'kid' });
    const event = h.securityEvents().at(-1) as { detail: { kid: string } };
    expect(event.detail.kid).toBe(toHex(keyFor('dev-1').kid));
  });

  it("B's key signing a reading that names A, on B's topic: MG_ERR_READING_SPOOFED (dev)", async () => {
    const s = seq('dev-2');
    const bytes = h.sign('dev-2', { seq: s, dev: 'dev-1' });
    await refused('dev-2', bytes, 'MG_ERR_READING_SPOOFED', { security: SECURITY, seq: s, field: 'dev' });
  });

  it('a replay: other bytes with the last seq, or a lower seq: MG_ERR_REPLAY', async () => {
    const last = next.get('dev-3')!;
    const sameSeq = h.sign('dev-3', { seq: last, obs: [{ ...HEART_RATE, v: 99 }] });
    await refused('dev-3', sameSeq, 'MG_ERR_REPLAY', { security: SECURITY, seq: last, field: 'seq' });
    const lower = h.sign('dev-3', { seq: 0, obs: [{ ...HEART_RATE, v: 61 }] });
    await refused('dev-3', lower, 'MG_ERR_REPLAY', { security: SECURITY, seq: 0 });
  });

  it('a kid on no key of the ledger: MG_ERR_UNKNOWN_KID', async () => {
    const bytes = h.sign('dev-1', { seq: seq('dev-1'), key: keyFor('nobody') });
    await refused('dev-1', bytes, 'MG_ERR_UNKNOWN_KID', { security: SECURITY, field: 'kid' });
  });

  it('a device that is not on the ledger: MG_ERR_UNKNOWN_DEVICE', async () => {
    const bytes = h.sign('ghost', { seq: 1 });
    sent.push(bytes);
    expect(await h.send('ghost', bytes)).toBe('refused');
    await h.settle();
    expect(Object.fromEntries(h.events('ghost')[0]!)).toMatchObject({ code: 'MG_ERR_UNKNOWN_DEVICE' });
    expect(h.securityEvents().at(-1)).toMatchObject({ code: 'MG_ERR_UNKNOWN_DEVICE', dev: 'ghost' });
  });

  it('a clock too far ahead: MG_ERR_CLOCK_SKEW; backlog older than its limit: MG_ERR_READING_TOO_OLD', async () => {
    const ahead = h.clock.t + h.limits.skewMs + 1;
    const s1 = seq('dev-1');
    await refused('dev-1', h.sign('dev-1', { seq: s1, t: ahead }), 'MG_ERR_CLOCK_SKEW', {
      security: false,
      seq: s1,
      field: 't',
    });
    const old = h.clock.t - h.limits.backlogMaxAgeMs - 1;
    const s2 = seq('dev-1');
    await refused('dev-1', h.sign('dev-1', { seq: s2, t: old }), 'MG_ERR_READING_TOO_OLD', {
      security: false,
      seq: s2,
    });
    // At the edge of the window, both ways: accepted (late only past the skew window).
    expect(
      await h.send('dev-1', h.sign('dev-1', { seq: seq('dev-1'), t: h.clock.t + h.limits.skewMs })),
    ).toBe('accepted');
  });

  it('an oversized payload: MG_ERR_READING_TOO_LARGE, before any parsing', async () => {
    const bytes = new Uint8Array(h.limits.maxPayloadBytes + 1).fill(0xff);
    await refused('dev-2', bytes, 'MG_ERR_READING_TOO_LARGE', { security: false });
  });

  it('malformed input: not CBOR, not COSE, COSE whose signed payload is not a reading', async () => {
    await refused('dev-2', Uint8Array.of(0xd2, 0x84, 0x41), 'MG_ERR_COSE_MALFORMED', { security: false });
    await refused('dev-2', encodeCbor({ dev: 'dev-2', seq: 5 }), 'MG_ERR_COSE_MALFORMED', {
      security: false,
    });
    const notCbor = signCoseSign1(Uint8Array.of(0xff, 0x00), keyFor('dev-2').signer, chainAad(CHAIN));
    await refused('dev-2', notCbor, 'MG_ERR_CBOR_MALFORMED', { security: false });
    const notReading = signCoseSign1(
      encodeCbor({ dev: 'dev-2', seq: 9 }),
      keyFor('dev-2').signer,
      chainAad(CHAIN),
    );
    await refused('dev-2', notReading, 'MG_ERR_MISSING_FIELD', { security: false });
  });

  it('an unknown LOINC code, a wrong unit, an implausible value: coded, not security events', async () => {
    const cases = [
      [{ code: '1234-5', v: 1, u: '/min' }, 'MG_ERR_UNKNOWN_CODE', 'obs[0].code'],
      [{ code: '8867-4', v: 72, u: 'Cel' }, 'MG_ERR_BAD_UNIT', 'obs[0].u'],
      [{ code: '8867-4', v: 900, u: '/min' }, 'MG_ERR_IMPLAUSIBLE_VALUE', 'obs[0].v'],
    ] as const;
    for (const [obs, code, field] of cases) {
      const s = seq('dev-3');
      await refused('dev-3', h.sign('dev-3', { seq: s, obs: [obs] }), code, {
        security: false,
        seq: s,
        field,
      });
    }
  });

  it('a revoked device: MG_ERR_DEVICE_REVOKED, whatever it signs', async () => {
    await h.submit(h.tx.enrol('dev-r', h.clock.t));
    expect(await h.send('dev-r', h.sign('dev-r', { seq: 1 }))).toBe('accepted');
    await h.submit(h.tx.revoke('dev-r', h.clock.t));
    const bytes = h.sign('dev-r', { seq: 2, t: h.clock.t - 5000 });
    sent.push(bytes);
    expect(await h.send('dev-r', bytes)).toBe('refused');
    await h.settle();
    expect(Object.fromEntries(h.events('dev-r').at(-1)!)).toMatchObject({ code: 'MG_ERR_DEVICE_REVOKED' });
    expect(h.securityEvents().at(-1)).toMatchObject({ code: 'MG_ERR_DEVICE_REVOKED', dev: 'dev-r' });
  });

  it('a rotated key signs backlog from before the rotation only: MG_ERR_KEY_ROTATED after it', async () => {
    await h.submit(h.tx.enrol('dev-k', h.clock.t));
    const oldKey = keyFor('dev-k');
    const newKey = keyFor('dev-k-2');
    const before = h.clock.t;
    expect(await h.send('dev-k', h.sign('dev-k', { seq: 1, t: before }))).toBe('accepted');
    const rotatedAt = await h.rotate('dev-k', oldKey, newKey);
    // Backlog made before the rotation, signed with the old key, still rising: accepted.
    expect(await h.send('dev-k', h.sign('dev-k', { seq: 2, t: rotatedAt - 1 }))).toBe('accepted');
    // The old key at or after the rotation: refused.
    await refusedWith('dev-k', h.sign('dev-k', { seq: 3, t: rotatedAt }), 'MG_ERR_KEY_ROTATED');
    // The new key: accepted.
    expect(await h.send('dev-k', h.sign('dev-k', { seq: 3, key: newKey }))).toBe('accepted');
    expect(h.securityEvents().at(-1)).toMatchObject({ code: 'MG_ERR_KEY_ROTATED', dev: 'dev-k' });
  });

  it('never logs a payload, and every acknowledged reading is in the log with its bytes', async () => {
    for (const bytes of sent) {
      if (bytes.length > 2000) continue;
      expect(h.rawLog).not.toContain(toBase64(bytes));
      expect(h.rawLog).not.toContain(toHex(bytes).slice(0, 64));
    }
    for (const a of h.acknowledged) {
      const index = await h.ledger.log.indexOf(a.dev, a.seq);
      expect(index, `${a.dev} seq ${a.seq}`).toBeDefined();
      expect((await h.ledger.log.leaf(index!)).leafHash).toEqual(leafHash(a.bytes));
    }
    expect(h.acknowledged.length).toBeGreaterThan(20);
  });
});

async function refusedWith(dev: string, bytes: Uint8Array, code: string): Promise<void> {
  sent.push(bytes);
  expect(await h.send(dev, bytes)).toBe('refused');
  await h.settle();
  expect(Object.fromEntries(h.events(dev).at(-1)!)).toMatchObject({ type: 'rejected', code });
}
