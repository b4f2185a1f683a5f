/**
 * Fuzzing every transaction type through the ledger's state machine (issue 7 "Fuzzing";
 * DESIGN §4: `apply(state, tx)` is pure and holds every rule).
 *
 * A world with something in every collection (devices pending, active and granted, a
 * clinician, a release, an open proposal, an executed rollout) and one valid signed entry per
 * type: every direct transaction, a proposal for every threshold action, an approval and a
 * device's self-enrolment. Each is then:
 *   - edited as bytes (flips, truncation, extension, splices): the signature or COSE layer;
 *   - mutated as a decoded payload and signed again by its actor: well-formed, correctly signed
 *     transactions of the wrong shape or with wrong values, which reach the body decoders and
 *     the rules;
 *   - signed by another actor's key;
 *   - applied in random sequences from the world, so each rule also meets states that earlier
 *     entries changed (rotated keys, revoked devices, executed proposals, ...).
 * The property: `apply` returns a new state or throws a MedgateError with a code in the code
 * enums; and the state it was given is unchanged either way (same canonical encoding).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, decodeCoseSign1, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { type RolloutAuthorizeBody, SELF_ENROL_TYPE } from '../../firmware-ts/protocol/tx/types.js';
import { encodeState } from '../../gateway/ledger/state/encode.js';
import type { State } from '../../gateway/ledger/state/state.js';
import { CHAIN, fromHexId, keyFor, type TestKey, World } from '../ledger/state-harness.js';
import {
  ALL_CODES,
  applyByteEdits,
  applyTreeEdits,
  byteEdits,
  fuzzRuns,
  outcome,
  params,
  treeEdits,
  tryEncode,
} from './fuzz-support.js';

interface Sample {
  readonly type: string;
  readonly actor: string;
  readonly key: TestKey;
  readonly bytes: Uint8Array;
}

/** The world, and one valid entry per type that applies to it. */
function setup(): { w: World; samples: Sample[] } {
  const w = new World();
  w.enrol('dev-1');
  w.enrol('dev-2');
  w.apply(w.sign('admin:a', 'clinician.register', { id: 'cl', pub: keyFor('clinician:cl').pub }));
  w.apply(w.sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['dev-1'] }));
  w.apply(w.selfEnrolRequest('dev-p', 'm1')); // m1 needs an admin's approval: pending
  const release = w.release({ seq: 2 });
  const rollout: RolloutAuthorizeBody = {
    manifest: release,
    model: 'm1',
    target: { devs: ['dev-1', 'dev-2'] },
    notBefore: 0,
    expires: 4_000_000_000_000,
    waves: [1, 1],
    maxFailures: 1,
  };
  const rolloutId = w.govern({ type: 'rollout.authorize', body: rollout });
  const open = w.propose('admin:a', { type: 'governance.set', body: { threshold: 3 } }).id;

  const samples: Sample[] = [];
  const add = (type: string, actor: string, bytes: Uint8Array, key = w.key(actor)) =>
    samples.push({ type, actor, key, bytes });
  const sign = <K extends Parameters<World['sign']>[1]>(
    actor: string,
    type: K,
    body: Parameters<World['sign']>[2] & object,
  ) => add(type, actor, w.sign(actor, type, body as never));
  const propose = (action: Parameters<World['proposeTx']>[1]) =>
    add(`proposal.create(${action.type})`, 'admin:a', w.proposeTx('admin:a', action));

  sign('admin:a', 'device.enrol', { dev: 'dev-9', pub: keyFor('dev-9').pub, model: 'm1' });
  sign('admin:a', 'device.approve', { dev: 'dev-p' });
  sign('admin:b', 'device.revoke', { dev: 'dev-2', reason: 'lost' });
  const next = keyFor('dev-1-next');
  sign('dev-1', 'device.rotate', { pub: next.pub, proof: w.rotateProof('dev-1', next) });
  sign('admin:a', 'clinician.register', { id: 'cl2', pub: keyFor('clinician:cl2').pub });
  sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['dev-2'] });
  sign('admin:a', 'access.revoke', { clinician: 'cl', devs: ['dev-1'] });
  sign('admin:a', 'firmware.release', { manifest: w.manifest({ seq: 3 }) });
  sign('admin:b', 'proposal.approve', { proposal: fromHexId(open) });
  sign('admin:a', 'rollout.halt', { rollout: fromHexId(rolloutId), reason: 'fuzz' });
  sign('dev-1', 'update.report', { rollout: fromHexId(rolloutId), state: 'downloading', seq: 0 });
  propose({ type: 'admin.add', body: { id: 'd', pub: keyFor('admin:d').pub } });
  propose({ type: 'admin.remove', body: { id: 'c' } });
  propose({ type: 'governance.set', body: { threshold: 1 } });
  propose({ type: 'vendor.register', body: { id: 'zeta', pub: keyFor('vendor:zeta').pub, models: ['z1'] } });
  propose({
    type: 'policy.set',
    body: {
      model: 'm1',
      policy: { approvals: 1, approvers: ['a', 'b'], enrolment: 'auto', maxWaveSize: 5, maxFailures: 1 },
    },
  });
  propose({ type: 'rollout.authorize', body: { ...rollout, target: { cohort: 'all' } } });
  add(SELF_ENROL_TYPE, 'dev-s', w.selfEnrolRequest('dev-s', 'm2'));
  return { w, samples };
}

