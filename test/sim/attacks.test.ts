/**
 * device-sim attack modes against a real gateway: each step gets the coded refusal the design
 * requires, and the simulator reports it (`attack` events, summary `attacks`, exit 0). The
 * firmware attacks are checked without a rollout here: the gateway's `fw.rejected` and the
 * device agent's refusal of an offer signed by strangers. Their steps on a genuine offer
 * (tampered chunk, downgrade) need a rollout and report "skipped" without one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayErrorCode as SimExpects } from '../../device-sim/attacks/codes.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { startTestGateway, type TestGateway } from '../gateway/harness.js';
import { ofType, type SimLine, sim } from './support.js';

let gw: TestGateway;
let state: string;
let events: SimLine[];
let code: number;

beforeAll(async () => {
  gw = await startTestGateway();
  state = await mkdtemp(join(tmpdir(), 'medgate-sim-attacks-'));
  ({ code, events } = await sim(
    gw,
    '--state',
    state,
    '--devices',
    '3',
    '--profile',
    'wearable',
    '--time-scale',
    '2',
    '--drain-ms',
    '500',
    '--attack',
    'replay,forge,spoof,malformed,tamper-fw,downgrade',
    '--attack',
    'flood',
  ));
}, 60_000);
afterAll(async () => {
  await gw?.stop();
  await rm(state, { recursive: true, force: true });
});

const steps = (attack: string) => ofType(events, 'attack').filter((e) => e.attack === attack);
const answers = (attack: string) => steps(attack).map((e) => String(e.answer));

describe('device-sim attack modes', () => {
  it('expects the codes the gateway defines', () => {
    for (const [name, value] of Object.entries(SimExpects)) {
      expect(GatewayErrorCode[name as keyof typeof GatewayErrorCode]).toBe(value);
    }
  });

  it('every step was refused as required, and the run says so', () => {
    expect(code).toBe(0);
    const all = ofType(events, 'attack');
    expect(all.length).toBeGreaterThanOrEqual(14);
    for (const e of all) expect(e, String(e.step)).toMatchObject({ ok: true });
    const summary = events.at(-1);
    expect(summary).toMatchObject({ event: 'summary', ok: true });
    expect(
      ((summary?.attacks ?? []) as { attack: string; ok: boolean }[]).map((a) => [a.attack, a.ok]),
    ).toEqual([
      ['replay', true],
      ['forge', true],
      ['spoof', true],
      ['malformed', true],
      ['tamper-fw', true],
      ['downgrade', true],
      ['flood', true],
    ]);
  });

  it('replay: a byte-identical resend is a duplicate, another reading with that seq MG_ERR_REPLAY', () => {
    expect(answers('replay')).toEqual(['PUBACK, no new leaf (duplicate)', 'rejected MG_ERR_REPLAY (seq)']);
  });

  it('forge: MG_ERR_BAD_SIGNATURE with the device kid, MG_ERR_UNKNOWN_KID with a stranger key', () => {
    expect(answers('forge')).toEqual([
      'rejected MG_ERR_BAD_SIGNATURE (signature)',
      'rejected MG_ERR_UNKNOWN_KID (kid)',
    ]);
  });

  it("spoof: another device's id in the reading, its client id, its topic", () => {
    expect(answers('spoof')).toEqual([
      'rejected MG_ERR_READING_SPOOFED (dev)',
      'CONNACK 4 (bad user name or password)',
      'connection closed without PUBACK',
    ]);
  });

  it('malformed: each payload refused with its code', () => {
    const got = answers('malformed');
    expect(got[0]).toBe('rejected MG_ERR_COSE_MALFORMED');
    expect(got[1]).toMatch(/^rejected MG_ERR_(UNKNOWN|MISSING|BAD)_FIELD/);
    expect(got[2]).toBe('rejected MG_ERR_UNKNOWN_CODE (obs[0].code)');
    expect(got[3]).toBe('rejected MG_ERR_IMPLAUSIBLE_VALUE (obs[0].v)');
  });

  it('tamper-fw and downgrade: the gateway serves no unoffered image, the device refuses a forged offer', () => {
    const tamper = answers('tamper-fw');
    expect(tamper[0]).toMatch(/^fw\.rejected MG_ERR_/);
    expect(tamper[1]).toBe('device refused MG_ERR_UPDATE_BAD_BLOCK, stays on seq 1');
    expect(tamper[2]).toMatch(/^skipped/);
    const down = answers('downgrade');
    expect(down[0]).toMatch(/^fw\.rejected MG_ERR_/);
    expect(down[1]).toMatch(/^skipped/);
  });

  it('flood: refused readings, then the connection is cut and a reconnect is refused (ban)', () => {
    const flood = steps('flood');
    expect(String(flood[0]?.answer)).toContain('connection closed by the gateway');
    expect(flood[1]?.answer).toBe('CONNACK 5 (not authorized)');
    const banned = gw.logged('connect refused').filter((l) => l.code === GatewayErrorCode.AUTH_BANNED);
    expect(banned.map((l) => l.principal)).toContain(flood[0]?.dev);
  });

  it('the rest of the fleet streams on: readings of the other devices are accepted', () => {
    const flooder = steps('flood')[0]?.dev;
    const others = ofType(events, 'accepted').filter((a) => a.dev !== flooder);
    expect(others.length).toBeGreaterThan(0);
  });
});
