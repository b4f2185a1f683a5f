/**
 * Device rules (DESIGN §3, §4): enrolment by an admin or by the device itself with a vendor
 * attestation, approval, revocation, and key rotation signed by both keys.
 */
import { equalBytes } from '../../../firmware-ts/protocol/bytes.js';
import type { CoseSign1 } from '../../../firmware-ts/protocol/cose.js';
import type { EnrolRequest } from '../../../firmware-ts/protocol/decode/enrol.js';
import { decodeAttestationCose } from '../../../firmware-ts/protocol/tx/entry.js';
import { decodeRotateProofCose } from '../../../firmware-ts/protocol/tx/sign.js';
import {
  claimKey,
  freeze,
  hex,
  policyFor,
  type RuleEnv,
  type RuleTable,
  requireDevice,
  verifyInner,
} from './common.js';
import { refuse, StateErrorCode } from './errors.js';
import type { DeviceRecord, DeviceStatus, KeyEpoch, Stamp } from './state.js';

function assertNewDevice(env: RuleEnv, dev: string, field: string): void {
  if (env.d.devices.has(dev)) {
    throw refuse(StateErrorCode.DEVICE_EXISTS, `device ${dev} is already on the ledger`, { field, got: dev });
  }
}

function addDevice(
  env: RuleEnv,
  dev: string,
  pub: Uint8Array,
  model: string,
  status: DeviceStatus,
  enrolledBy: string,
): void {
  const kid = claimKey(env.d, pub, dev, env.checkKey);
  const key: KeyEpoch = freeze({ pub, kid, from: env.at });
  const record: DeviceRecord = freeze({
    id: dev,
    model,
    status,
    enrolledBy,
    since: env.at,
    keys: freeze([key]),
  });
  env.d.devices = env.d.devices.set(dev, record);
  env.effects.push({ type: 'device.enrolled', dev, status });
}

/** Closes the open key epoch at `at` (rotation or revocation): later signatures do not verify. */
function closeKeys(keys: readonly KeyEpoch[], at: Stamp): KeyEpoch[] {
  return keys.map((k) => (k.until === undefined ? freeze({ ...k, until: at }) : k));
}

export const deviceRules: Pick<
  RuleTable,
  'device.enrol' | 'device.approve' | 'device.revoke' | 'device.rotate'
> = {
  'device.enrol': (env) => {
    const { dev, pub, model } = env.tx.body;
    assertNewDevice(env, dev, 'body.dev');
    addDevice(env, dev, pub, model, 'active', env.tx.actor);
  },

  'device.approve': (env) => {
    const device = requireDevice(env.d, env.tx.body.dev);
    if (device.status !== 'pending') {
      throw refuse(
        StateErrorCode.DEVICE_NOT_PENDING,
        `device ${device.id} is ${device.status}, not pending`,
        {
          field: 'body.dev',
          got: device.status,
        },
      );
    }
    env.d.devices = env.d.devices.set(device.id, freeze({ ...device, status: 'active' }));
    env.effects.push({ type: 'device.approved', dev: device.id });
  },

  'device.revoke': (env) => {
    const device = requireDevice(env.d, env.tx.body.dev);
    if (device.status === 'revoked') {
      throw refuse(StateErrorCode.DEVICE_REVOKED, `device ${device.id} is already revoked`, {
        field: 'body.dev',
      });
    }
    const revoked: DeviceRecord = freeze({
      ...device,
      status: 'revoked',
      revoked: env.at,
      keys: freeze(closeKeys(device.keys, env.at)),
    });
    env.d.devices = env.d.devices.set(device.id, revoked);
    env.effects.push({ type: 'device.revoked', dev: device.id });
  },

  // DESIGN §4: rotate key "signed by old and new key". The envelope was verified with the
  // current (old) key; the proof must be signed by the new key and name the old kid.
  'device.rotate': (env) => {
    const device = requireDevice(env.d, env.actor.id, 'actor');
    const current = device.keys[device.keys.length - 1]!;
    const { pub, proof: proofBytes } = env.tx.body;
    const { cose, proof } = decodeRotateProofCose(proofBytes);
    verifyInner(env, cose, pub);
    if (proof.dev !== device.id || hex(proof.old) !== current.kid || !equalBytes(proof.pub, pub)) {
      throw refuse(
        StateErrorCode.ROTATE_MISMATCH,
        'the rotation proof names another device, old key or new key',
        {
          field: 'body.proof',
        },
      );
    }
    const kid = claimKey(env.d, pub, device.id, env.checkKey);
    const keys = [...closeKeys(device.keys, env.at), freeze({ pub, kid, from: env.at })];
    env.d.devices = env.d.devices.set(device.id, freeze({ ...device, keys: freeze(keys) }));
    env.effects.push({ type: 'device.rotated', dev: device.id, kid });
  },
};

/**
 * `device.enrol.self` (DESIGN §3 (b)): the request is signed by the device's new key, and its
 * `att` is a COSE_Sign1 by a registered vendor, allowed for the model, over the same dev, pub
 * and model. The model's policy decides between active and pending. A device id is enrolled
 * once: replaying the request later finds the id taken.
 */
export function applySelfEnrol(env: RuleEnv, request: EnrolRequest, cose: CoseSign1): void {
  verifyInner(env, cose, request.pub);
  assertNewDevice(env, request.dev, 'dev');
  const att = decodeAttestationCose(request.att);
  const holder = env.d.kids.get(hex(att.cose.kid));
  const vendor = holder?.startsWith('vendor:')
    ? env.d.vendors.get(holder.slice('vendor:'.length))
    : undefined;
  if (vendor === undefined) {
    throw refuse(StateErrorCode.UNKNOWN_VENDOR, 'the attestation is not signed by a registered vendor', {
      field: 'att',
    });
  }
  if (!vendor.models.includes(request.model)) {
    throw refuse(StateErrorCode.VENDOR_MODEL, `vendor ${vendor.id} may not attest model ${request.model}`, {
      field: 'model',
      got: request.model,
    });
  }
  verifyInner(env, att.cose, vendor.pub);
  const a = att.attestation;
  if (a.dev !== request.dev || a.model !== request.model || !equalBytes(a.pub, request.pub)) {
    throw refuse(StateErrorCode.ATTESTATION_MISMATCH, 'the attestation names another device, key or model', {
      field: 'att',
    });
  }
  const status: DeviceStatus = policyFor(env.d, request.model).enrolment === 'auto' ? 'active' : 'pending';
  addDevice(env, request.dev, request.pub, request.model, status, `vendor:${vendor.id}`);
}
