/** One valid body per envelope type, for codec round trips and junk generation. */
import type { EnvelopeType, TxBodies } from '../../firmware-ts/protocol/tx/types.js';

const pub = new Uint8Array(32).fill(7);
const id32 = new Uint8Array(32).fill(9);

export const SAMPLE_BODIES: { readonly [K in EnvelopeType]: TxBodies[K] } = {
  'device.enrol': { dev: 'dev-1', pub, model: 'm1' },
  'device.approve': { dev: 'dev-1' },
  'device.revoke': { dev: 'dev-1', reason: 'stolen' },
  'device.rotate': { pub, proof: new Uint8Array([0xd2, 0x84]) },
  'clinician.register': { id: 'cl', pub },
  'access.grant': { clinician: 'cl', devs: ['dev-1', 'dev-2'] },
  'access.revoke': { clinician: 'cl', devs: ['dev-1'] },
  'firmware.release': { manifest: new Uint8Array([1, 2, 3]) },
  'proposal.create': {
    action: { type: 'governance.set', body: { threshold: 2 } },
    expires: 1_700_000_000_000,
  },
  'proposal.approve': { proposal: id32 },
  'rollout.halt': { rollout: id32 },
  'update.report': { rollout: id32, state: 'failed', seq: 3, error: 'MG_ERR_BAD_DIGEST' },
  'admin.add': { id: 'd', pub },
  'admin.remove': { id: 'd' },
  'governance.set': { threshold: 3 },
  'vendor.register': { id: 'v', pub, models: ['m1', 'm2'] },
  'policy.set': {
    model: '*',
    policy: { approvals: 2, approvers: ['a', 'b'], enrolment: 'auto', maxWaveSize: 10, maxFailures: 1 },
  },
  'rollout.authorize': {
    manifest: id32,
    model: 'm1',
    target: { devs: ['dev-1', 'dev-2', 'dev-3'] },
    notBefore: 10,
    expires: 20,
    waves: [1, 2],
    maxFailures: 1,
  },
};