const { w, samples } = setup();
const base = w.state;
const baseEncoding = encodeState(base);
const AAD = chainAad(CHAIN);
/** Cases inside `npm test` (each costs an apply and a state encoding, a few ms). */
const SHORT_RUNS = 1600;

/** Canonical encodings of states already encoded (states are immutable values). */
const encodings = new WeakMap<State, Uint8Array>([[base, baseEncoding]]);
function encodingOf(state: State): Uint8Array {
  let bytes = encodings.get(state);
  if (bytes === undefined) {
    bytes = encodeState(state);
    encodings.set(state, bytes);
  }
  return bytes;
}

/** Applies `bytes` to `state`; returns the outcome and the next state (the same one if refused). */
function attempt(state: State, bytes: Uint8Array, ctx: { height: number; time: number }, what: string) {
  let next = state;
  const before = encodingOf(state);
  const result = outcome(
    () => {
      next = w.sm.apply(state, bytes, ctx).state;
    },
    ALL_CODES,
    what,
  );
  // Pure: the given state is untouched whether the entry was applied or refused.
  const after = encodeState(state);
  if (Buffer.compare(before, after) !== 0) throw new Error(`${what}: apply changed the state it was given`);
  return { result, next };
}

/** A sample's payload tree, and a way to sign a mutated one as its actor. */
const payloadOf = (s: Sample) => decodeCbor(decodeCoseSign1(s.bytes, 1 << 20).payload, { maxDepth: 64 });
const resign = (tree: unknown, key: TestKey): Uint8Array | undefined => {
  const payload = tryEncode(tree);
  return payload === undefined ? undefined : signCoseSign1(payload, key.signer, AAD);
};

describe('fuzz: every transaction type through the state machine', () => {
  it('has one valid entry per type, each applied by the world as it is', () => {
    expect(samples.map((s) => s.type)).toEqual(
      expect.arrayContaining([
        'device.enrol',
        'device.approve',
        'device.revoke',
        'device.rotate',
        'clinician.register',
        'access.grant',
        'access.revoke',
        'firmware.release',
        'proposal.approve',
        'rollout.halt',
        'update.report',
        'proposal.create(admin.add)',
        'proposal.create(admin.remove)',
        'proposal.create(governance.set)',
        'proposal.create(vendor.register)',
        'proposal.create(policy.set)',
        'proposal.create(rollout.authorize)',
        SELF_ENROL_TYPE,
      ]),
    );
    for (const s of samples) expect(attempt(base, s.bytes, w.ctx, s.type).result, s.type).toBe('ok');
    expect(encodeState(base)).toEqual(baseEncoding);
  });

  const runs = Math.ceil(fuzzRuns(SHORT_RUNS) / 4);
  const sample = fc.nat({ max: samples.length - 1 }).map((i) => samples[i] as Sample);

  it(`byte edits of valid entries (${runs} cases)`, () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(sample, byteEdits, (s, edits) => {
        codes.add(attempt(base, applyByteEdits(s.bytes, edits), w.ctx, s.type).result);
      }),
      params(runs),
    );
    expect(encodeState(base)).toEqual(baseEncoding);
    expect(codes.size).toBeGreaterThan(1);
  });

  it(`mutated payloads signed again by their actor (${runs} cases)`, () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(sample, treeEdits(), (s, edits) => {
        const bytes = resign(applyTreeEdits(payloadOf(s), edits), s.key);
        if (bytes !== undefined) codes.add(attempt(base, bytes, w.ctx, s.type).result);
      }),
      params(runs),
    );
    expect(encodeState(base)).toEqual(baseEncoding);
    // The mutations reach past the signature into the decoders and the rules.
    expect(codes.size).toBeGreaterThan(5);
  });

  it(`valid entries signed by another actor's key (${runs} cases)`, () => {
    const signers = [
      'admin:a',
      'admin:b',
      'admin:c',
      'dev-1',
      'dev-2',
      'vendor:acme',
      'clinician:cl',
      'stranger',
    ];
    const keys = signers.map((name) => keyFor(name));
    fc.assert(
      fc.property(sample, fc.constantFrom(...keys), (s, key) => {
        if (key.pub.every((b, i) => b === s.key.pub[i])) return;
        const bytes = resign(payloadOf(s), key) as Uint8Array;
        expect(attempt(base, bytes, w.ctx, s.type).result).not.toBe('ok');
      }),
      params(runs),
    );
  });

  it(`random sequences of valid and mutated entries (${runs} cases)`, () => {
    const step = fc.oneof(
      { weight: 3, arbitrary: fc.record({ s: sample, edits: fc.constant([]) }) },
      { weight: 2, arbitrary: fc.record({ s: sample, edits: treeEdits() }) },
    );
    let applied = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 4 }), (steps) => {
        let state = base;
        let ctx = w.ctx;
        for (const { s, edits } of steps) {
          const bytes = edits.length === 0 ? s.bytes : resign(applyTreeEdits(payloadOf(s), edits), s.key);
          if (bytes === undefined) continue;
          const { result, next } = attempt(state, bytes, ctx, s.type);
          if (result === 'ok') {
            applied++;
            state = next;
            ctx = { height: ctx.height + 1, time: ctx.time + 1000 };
          }
        }
      }),
      params(runs),
    );
    expect(encodeState(base)).toEqual(baseEncoding);
    expect(applied).toBeGreaterThan(0);
  });
});
