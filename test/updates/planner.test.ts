/**
 * The wave planner and the offer index (gateway/updates/planner.ts, offer-index.ts) on
 * hand-built ledger states: waves open in order, only once every earlier device ended; a halt,
 * the window and revocations are honoured; cohorts are ordered by id; the chunk server's
 * decision names the reason of a refusal.
 */
import { describe, expect, it } from 'vitest';
import type { RolloutTarget, UpdateState } from '../../firmware-ts/protocol/tx/types.js';
import { GatewayErrorCode } from '../../gateway/errors.js';
import { PMap } from '../../gateway/ledger/state/pmap.js';
import {
  type DeviceRecord,
  type DeviceReport,
  emptyState,
  type Release,
  type Rollout,
  type State,
} from '../../gateway/ledger/state/state.js';
import { OfferIndex } from '../../gateway/updates/offer-index.js';
import { planRollout, rolloutDevices } from '../../gateway/updates/planner.js';

const T = 1_700_000_000_000;
const at = { height: 5, time: T };
const DIGEST = new Uint8Array(32).fill(7);
const OTHER_DIGEST = new Uint8Array(32).fill(9);

function device(id: string, model = 'wearable-v1', status: DeviceRecord['status'] = 'active'): DeviceRecord {
  return { id, model, status, enrolledBy: 'admin:alice', since: at, keys: [] };
}

function release(id: string, seq: number, digest = DIGEST): Release {
  return {
    id,
    vendor: 'acme',
    model: 'wearable-v1',
    seq,
    version: `${seq}.0`,
    digest,
    size: 100,
    created: T,
    manifest: new Uint8Array([1]),
    at,
  };
}

function rollout(target: RolloutTarget, waves: number[], extra: Partial<Rollout> = {}): Rollout {
  return {
    id: 'r'.repeat(64),
    release: 'rel-1',
    model: 'wearable-v1',
    target,
    notBefore: T,
    expires: T + 1000,
    waves,
    maxFailures: 2,
    authorized: at,
    reports: PMap.empty(),
    confirmed: 0,
    failures: 0,
    ...extra,
  };
}

function withReports(r: Rollout, reports: Record<string, UpdateState>): Rollout {
  let map = PMap.empty<DeviceReport>();
  for (const [dev, state] of Object.entries(reports)) map = map.set(dev, { state, seq: 1, at });
  return { ...r, reports: map };
}

function stateWith(devices: DeviceRecord[], rollouts: Rollout[], releases = [release('rel-1', 2)]): State {
  return {
    ...emptyState('c'),
    devices: PMap.from(devices.map((d) => [d.id, d] as const)),
    releases: PMap.from(releases.map((r) => [r.id, r] as const)),
    rollouts: PMap.from(rollouts.map((r) => [r.id, r] as const)),
  };
}

const FLEET = ['w1', 'w2', 'w3'].map((id) => device(id));
const DEVS = { devs: ['w2', 'w1', 'w3'] };

function offered(state: State, r: Rollout, time = T): string[] {
  return planRollout(state, r, time)
    .devices.filter((d) => d.offered)
    .map((d) => d.dev);
}

