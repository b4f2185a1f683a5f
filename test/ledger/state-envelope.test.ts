import { describe, expect, it } from 'vitest';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, decodeCoseSign1, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { encodeAction } from '../../firmware-ts/protocol/tx/bodies.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { actorNonce } from '../../gateway/ledger/state/queries.js';
import { CHAIN, keyFor, World } from './state-harness.js';

const body = (dev: string) => ({ dev, pub: keyFor(dev).pub, model: 'm1' });

describe('envelope rules of every transaction', () => {
  it("refuses a signature by another key than the actor's (kid mismatch) and a forged signature", () => {
    const w = new World();
    w.refuse(
      w.sign('admin:a', 'device.enrol', body('d1'), { key: keyFor('admin:b') }),
      ProtocolErrorCode.COSE_KID_MISMATCH,
    );
    // Right kid, wrong signature bytes.
    const good = w.sign('admin:a', 'device.enrol', body('d1'));
    const forged = Uint8Array.from(good); // a copy (encodeCbor may return a Buffer, whose slice is a view)
    forged[forged.length - 1]! ^= 0x01;
    w.refuse(forged, ProtocolErrorCode.BAD_SIGNATURE);
    w.apply(good);
  });

  it('refuses a transaction for another chain, even when signed with that chain as aad', () => {
    const w = new World();
    w.refuse(
      w.sign('admin:a', 'device.enrol', body('d1'), { chain: 'other-chain' }),
      StateErrorCode.WRONG_CHAIN,
    );
    // Envelope says this chain but the signature was made with another aad.
    const bytes = w.sign('admin:a', 'device.enrol', body('d1'));
    const cose = decodeCoseSign1(bytes);
    const wrongAad = signCoseSign1(cose.payload, keyFor('admin:a').signer, chainAad('other-chain'));
    w.refuse(wrongAad, ProtocolErrorCode.BAD_SIGNATURE);
    expect(CHAIN).toBe(w.state.chain);
  });

  it('refuses unknown actors of every kind', () => {
    const w = new World();
    w.refuse(w.sign('admin:zed', 'device.enrol', body('d1')), StateErrorCode.UNKNOWN_ACTOR);
    w.refuse(
      w.sign('vendor:nobody', 'firmware.release', { manifest: w.manifest() }),
      StateErrorCode.UNKNOWN_ACTOR,
    );
    w.refuse(
      w.sign('clinician:x', 'access.revoke', { clinician: 'x', devs: ['d1'] }),
      StateErrorCode.UNKNOWN_ACTOR,
    );
    w.refuse(
      w.sign('ghost', 'update.report', { rollout: new Uint8Array(32), state: 'downloading', seq: 1 }),
      StateErrorCode.UNKNOWN_ACTOR,
    );
  });

  it('refuses a replayed nonce (equal) and a stale one (lower) with different codes; gaps are fine', () => {
    const w = new World();
    const first = w.sign('admin:a', 'device.enrol', body('d1'), { nonce: 10 });
    w.apply(first);
    expect(actorNonce(w.state, 'admin:a')).toBe(10);
    w.refuse(first, StateErrorCode.NONCE_REPLAY);
    w.refuse(w.sign('admin:a', 'device.enrol', body('d2'), { nonce: 10 }), StateErrorCode.NONCE_REPLAY);
    w.refuse(w.sign('admin:a', 'device.enrol', body('d2'), { nonce: 3 }), StateErrorCode.NONCE_STALE);
    w.apply(w.sign('admin:a', 'device.enrol', body('d2'), { nonce: 1_700_000_000_123 }));
    expect(actorNonce(w.state, 'admin:a')).toBe(1_700_000_000_123);
    // Nonces are per actor: another admin starts from nothing.
    w.apply(w.sign('admin:b', 'device.enrol', body('d3'), { nonce: 0 }));
  });

  it('refuses a signer time more than 5 minutes ahead of the block', () => {
    const w = new World();
    const ctx = w.ctx;
    w.refuse(
      w.sign('admin:a', 'device.enrol', body('d1'), { t: ctx.time + 5 * 60_000 + 1 }),
      StateErrorCode.FROM_FUTURE,
      ctx,
    );
    w.apply(w.sign('admin:a', 'device.enrol', body('d1'), { t: ctx.time + 5 * 60_000 }), ctx);
  });

  it('refuses actor kinds a type does not allow: a clinician or a device approving', () => {
    const w = new World();
    w.enrol('d1');
    w.apply(w.sign('admin:a', 'clinician.register', { id: 'cl', pub: keyFor('clinician:cl').pub }));
    const proposal = new Uint8Array(32);
    w.refuse(w.sign('clinician:cl', 'proposal.approve', { proposal }), StateErrorCode.ACTOR_NOT_ALLOWED);
    w.refuse(w.sign('d1', 'proposal.approve', { proposal }), StateErrorCode.ACTOR_NOT_ALLOWED);
    w.refuse(w.sign('vendor:acme', 'proposal.approve', { proposal }), StateErrorCode.ACTOR_NOT_ALLOWED);
    w.refuse(
      w.sign('admin:a', 'update.report', { rollout: proposal, state: 'failed', seq: 1 }),
      StateErrorCode.ACTOR_NOT_ALLOWED,
    );
  });

  it('refuses threshold actions sent directly (they need a proposal)', () => {
    const w = new World();
    w.refuse(
      w.sign('admin:a', 'admin.add', { id: 'd', pub: keyFor('admin:d').pub }),
      StateErrorCode.NEEDS_PROPOSAL,
    );
    w.refuse(w.sign('admin:a', 'governance.set', { threshold: 1 }), StateErrorCode.NEEDS_PROPOSAL);
    w.refuse(
      w.sign('admin:a', 'vendor.register', { id: 'v', pub: keyFor('vendor:v').pub, models: ['x'] }),
      StateErrorCode.NEEDS_PROPOSAL,
    );
    expect(encodeAction({ type: 'governance.set', body: { threshold: 1 } }).get('type')).toBe(
      'governance.set',
    );
  });

  it('refuses a context that goes backwards, and a non-integer context', () => {
    const w = new World();
    w.enrol('d1');
    const bytes = w.sign('admin:a', 'device.enrol', body('d2'));
    w.refuse(bytes, StateErrorCode.BAD_CONTEXT, { height: w.height - 1, time: w.time });
    w.refuse(bytes, StateErrorCode.BAD_CONTEXT, { height: w.height, time: w.time - 1 });
    w.refuse(bytes, ProtocolErrorCode.BAD_ARGUMENT, { height: 1.5, time: w.time });
    // Same block (height and time unchanged) is fine: a block holds many transactions.
    w.apply(bytes, { height: w.height, time: w.time });
  });

  it('refuses bytes that are not a transaction with protocol codes', () => {
    const w = new World();
    w.refuse(new Uint8Array([1, 2, 3]), ProtocolErrorCode.COSE_MALFORMED);
    const notEnvelope = signCoseSign1(
      encodeCbor(new Map([['hello', 1]])),
      keyFor('admin:a').signer,
      chainAad(CHAIN),
    );
    w.refuse(notEnvelope, ProtocolErrorCode.UNKNOWN_FIELD);
  });
});
