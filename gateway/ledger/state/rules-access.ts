/**
 * Clinicians and their access to devices' readings (DESIGN §1, §4). Grants are explicit per
 * device; each grant or revoke must change something, so the ledger never holds no-op entries.
 */
import { claimKey, freeze, type RuleEnv, type RuleTable, requireDevice } from './common.js';
import { refuse, StateErrorCode } from './errors.js';
import { PMap } from './pmap.js';
import type { ClinicianRecord, Grant } from './state.js';

function requireClinician(env: RuleEnv, id: string): ClinicianRecord {
  const clinician = env.d.clinicians.get(id);
  if (clinician === undefined) {
    throw refuse(StateErrorCode.UNKNOWN_CLINICIAN, `no clinician ${id}`, {
      field: 'body.clinician',
      got: id,
    });
  }
  return clinician;
}

export const accessRules: Pick<RuleTable, 'clinician.register' | 'access.grant' | 'access.revoke'> = {
  'clinician.register': (env) => {
    const { id, pub } = env.tx.body;
    if (env.d.clinicians.has(id)) {
      throw refuse(StateErrorCode.ALREADY_EXISTS, `clinician ${id} is already registered`, {
        field: 'body.id',
      });
    }
    const kid = claimKey(env.d, pub, `clinician:${id}`, env.checkKey);
    env.d.clinicians = env.d.clinicians.set(id, freeze({ id, pub, kid, since: env.at }));
    env.effects.push({ type: 'clinician.registered', id });
  },

  'access.grant': (env) => {
    const { clinician, devs } = env.tx.body;
    requireClinician(env, clinician);
    let grants = env.d.grants.get(clinician) ?? PMap.empty<Grant>();
    devs.forEach((dev, i) => {
      const field = `body.devs[${i}]`;
      const device = requireDevice(env.d, dev, field);
      if (device.status === 'revoked') {
        throw refuse(StateErrorCode.DEVICE_REVOKED, `device ${dev} is revoked`, { field });
      }
      if (grants.has(dev)) {
        throw refuse(StateErrorCode.ALREADY_GRANTED, `clinician ${clinician} already has access to ${dev}`, {
          field,
        });
      }
      grants = grants.set(dev, freeze({ since: env.at }));
    });
    env.d.grants = env.d.grants.set(clinician, grants);
    env.effects.push({ type: 'access.granted', clinician, devs });
  },

  // An admin, or the clinician giving up their own access.
  'access.revoke': (env) => {
    const { clinician, devs } = env.tx.body;
    if (env.actor.kind === 'clinician' && env.actor.id !== clinician) {
      throw refuse(StateErrorCode.ACTOR_NOT_ALLOWED, 'a clinician may revoke only their own access', {
        field: 'body.clinician',
      });
    }
    requireClinician(env, clinician);
    let grants = env.d.grants.get(clinician) ?? PMap.empty<Grant>();
    devs.forEach((dev, i) => {
      if (!grants.has(dev)) {
        throw refuse(StateErrorCode.NOT_GRANTED, `clinician ${clinician} has no access to ${dev}`, {
          field: `body.devs[${i}]`,
        });
      }
      grants = grants.delete(dev);
    });
    env.d.grants = grants.size === 0 ? env.d.grants.delete(clinician) : env.d.grants.set(clinician, grants);
    env.effects.push({ type: 'access.revoked', clinician, devs });
  },
};
