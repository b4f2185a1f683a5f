import { describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import type { Action, RolloutAuthorizeBody, UpdateReportBody } from '../../firmware-ts/protocol/tx/types.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { deviceOf, rolloutProgress } from '../../gateway/ledger/state/queries.js';
import { DEFAULT_POLICY, fromHexId, keyFor, testGenesis, World } from './state-harness.js';

function fleet(): World {
  const w = new World(
    testGenesis({
      vendors: [
        { id: 'acme', pub: keyFor('vendor:acme').pub, models: ['m1', 'm2'] },
        { id: 'zeta', pub: keyFor('vendor:zeta').pub, models: ['z1'] },
      ],
    }),
  );
  for (const dev of ['d1', 'd2', 'd3']) w.enrol(dev, 'm1');
  w.enrol('e1', 'm2');
  return w;
}

function rolloutAction(manifest: Uint8Array, over: Partial<RolloutAuthorizeBody> = {}): Action {
  return {
    type: 'rollout.authorize',
    body: {
      manifest,
      model: 'm1',
      target: { devs: ['d1', 'd2'] },
      notBefore: 0,
      expires: 4_000_000_000_000,
      waves: [1, 1],
      maxFailures: 2,
      ...over,
    },
  };
}

const report = (
  rollout: string,
  state: UpdateReportBody['state'],
  seq: number,
  error?: string,
): UpdateReportBody =>
  error === undefined
    ? { rollout: fromHexId(rollout), state, seq }
    : { rollout: fromHexId(rollout), state, seq, error };

describe('firmware.release', () => {
  it('records a vendor-signed manifest keyed by the SHA-256 of its COSE bytes', () => {
    const w = fleet();
    const manifest = w.manifest({ seq: 2, version: '2.0.0' });
    const { effects } = w.apply(w.sign('admin:a', 'firmware.release', { manifest }));
    const id = toHex(sha256(manifest));
    expect(effects).toEqual([{ type: 'firmware.released', release: id, model: 'm1', seq: 2 }]);
    expect(w.state.releases.get(id)).toMatchObject({
      vendor: 'acme',
      model: 'm1',
      seq: 2,
      version: '2.0.0',
      manifest,
    });
    expect(w.state.latestSeq.get('m1')).toBe(2);
    // The vendor may submit its own manifest.
    w.apply(w.sign('vendor:acme', 'firmware.release', { manifest: w.manifest({ seq: 3 }) }));
    expect(w.state.latestSeq.get('m1')).toBe(3);
  });

  it('refuses rollback: an equal seq and a lower seq, with different codes; and the same manifest twice', () => {
    const w = fleet();
    const manifest = w.manifest({ seq: 5 });
    w.apply(w.sign('admin:a', 'firmware.release', { manifest }));
    w.refuse(w.sign('admin:a', 'firmware.release', { manifest }), StateErrorCode.ALREADY_EXISTS);
    w.refuse(
      w.sign('admin:a', 'firmware.release', { manifest: w.manifest({ seq: 5, version: '5b' }) }),
      StateErrorCode.RELEASE_SEQ_EQUAL,
    );
    w.refuse(
      w.sign('admin:a', 'firmware.release', { manifest: w.manifest({ seq: 4 }) }),
      StateErrorCode.RELEASE_SEQ_LOWER,
    );
    // Sequences are per model.
    w.apply(w.sign('admin:a', 'firmware.release', { manifest: w.manifest({ model: 'm2', seq: 1 }) }));
  });

  it('refuses manifests of unknown vendors, for models the vendor does not make, or not signed by the vendor', () => {
    const w = fleet();
    w.refuse(
      w.sign('admin:a', 'firmware.release', { manifest: w.manifest({ vendor: 'nobody' }) }),
      StateErrorCode.UNKNOWN_VENDOR,
    );
    w.refuse(
      w.sign('admin:a', 'firmware.release', { manifest: w.manifest({ vendor: 'zeta' }, 'vendor:zeta') }),
      StateErrorCode.VENDOR_MODEL,
    );
    // Claims to be acme but signed by zeta's key.
    w.refuse(
      w.sign('admin:a', 'firmware.release', { manifest: w.manifest({}, 'vendor:zeta') }),
      ProtocolErrorCode.COSE_KID_MISMATCH,
    );
    // A vendor submitting another vendor's manifest.
    w.refuse(
      w.sign('vendor:zeta', 'firmware.release', { manifest: w.manifest() }),
      StateErrorCode.ACTOR_NOT_ALLOWED,
    );
    // Tampered payload byte inside the manifest: its signature fails.
    const m = Uint8Array.from(w.manifest());
    m[m.length - 70]! ^= 0x01;
    const err = w.refuse(
      w.sign('admin:a', 'firmware.release', { manifest: m }),
      ProtocolErrorCode.BAD_SIGNATURE,
    );
    expect(err.code).toBe(ProtocolErrorCode.BAD_SIGNATURE);
  });
});

describe('rollout.authorize (through a proposal) and rollout.halt', () => {
  it("creates the rollout when the model policy's approvals are reached; id = proposal id", () => {
    const w = fleet();
    const release = w.release();
    const { id } = w.propose('admin:a', rolloutAction(release));
    expect(w.state.rollouts.has(id)).toBe(false);
    const { effects } = w.approve('admin:b', id);
    expect(effects.map((e) => e.type)).toEqual([
      'proposal.approved',
      'rollout.authorized',
      'proposal.executed',
    ]);
    const rollout = w.state.rollouts.get(id)!;
    expect(rollout).toMatchObject({
      release: toHex(release),
      model: 'm1',
      waves: [1, 1],
      maxFailures: 2,
      confirmed: 0,
      failures: 0,
    });
    expect(rolloutProgress(rollout, w.time)).toEqual({
      status: 'active',
      wave: 0,
      allowed: 1,
      finished: 0,
      confirmed: 0,
      failures: 0,
    });
  });

  it('follows the model policy: count and allowed approvers', () => {
    const w = fleet();
    const release = w.release();
    w.govern({
      type: 'policy.set',
      body: { model: 'm1', policy: { ...DEFAULT_POLICY, approvals: 2, approvers: ['b', 'c'] } },
    });
    const { id } = w.propose('admin:a', rolloutAction(release));
    // a may propose but is not an approver of m1: a's signature does not count.
    expect(w.state.proposals.has(id)).toBe(true);
    w.refuse(w.approveTx('admin:a', id), StateErrorCode.NOT_APPROVER);
    w.approve('admin:b', id);
    expect(w.state.rollouts.has(id)).toBe(false);
    w.approve('admin:c', id);
    expect(w.state.rollouts.has(id)).toBe(true);
  });

  it('refuses unknown releases, model mismatches, policy limits and past expiries', () => {
    const w = fleet();
    const release = w.release();
    w.refuse(w.proposeTx('admin:a', rolloutAction(new Uint8Array(32))), StateErrorCode.UNKNOWN_RELEASE);
    w.refuse(
      w.proposeTx('admin:a', rolloutAction(release, { model: 'm2', target: { cohort: 'all' } })),
      StateErrorCode.MODEL_MISMATCH,
    );
    w.refuse(
      w.proposeTx('admin:a', rolloutAction(release, { target: { devs: ['d1', 'e1'] } })),
      StateErrorCode.MODEL_MISMATCH,
    );
    w.refuse(
      w.proposeTx('admin:a', rolloutAction(release, { target: { devs: ['d1', 'dx'] } })),
      StateErrorCode.UNKNOWN_DEVICE,
    );
    w.refuse(w.proposeTx('admin:a', rolloutAction(release, { waves: [101] })), StateErrorCode.POLICY_LIMIT);
    w.refuse(
      w.proposeTx('admin:a', rolloutAction(release, { maxFailures: 11 })),
      StateErrorCode.POLICY_LIMIT,
    );
    w.refuse(w.proposeTx('admin:a', rolloutAction(release, { expires: w.time })), StateErrorCode.BAD_EXPIRY);
    w.apply(w.sign('admin:a', 'device.revoke', { dev: 'd2' }));
    w.refuse(w.proposeTx('admin:a', rolloutAction(release)), StateErrorCode.DEVICE_REVOKED);
  });

  it('halts once; unknown rollouts are refused', () => {
    const w = fleet();
    const id = w.govern(rolloutAction(w.release()));
    const { effects } = w.apply(
      w.sign('admin:c', 'rollout.halt', { rollout: fromHexId(id), reason: 'bad batch' }),
    );
    expect(effects).toEqual([{ type: 'rollout.halted', rollout: id, reason: 'bad batch' }]);
    expect(w.state.rollouts.get(id)?.halted).toEqual({
      at: { height: w.height, time: w.time },
      by: 'admin:c',
      reason: 'bad batch',
    });
    expect(rolloutProgress(w.state.rollouts.get(id)!, w.time).status).toBe('halted');
    w.refuse(w.sign('admin:c', 'rollout.halt', { rollout: fromHexId(id) }), StateErrorCode.ROLLOUT_HALTED);
    w.refuse(
      w.sign('admin:c', 'rollout.halt', { rollout: new Uint8Array(32) }),
      StateErrorCode.UNKNOWN_ROLLOUT,
    );
  });
});

describe('update.report (signed by the device)', () => {
  it("records each device's progress, its firmware, and opens the next wave", () => {
    const w = fleet();
    const id = w.govern(rolloutAction(w.release({ seq: 2, version: '2.0.0' })));
    for (const state of ['downloading', 'verified', 'installed'] as const)
      w.apply(w.sign('d1', 'update.report', report(id, state, 1)));
    expect(deviceOf(w.state, 'd1')?.firmware).toEqual({ seq: 1, at: { height: w.height, time: w.time } });
    const { effects } = w.apply(w.sign('d1', 'update.report', report(id, 'confirmed', 2)));
    expect(effects).toEqual([{ type: 'update.reported', rollout: id, dev: 'd1', state: 'confirmed' }]);
    expect(deviceOf(w.state, 'd1')?.firmware).toMatchObject({ seq: 2, version: '2.0.0' });
    const rollout = w.state.rollouts.get(id)!;
    expect(rollout.reports.get('d1')).toMatchObject({ state: 'confirmed', seq: 2 });
    expect(rolloutProgress(rollout, w.time)).toMatchObject({
      status: 'active',
      wave: 1,
      allowed: 2,
      finished: 1,
      confirmed: 1,
    });
    w.apply(w.sign('d2', 'update.report', report(id, 'confirmed', 2)));
    expect(rolloutProgress(w.state.rollouts.get(id)!, w.time).status).toBe('completed');
  });

  it('refuses reports that go backwards, follow the end, or carry a seq that does not fit', () => {
    const w = fleet();
    const id = w.govern(rolloutAction(w.release({ seq: 2 })));
    w.apply(w.sign('d1', 'update.report', report(id, 'installed', 1)));
    w.refuse(w.sign('d1', 'update.report', report(id, 'verified', 1)), StateErrorCode.REPORT_OUT_OF_ORDER);
    w.refuse(w.sign('d1', 'update.report', report(id, 'confirmed', 1)), StateErrorCode.REPORT_BAD_SEQ);
    w.refuse(w.sign('d1', 'update.report', report(id, 'installed', 3)), StateErrorCode.REPORT_BAD_SEQ);
    w.apply(w.sign('d1', 'update.report', report(id, 'rolledBack', 1, 'MG_ERR_TRIAL_BOOT')));
    expect(w.state.rollouts.get(id)?.reports.get('d1')).toMatchObject({
      state: 'rolledBack',
      error: 'MG_ERR_TRIAL_BOOT',
    });
    w.refuse(w.sign('d1', 'update.report', report(id, 'downloading', 1)), StateErrorCode.REPORT_OUT_OF_ORDER);
    w.refuse(w.sign('d1', 'update.report', report(id, 'failed', 1)), StateErrorCode.REPORT_OUT_OF_ORDER);
  });

  it('refuses devices that are not targeted, unknown rollouts and revoked devices', () => {
    const w = fleet();
    const id = w.govern(rolloutAction(w.release()));
    w.refuse(w.sign('d3', 'update.report', report(id, 'downloading', 1)), StateErrorCode.NOT_TARGETED);
    w.refuse(
      w.sign('d1', 'update.report', report('00'.repeat(32), 'downloading', 1)),
      StateErrorCode.UNKNOWN_ROLLOUT,
    );
    w.apply(w.sign('admin:a', 'device.revoke', { dev: 'd2' }));
    w.refuse(w.sign('d2', 'update.report', report(id, 'downloading', 1)), StateErrorCode.DEVICE_REVOKED);
  });

  it('targets a whole model with the cohort "all"', () => {
    const w = fleet();
    const id = w.govern(rolloutAction(w.release(), { target: { cohort: 'all' }, waves: [2] }));
    w.apply(w.sign('d3', 'update.report', report(id, 'downloading', 1)));
    w.refuse(w.sign('e1', 'update.report', report(id, 'downloading', 1)), StateErrorCode.NOT_TARGETED);
    // Past the listed waves, the last size repeats.
    expect(rolloutProgress(w.state.rollouts.get(id)!, w.time)).toMatchObject({ wave: 0, allowed: 2 });
  });

  it('halts the rollout when failures reach the threshold (DESIGN §5)', () => {
    const w = fleet();
    const id = w.govern(
      rolloutAction(w.release(), { target: { devs: ['d1', 'd2', 'd3'] }, waves: [3], maxFailures: 2 }),
    );
    w.apply(w.sign('d1', 'update.report', report(id, 'failed', 1, 'MG_ERR_BAD_DIGEST')));
    expect(w.state.rollouts.get(id)?.halted).toBeUndefined();
    const { effects } = w.apply(w.sign('d2', 'update.report', report(id, 'rolledBack', 1)));
    expect(effects).toEqual([
      { type: 'update.reported', rollout: id, dev: 'd2', state: 'rolledBack' },
      { type: 'rollout.halted', rollout: id, reason: '2 devices failed (threshold 2)' },
    ]);
    expect(w.state.rollouts.get(id)?.halted?.by).toBe('policy');
    // Reports are facts: still recorded after the halt.
    w.apply(w.sign('d3', 'update.report', report(id, 'downloading', 1)));
    expect(w.state.rollouts.get(id)?.reports.size).toBe(3);
  });

  it("accepts reports signed by the device's rotated key", () => {
    const w = fleet();
    const id = w.govern(rolloutAction(w.release()));
    const next = keyFor('d1#2');
    w.apply(w.sign('d1', 'device.rotate', { pub: next.pub, proof: w.rotateProof('d1', next) }));
    w.setKey('d1', next);
    w.apply(w.sign('d1', 'update.report', report(id, 'downloading', 1)));
    expect(w.state.rollouts.get(id)?.reports.get('d1')?.state).toBe('downloading');
  });
});
