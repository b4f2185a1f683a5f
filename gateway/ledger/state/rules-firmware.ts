/**
 * Firmware rules (DESIGN §5): vendor-signed releases, rollouts authorised through a proposal,
 * halts, and the devices' own signed update reports.
 */
import { sha256 } from '../../../firmware-ts/protocol/hash.js';
import { decodeManifestCose } from '../../../firmware-ts/protocol/tx/sign.js';
import type { RolloutAuthorizeBody, UpdateState } from '../../../firmware-ts/protocol/tx/types.js';
import {
  freeze,
  hex,
  policyFor,
  type RuleEnv,
  type RuleTable,
  requireDevice,
  verifyInner,
} from './common.js';
import { refuse, StateErrorCode } from './errors.js';
import { PMap } from './pmap.js';
import type { DeviceReport, FirmwareInfo, Rollout } from './state.js';

/** Order of the states of one device's update; the last three end it. */
const RANK: Readonly<Record<UpdateState, number>> = freeze({
  downloading: 0,
  verified: 1,
  installed: 2,
  confirmed: 3,
  rolledBack: 3,
  failed: 3,
});

export function isTerminal(state: UpdateState): boolean {
  return RANK[state] === 3;
}

function isFailure(state: UpdateState): boolean {
  return state === 'failed' || state === 'rolledBack';
}

/** Executor of the `rollout.authorize` action (called by the proposal mechanism). */
export function authorizeRollout(env: RuleEnv, body: RolloutAuthorizeBody, proposal: string): void {
  const release = env.d.releases.get(hex(body.manifest));
  if (release === undefined) {
    throw refuse(StateErrorCode.UNKNOWN_RELEASE, 'no release with this manifest digest', {
      field: 'action.body.manifest',
    });
  }
  if (release.model !== body.model) {
    throw refuse(StateErrorCode.MODEL_MISMATCH, `the release is for model ${release.model}`, {
      field: 'action.body.model',
      got: body.model,
      want: release.model,
    });
  }
  const policy = policyFor(env.d, body.model);
  const biggest = Math.max(...body.waves);
  if (biggest > policy.maxWaveSize) {
    throw refuse(StateErrorCode.POLICY_LIMIT, 'a wave is larger than the model policy allows', {
      field: 'action.body.waves',
      got: biggest,
      want: policy.maxWaveSize,
    });
  }
  if (body.maxFailures > policy.maxFailures) {
    throw refuse(
      StateErrorCode.POLICY_LIMIT,
      'the failure threshold is higher than the model policy allows',
      {
        field: 'action.body.maxFailures',
        got: body.maxFailures,
        want: policy.maxFailures,
      },
    );
  }
  if (body.expires <= env.at.time) {
    throw refuse(StateErrorCode.BAD_EXPIRY, 'the rollout has already expired', {
      field: 'action.body.expires',
    });
  }
  if ('devs' in body.target) {
    body.target.devs.forEach((dev, i) => {
      const field = `action.body.target.devs[${i}]`;
      const device = requireDevice(env.d, dev, field);
      if (device.model !== body.model) {
        throw refuse(StateErrorCode.MODEL_MISMATCH, `device ${dev} is a ${device.model}`, { field });
      }
      if (device.status === 'revoked')
        throw refuse(StateErrorCode.DEVICE_REVOKED, `device ${dev} is revoked`, { field });
    });
  }
  const rollout: Rollout = freeze({
    id: proposal,
    release: release.id,
    model: body.model,
    target: body.target,
    notBefore: body.notBefore,
    expires: body.expires,
    waves: body.waves,
    maxFailures: body.maxFailures,
    authorized: env.at,
    reports: PMap.empty<DeviceReport>(),
    confirmed: 0,
    failures: 0,
  });
  env.d.rollouts = env.d.rollouts.set(proposal, rollout);
  env.effects.push({ type: 'rollout.authorized', rollout: proposal, model: body.model });
}