describe('wave planner', () => {
  it('keeps the order of the target list and opens only the first wave at first', () => {
    const r = rollout(DEVS, [1, 2]);
    const plan = planRollout(stateWith(FLEET, [r]), r, T);
    expect(plan.status).toBe('active');
    expect(plan.waves.map((w) => [w.devices, w.open])).toEqual([
      [['w2'], true],
      [['w1', 'w3'], false],
    ]);
    expect(offered(stateWith(FLEET, [r]), r)).toEqual(['w2']);
  });

  it('opens the next wave only once every device of the earlier waves ended', () => {
    const base = rollout(DEVS, [1, 1, 1]);
    for (const progress of ['downloading', 'verified', 'installed'] as const) {
      const r = withReports(base, { w2: progress });
      expect(offered(stateWith(FLEET, [r]), r), progress).toEqual(['w2']);
    }
    const confirmed = withReports(base, { w2: 'confirmed' });
    expect(offered(stateWith(FLEET, [confirmed]), confirmed)).toEqual(['w1']);
    // A failure ends a device too (the failure threshold, not the planner, halts the rollout).
    const failed = withReports(base, { w2: 'confirmed', w1: 'rolledBack' });
    const plan = planRollout(stateWith(FLEET, [failed]), failed, T);
    expect(plan.devices.filter((d) => d.offered).map((d) => d.dev)).toEqual(['w3']);
    expect(plan.waves.map((w) => w.open)).toEqual([true, true, true]);
    expect(plan.waves[1]!.counts).toMatchObject({ rolledBack: 1, pending: 0 });
  });

  it('offers nothing once halted, before notBefore, or from expires on; completed when all ended', () => {
    const r = rollout(DEVS, [3]);
    const halted = { ...r, halted: { at, by: 'policy', reason: '2 devices failed' } };
    expect(planRollout(stateWith(FLEET, [halted]), halted, T).status).toBe('halted');
    expect(offered(stateWith(FLEET, [halted]), halted)).toEqual([]);
    expect(planRollout(stateWith(FLEET, [r]), r, T - 1).status).toBe('scheduled');
    expect(offered(stateWith(FLEET, [r]), r, T - 1)).toEqual([]);
    expect(planRollout(stateWith(FLEET, [r]), r, T + 1000).status).toBe('expired');
    expect(offered(stateWith(FLEET, [r]), r, T + 1000)).toEqual([]);
    expect(offered(stateWith(FLEET, [r]), r, T + 999)).toEqual(['w2', 'w1', 'w3']);
    const done = withReports(r, { w1: 'confirmed', w2: 'failed', w3: 'confirmed' });
    expect(planRollout(stateWith(FLEET, [done]), done, T).status).toBe('completed');
  });

  it('does not let a revoked device hold back the next wave', () => {
    const r = rollout(DEVS, [1, 2]);
    const fleet = [device('w1'), device('w2', 'wearable-v1', 'revoked'), device('w3')];
    const plan = planRollout(stateWith(fleet, [r]), r, T);
    expect(plan.devices.map((d) => [d.dev, d.phase, d.offered])).toEqual([
      ['w2', 'skipped', false],
      ['w1', 'pending', true],
      ['w3', 'pending', true],
    ]);
  });

  it("orders a cohort by id: the model's active devices (and reporters), the last wave size repeating", () => {
    const fleet = [
      device('w3'),
      device('w1'),
      device('cuff-1', 'bp-cuff-v1'),
      device('w0', 'wearable-v1', 'pending'),
      device('w2', 'wearable-v1', 'revoked'),
      device('w4'),
    ];
    const r = withReports(rollout({ cohort: 'all' }, [1, 2]), { w2: 'confirmed' });
    const state = stateWith(fleet, [r]);
    expect(rolloutDevices(state, r)).toEqual(['w1', 'w2', 'w3', 'w4']);
    const plan = planRollout(state, r, T);
    expect(plan.waves.map((w) => w.devices)).toEqual([['w1'], ['w2', 'w3'], ['w4']]);
    expect(plan.waves.map((w) => w.size)).toEqual([1, 2, 2]);
    expect(plan.devices.filter((d) => d.offered).map((d) => d.dev)).toEqual(['w1']);
  });
});

describe('offer index (what the chunk server serves)', () => {
  it('serves only the digest offered to the device now, and names why otherwise', () => {
    const active = rollout(DEVS, [1, 2]);
    const state = stateWith([...FLEET, device('w9')], [active]);
    const index = OfferIndex.of(state, T);
    expect(index.mayFetch('w2', DIGEST)).toMatchObject({ ok: true });
    // Wave not open yet, not a target, another digest.
    expect(index.mayFetch('w1', DIGEST)).toMatchObject({ ok: false, code: GatewayErrorCode.FW_NOT_OFFERED });
    expect(index.mayFetch('w9', DIGEST)).toMatchObject({ ok: false, code: GatewayErrorCode.FW_NOT_OFFERED });
    expect(index.mayFetch('w2', OTHER_DIGEST)).toMatchObject({
      ok: false,
      code: GatewayErrorCode.FW_NOT_OFFERED,
    });

    const halted = { ...active, halted: { at, by: 'admin:alice', reason: 'stop' } };
    expect(OfferIndex.of(stateWith(FLEET, [halted]), T).mayFetch('w2', DIGEST)).toMatchObject({
      ok: false,
      code: GatewayErrorCode.FW_ROLLOUT_HALTED,
    });
    expect(OfferIndex.of(state, T + 1000).mayFetch('w2', DIGEST)).toMatchObject({
      ok: false,
      code: GatewayErrorCode.FW_ROLLOUT_EXPIRED,
    });
  });

  it('offers a device the newer release when two active rollouts hold it', () => {
    const older = rollout(DEVS, [3]);
    const newer = { ...rollout(DEVS, [3]), id: 's'.repeat(64), release: 'rel-2' };
    const state = stateWith(FLEET, [newer, older], [release('rel-1', 2), release('rel-2', 3, OTHER_DIGEST)]);
    const index = OfferIndex.of(state, T);
    expect(index.offers.get('w1')?.rollout.id).toBe(newer.id);
    expect(index.mayFetch('w1', OTHER_DIGEST).ok).toBe(true);
    expect(index.mayFetch('w1', DIGEST).ok).toBe(false);
  });
});
