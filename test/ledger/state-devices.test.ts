import { describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { currentKey, deviceOf, keyAt, keyValidAt } from '../../gateway/ledger/state/queries.js';
import { CHAIN, keyFor, testGenesis, World } from './state-harness.js';

// An encoding of a point of order 4 (y = 0): refused at enrolment (DESIGN §3).
const SMALL_ORDER = new Uint8Array(32);

describe('device.enrol (admin)', () => {
  it('enrols an active device with its key, model and who vouched for it', () => {
    const w = new World();
    const { effects } = w.enrol('dev-1', 'm1');
    const device = deviceOf(w.state, 'dev-1')!;
    expect(device.status).toBe('active');
    expect(device.model).toBe('m1');
    expect(device.enrolledBy).toBe('admin:a');
    expect(currentKey(w.state, 'dev-1')?.pub).toEqual(keyFor('dev-1').pub);
    expect(w.state.kids.get(toHex(keyFor('dev-1').kid))).toBe('dev-1');
    expect(effects).toEqual([{ type: 'device.enrolled', dev: 'dev-1', status: 'active' }]);
    expect(w.state.nonces.get('admin:a')).toBe(1);
  });

  it('refuses an id that exists (even revoked), a key in use, and bad keys', () => {
    const w = new World();
    w.enrol('dev-1');
    w.refuse(
      w.sign('admin:a', 'device.enrol', { dev: 'dev-1', pub: keyFor('x').pub, model: 'm1' }),
      StateErrorCode.DEVICE_EXISTS,
    );
    w.refuse(
      w.sign('admin:a', 'device.enrol', { dev: 'dev-2', pub: keyFor('dev-1').pub, model: 'm1' }),
      StateErrorCode.KEY_IN_USE,
    );
    w.refuse(
      w.sign('admin:a', 'device.enrol', { dev: 'dev-2', pub: keyFor('admin:b').pub, model: 'm1' }),
      StateErrorCode.KEY_IN_USE,
    );
    w.refuse(
      w.sign('admin:a', 'device.enrol', { dev: 'dev-2', pub: SMALL_ORDER, model: 'm1' }),
      ProtocolErrorCode.SMALL_ORDER_KEY,
    );
    w.apply(w.sign('admin:a', 'device.revoke', { dev: 'dev-1' }));
    w.refuse(
      w.sign('admin:a', 'device.enrol', { dev: 'dev-1', pub: keyFor('y').pub, model: 'm1' }),
      StateErrorCode.DEVICE_EXISTS,
    );
  });

  it('is signed by admins only', () => {
    const w = new World();
    w.enrol('dev-1');
    w.refuse(
      w.sign('dev-1', 'device.enrol', { dev: 'dev-2', pub: keyFor('dev-2').pub, model: 'm1' }),
      StateErrorCode.ACTOR_NOT_ALLOWED,
    );
  });
});

describe('device.approve and device.revoke', () => {
  it('approves a pending device only', () => {
    const w = new World();
    w.apply(w.selfEnrolRequest('dev-p', 'm1'));
    expect(deviceOf(w.state, 'dev-p')?.status).toBe('pending');
    const { effects } = w.apply(w.sign('admin:b', 'device.approve', { dev: 'dev-p' }));
    expect(effects).toEqual([{ type: 'device.approved', dev: 'dev-p' }]);
    expect(deviceOf(w.state, 'dev-p')?.status).toBe('active');
    w.refuse(w.sign('admin:b', 'device.approve', { dev: 'dev-p' }), StateErrorCode.DEVICE_NOT_PENDING);
    w.refuse(w.sign('admin:b', 'device.approve', { dev: 'nope' }), StateErrorCode.UNKNOWN_DEVICE);
  });

  it('revokes once, closes the key epoch, and the device can no longer sign', () => {
    const w = new World();
    w.enrol('dev-1');
    const enrolledAt = { height: w.height, time: w.time };
    const { effects } = w.apply(w.sign('admin:a', 'device.revoke', { dev: 'dev-1', reason: 'lost' }));
    expect(effects).toEqual([{ type: 'device.revoked', dev: 'dev-1' }]);
    const device = deviceOf(w.state, 'dev-1')!;
    expect(device.status).toBe('revoked');
    expect(device.revoked).toEqual({ height: w.height, time: w.time });
    expect(currentKey(w.state, 'dev-1')).toBeUndefined();
    const epoch = keyAt(w.state, 'dev-1', keyFor('dev-1').kid)!;
    expect(epoch.until).toEqual({ height: w.height, time: w.time });
    expect(keyValidAt(epoch, enrolledAt)).toBe(true);
    expect(keyValidAt(epoch, { height: w.height, time: w.time })).toBe(false);
    w.refuse(w.sign('admin:a', 'device.revoke', { dev: 'dev-1' }), StateErrorCode.DEVICE_REVOKED);
    w.refuse(w.sign('admin:a', 'device.revoke', { dev: 'dev-9' }), StateErrorCode.UNKNOWN_DEVICE);
    const pub = keyFor('dev-1b').pub;
    w.refuse(
      w.sign('dev-1', 'device.rotate', { pub, proof: w.rotateProof('dev-1', keyFor('dev-1b')) }),
      StateErrorCode.DEVICE_REVOKED,
    );
  });
});

describe('device.rotate (signed by the old and the new key)', () => {
  it('rotates, keeps the history with validity intervals, and the old key stops signing', () => {
    const w = new World();
    w.enrol('dev-1');
    const before = { height: w.height, time: w.time };
    const next = keyFor('dev-1#2');
    const { effects } = w.apply(
      w.sign('dev-1', 'device.rotate', { pub: next.pub, proof: w.rotateProof('dev-1', next) }),
    );
    const rotatedAt = { height: w.height, time: w.time };
    expect(effects).toEqual([{ type: 'device.rotated', dev: 'dev-1', kid: toHex(next.kid) }]);
    const device = deviceOf(w.state, 'dev-1')!;
    expect(device.keys).toHaveLength(2);
    const old = keyAt(w.state, 'dev-1', keyFor('dev-1').kid)!;
    const cur = keyAt(w.state, 'dev-1', toHex(next.kid))!;
    expect(old.until).toEqual(rotatedAt);
    expect(cur.from).toEqual(rotatedAt);
    expect(cur.until).toBeUndefined();
    expect(currentKey(w.state, 'dev-1')?.pub).toEqual(next.pub);
    // A reading signed before the rotation verifies with the old key of its time.
    expect(keyValidAt(old, before)).toBe(true);
    expect(keyValidAt(cur, before)).toBe(false);
    expect(keyValidAt(cur, rotatedAt)).toBe(true);
    // The old key no longer signs for the device.
    const stale = w.sign('dev-1', 'device.rotate', {
      pub: keyFor('k3').pub,
      proof: w.rotateProof('dev-1', keyFor('k3')),
    });
    w.refuse(stale, ProtocolErrorCode.COSE_KID_MISMATCH);
    w.setKey('dev-1', next);
    const k3 = keyFor('k3');
    w.apply(w.sign('dev-1', 'device.rotate', { pub: k3.pub, proof: w.rotateProof('dev-1', k3) }));
    expect(deviceOf(w.state, 'dev-1')!.keys).toHaveLength(3);
  });

  it('refuses a proof not signed by the new key, or naming another device, old kid or key', () => {
    const w = new World();
    w.enrol('dev-1');
    w.enrol('dev-2');
    const next = keyFor('dev-1#2');
    const other = keyFor('other');
    // Proof signed by a different key than the one announced.
    const wrongSigner = w.rotateProof('dev-1', other, { pub: next.pub });
    w.refuse(
      w.sign('dev-1', 'device.rotate', { pub: next.pub, proof: wrongSigner }),
      ProtocolErrorCode.COSE_KID_MISMATCH,
    );
    w.refuse(
      w.sign('dev-1', 'device.rotate', {
        pub: next.pub,
        proof: w.rotateProof('dev-1', next, { dev: 'dev-2' }),
      }),
      StateErrorCode.ROTATE_MISMATCH,
    );
    w.refuse(
      w.sign('dev-1', 'device.rotate', {
        pub: next.pub,
        proof: w.rotateProof('dev-1', next, { old: keyFor('dev-2').kid }),
      }),
      StateErrorCode.ROTATE_MISMATCH,
    );
    // The new key must not belong to anyone else.
    const dev2 = keyFor('dev-2');
    w.refuse(
      w.sign('dev-1', 'device.rotate', { pub: dev2.pub, proof: w.rotateProof('dev-1', dev2) }),
      StateErrorCode.KEY_IN_USE,
    );
  });
});

describe("device.enrol.self (the device's own request with a vendor attestation)", () => {
  it('enrols at once when the model policy says auto, pending when it says approval', () => {
    const w = new World();
    const auto = w.apply(w.selfEnrolRequest('dev-a', 'm2'));
    expect(auto.type).toBe('device.enrol.self');
    expect(auto.actor).toBe('dev-a');
    expect(auto.effects).toEqual([{ type: 'device.enrolled', dev: 'dev-a', status: 'active' }]);
    expect(deviceOf(w.state, 'dev-a')?.enrolledBy).toBe('vendor:acme');
    w.apply(w.selfEnrolRequest('dev-b', 'm1'));
    expect(deviceOf(w.state, 'dev-b')?.status).toBe('pending');
    // A pending device cannot sign transactions yet.
    const k = keyFor('dev-b2');
    w.refuse(
      w.sign('dev-b', 'device.rotate', { pub: k.pub, proof: w.rotateProof('dev-b', k) }),
      StateErrorCode.DEVICE_NOT_ACTIVE,
    );
  });

  it('enrols a device id once: the same request replayed is refused', () => {
    const w = new World();
    const request = w.selfEnrolRequest('dev-a', 'm2');
    w.apply(request);
    w.refuse(request, StateErrorCode.DEVICE_EXISTS);
  });

  it('refuses attestations by no vendor, for another model, or naming another device, key or model', () => {
    const w = new World(
      testGenesis({
        vendors: [
          { id: 'acme', pub: keyFor('vendor:acme').pub, models: ['m1', 'm2'] },
          { id: 'zeta', pub: keyFor('vendor:zeta').pub, models: ['z1'] },
        ],
      }),
    );
    w.refuse(w.selfEnrolRequest('d1', 'm1', { vendor: 'vendor:rogue' }), StateErrorCode.UNKNOWN_VENDOR);
    w.refuse(w.selfEnrolRequest('d1', 'm1', { vendor: 'admin:a' }), StateErrorCode.UNKNOWN_VENDOR);
    w.refuse(w.selfEnrolRequest('d1', 'm1', { vendor: 'vendor:zeta' }), StateErrorCode.VENDOR_MODEL);
    w.refuse(w.selfEnrolRequest('d1', 'm1', { attDev: 'd2' }), StateErrorCode.ATTESTATION_MISMATCH);
    w.refuse(w.selfEnrolRequest('d1', 'm1', { attModel: 'm2' }), StateErrorCode.ATTESTATION_MISMATCH);
    w.refuse(
      w.selfEnrolRequest('d1', 'm1', { attPub: keyFor('zz').pub }),
      StateErrorCode.ATTESTATION_MISMATCH,
    );
    w.refuse(w.selfEnrolRequest('d1', 'm1', { t: w.time + 3_600_000 }), StateErrorCode.FROM_FUTURE);
  });

  it('refuses a request signed for another chain (external_aad)', () => {
    const w = new World();
    w.refuse(w.selfEnrolRequest('d1', 'm2', { chain: `${CHAIN}-other` }), ProtocolErrorCode.BAD_SIGNATURE);
  });
});
