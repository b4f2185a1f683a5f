import { describe, expect, it } from 'vitest';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { grantsOf, hasAccess } from '../../gateway/ledger/state/queries.js';
import { keyFor, World } from './state-harness.js';

function world(): World {
  const w = new World();
  w.enrol('d1');
  w.enrol('d2');
  w.apply(w.sign('admin:a', 'clinician.register', { id: 'cl', pub: keyFor('clinician:cl').pub }));
  return w;
}

describe('clinician.register', () => {
  it('registers a clinician once, with a key of their own', () => {
    const w = world();
    expect(w.state.clinicians.get('cl')?.pub).toEqual(keyFor('clinician:cl').pub);
    w.refuse(
      w.sign('admin:a', 'clinician.register', { id: 'cl', pub: keyFor('cl2').pub }),
      StateErrorCode.ALREADY_EXISTS,
    );
    w.refuse(
      w.sign('admin:a', 'clinician.register', { id: 'cl2', pub: keyFor('d1').pub }),
      StateErrorCode.KEY_IN_USE,
    );
  });
});

describe('access.grant / access.revoke', () => {
  it('grants and revokes per device, and answers hasAccess', () => {
    const w = world();
    const { effects } = w.apply(w.sign('admin:b', 'access.grant', { clinician: 'cl', devs: ['d2', 'd1'] }));
    expect(effects).toEqual([{ type: 'access.granted', clinician: 'cl', devs: ['d2', 'd1'] }]);
    expect(grantsOf(w.state, 'cl')).toEqual(['d1', 'd2']);
    expect(hasAccess(w.state, 'cl', 'd1')).toBe(true);
    w.apply(w.sign('admin:a', 'access.revoke', { clinician: 'cl', devs: ['d1'] }));
    expect(grantsOf(w.state, 'cl')).toEqual(['d2']);
    expect(hasAccess(w.state, 'cl', 'd1')).toBe(false);
    // Revoking a device ends access through an existing grant.
    w.apply(w.sign('admin:a', 'device.revoke', { dev: 'd2' }));
    expect(hasAccess(w.state, 'cl', 'd2')).toBe(false);
  });

  it("lets a clinician give up their own access, not someone else's", () => {
    const w = world();
    w.apply(w.sign('admin:a', 'clinician.register', { id: 'other', pub: keyFor('clinician:other').pub }));
    w.apply(w.sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['d1'] }));
    w.apply(w.sign('admin:a', 'access.grant', { clinician: 'other', devs: ['d1'] }));
    w.refuse(
      w.sign('clinician:cl', 'access.revoke', { clinician: 'other', devs: ['d1'] }),
      StateErrorCode.ACTOR_NOT_ALLOWED,
    );
    w.apply(w.sign('clinician:cl', 'access.revoke', { clinician: 'cl', devs: ['d1'] }));
    expect(grantsOf(w.state, 'cl')).toEqual([]);
    expect(w.state.grants.has('cl')).toBe(false);
    w.refuse(
      w.sign('clinician:cl', 'access.grant', { clinician: 'cl', devs: ['d2'] }),
      StateErrorCode.ACTOR_NOT_ALLOWED,
    );
  });

  it('refuses unknown clinicians and devices, revoked devices, double grants and missing grants', () => {
    const w = world();
    w.refuse(
      w.sign('admin:a', 'access.grant', { clinician: 'nobody', devs: ['d1'] }),
      StateErrorCode.UNKNOWN_CLINICIAN,
    );
    const unknown = w.refuse(
      w.sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['d1', 'dx'] }),
      StateErrorCode.UNKNOWN_DEVICE,
    );
    expect(unknown.field).toBe('body.devs[1]');
    w.apply(w.sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['d1'] }));
    w.refuse(
      w.sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['d2', 'd1'] }),
      StateErrorCode.ALREADY_GRANTED,
    );
    w.refuse(
      w.sign('admin:a', 'access.revoke', { clinician: 'cl', devs: ['d2'] }),
      StateErrorCode.NOT_GRANTED,
    );
    w.refuse(
      w.sign('admin:a', 'access.revoke', { clinician: 'nobody', devs: ['d2'] }),
      StateErrorCode.UNKNOWN_CLINICIAN,
    );
    w.apply(w.sign('admin:a', 'device.revoke', { dev: 'd2' }));
    w.refuse(
      w.sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['d2'] }),
      StateErrorCode.DEVICE_REVOKED,
    );
  });
});