export const firmwareRules: Pick<RuleTable, 'firmware.release' | 'rollout.halt' | 'update.report'> = {
  // DESIGN §5: "An admin submits the release" (or the vendor itself); the manifest must be
  // signed by a registered vendor allowed for the model, and its seq must rise per model.
  'firmware.release': (env) => {
    const bytes = env.tx.body.manifest;
    const { cose, manifest } = decodeManifestCose(bytes);
    if (env.actor.kind === 'vendor' && env.actor.id !== manifest.vendor) {
      throw refuse(StateErrorCode.ACTOR_NOT_ALLOWED, 'a vendor may submit only its own manifests', {
        field: 'body.manifest',
      });
    }
    const vendor = env.d.vendors.get(manifest.vendor);
    if (vendor === undefined) {
      throw refuse(StateErrorCode.UNKNOWN_VENDOR, `no vendor ${manifest.vendor}`, {
        field: 'body.manifest.vendor',
      });
    }
    if (!vendor.models.includes(manifest.model)) {
      throw refuse(
        StateErrorCode.VENDOR_MODEL,
        `vendor ${vendor.id} may not sign for model ${manifest.model}`,
        {
          field: 'body.manifest.model',
        },
      );
    }
    verifyInner(env, cose, vendor.pub);
    const id = hex(sha256(bytes));
    if (env.d.releases.has(id)) {
      throw refuse(StateErrorCode.ALREADY_EXISTS, 'this manifest was already released', {
        field: 'body.manifest',
      });
    }
    // Anti-rollback at release time; "equal" and "lower" are different errors (TUF).
    const latest = env.d.latestSeq.get(manifest.model);
    if (latest !== undefined && manifest.seq === latest) {
      throw refuse(
        StateErrorCode.RELEASE_SEQ_EQUAL,
        `seq ${latest} of ${manifest.model} was already released`,
        {
          field: 'body.manifest.seq',
          got: manifest.seq,
          want: latest + 1,
        },
      );
    }
    if (latest !== undefined && manifest.seq < latest) {
      throw refuse(StateErrorCode.RELEASE_SEQ_LOWER, `seq is below the latest release ${latest}`, {
        field: 'body.manifest.seq',
        got: manifest.seq,
        want: latest + 1,
      });
    }
    env.d.releases = env.d.releases.set(id, freeze({ id, ...manifest, manifest: bytes, at: env.at }));
    env.d.latestSeq = env.d.latestSeq.set(manifest.model, manifest.seq);
    env.effects.push({ type: 'firmware.released', release: id, model: manifest.model, seq: manifest.seq });
  },

  'rollout.halt': (env) => {
    const id = hex(env.tx.body.rollout);
    const rollout = env.d.rollouts.get(id);
    if (rollout === undefined)
      throw refuse(StateErrorCode.UNKNOWN_ROLLOUT, 'no such rollout', { field: 'body.rollout' });
    if (rollout.halted !== undefined) {
      throw refuse(StateErrorCode.ROLLOUT_HALTED, 'the rollout is already halted', { field: 'body.rollout' });
    }
    const reason = env.tx.body.reason ?? 'halted by an admin';
    const halted = freeze({ at: env.at, by: env.tx.actor, reason });
    env.d.rollouts = env.d.rollouts.set(id, freeze({ ...rollout, halted }));
    env.effects.push({ type: 'rollout.halted', rollout: id, reason });
  },

  // Signed by the device's current key. Reports are facts and are recorded even after a halt or
  // the expiry; they must move forward, and nothing follows confirmed / failed / rolledBack.
  'update.report': (env) => {
    const body = env.tx.body;
    const device = requireDevice(env.d, env.actor.id, 'actor');
    const id = hex(body.rollout);
    const rollout = env.d.rollouts.get(id);
    if (rollout === undefined)
      throw refuse(StateErrorCode.UNKNOWN_ROLLOUT, 'no such rollout', { field: 'body.rollout' });
    const targeted =
      'devs' in rollout.target ? rollout.target.devs.includes(device.id) : device.model === rollout.model;
    if (!targeted) {
      throw refuse(StateErrorCode.NOT_TARGETED, `device ${device.id} is not a target of this rollout`, {
        field: 'body.rollout',
      });
    }
    const release = env.d.releases.get(rollout.release)!;
    // `seq` is what the device runs: the release's after confirming, never more before.
    if (body.state === 'confirmed' ? body.seq !== release.seq : body.seq > release.seq) {
      throw refuse(StateErrorCode.REPORT_BAD_SEQ, `seq ${body.seq} does not fit a ${body.state} report`, {
        field: 'body.seq',
        got: body.seq,
        want: release.seq,
      });
    }
    const prev = rollout.reports.get(device.id);
    if (prev !== undefined && (isTerminal(prev.state) || RANK[body.state] < RANK[prev.state])) {
      throw refuse(StateErrorCode.REPORT_OUT_OF_ORDER, `a ${body.state} report cannot follow ${prev.state}`, {
        field: 'body.state',
        got: body.state,
      });
    }
    const report: DeviceReport = freeze(
      body.error === undefined
        ? { state: body.state, seq: body.seq, at: env.at }
        : { state: body.state, seq: body.seq, error: body.error, at: env.at },
    );
    let next: Rollout = freeze({
      ...rollout,
      reports: rollout.reports.set(device.id, report),
      confirmed: rollout.confirmed + (body.state === 'confirmed' ? 1 : 0),
      failures: rollout.failures + (isFailure(body.state) ? 1 : 0),
    });
    env.effects.push({ type: 'update.reported', rollout: id, dev: device.id, state: body.state });
    // DESIGN §5: the failure threshold halts the rollout.
    if (next.halted === undefined && next.failures >= next.maxFailures) {
      const reason = `${next.failures} devices failed (threshold ${next.maxFailures})`;
      next = freeze({ ...next, halted: freeze({ at: env.at, by: 'policy', reason }) });
      env.effects.push({ type: 'rollout.halted', rollout: id, reason });
    }
    env.d.rollouts = env.d.rollouts.set(id, next);
    const version =
      body.seq === release.seq
        ? release.version
        : device.firmware?.seq === body.seq
          ? device.firmware.version
          : undefined;
    const firmware: FirmwareInfo = freeze(
      version === undefined ? { seq: body.seq, at: env.at } : { seq: body.seq, version, at: env.at },
    );
    env.d.devices = env.d.devices.set(device.id, freeze({ ...device, firmware }));
  },
};
