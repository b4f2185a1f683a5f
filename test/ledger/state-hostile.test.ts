/**
 * Malformed and hostile ledger entries only (sigstore-js style): every one is refused with a
 * coded MedgateError, and the state is left exactly as it was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { chainAad, signCoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { encodeBody } from '../../firmware-ts/protocol/tx/bodies.js';
import { TX_MAX_BYTES } from '../../firmware-ts/protocol/tx/sign.js';
import { ACTION_TYPES, type EnvelopeType, TX_TYPES } from '../../firmware-ts/protocol/tx/types.js';
import { encodeState } from '../../gateway/ledger/state/encode.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { CHAIN, keyFor, testGenesis, World } from './state-harness.js';
import { SAMPLE_BODIES } from './tx-samples.js';

/** A world with something in every collection, so junk can hit real records. */
function busyWorld(): World {
  const w = new World();
  w.enrol('dev-1');
  w.enrol('dev-2');
  w.apply(w.sign('admin:a', 'clinician.register', { id: 'cl', pub: keyFor('clinician:cl').pub }));
  w.apply(w.sign('admin:a', 'access.grant', { clinician: 'cl', devs: ['dev-1'] }));
  const release = w.release();
  w.propose('admin:a', {
    type: 'rollout.authorize',
    body: {
      manifest: release,
      model: 'm1',
      target: { devs: ['dev-1'] },
      notBefore: 0,
      expires: 4_000_000_000_000,
      waves: [1],
      maxFailures: 1,
    },
  });
  return w;
}

/**
 * Applies `bytes` to w.state (without advancing the world): it must either succeed or be
 * refused with a code. Callers check with `unchanged` that no attempt altered the state.
 */
function expectCodedOrApplied(w: World, bytes: Uint8Array): 'applied' | string {
  try {
    w.sm.apply(w.state, bytes, w.ctx);
    return 'applied';
  } catch (err) {
    if (!(err instanceof MedgateError)) throw err;
    expect(err.code).toMatch(/^MG_ERR_[A-Z0-9_]+$/);
    return err.code;
  }
}

/** Runs `attempts` and checks that the state object and its canonical bytes did not change. */
function unchanged(w: World, attempts: () => void): void {
  const before = w.state;
  const encoded = encodeState(before);
  attempts();
  expect(w.state).toBe(before);
  expect(encodeState(before)).toEqual(encoded);
}

const cborValue = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.maxSafeNat(),
    // CBOR v1 has no integers beyond ±(2^53-1); fast-check's doubles include some.
    fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .filter((d) => !Number.isInteger(d) || Number.isSafeInteger(d)),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('admin:a', 'dev-1', CHAIN, 'cl', 'm1', '*', 'all', 'failed', 'rollout.authorize'),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 4 }),
    fc
      .dictionary(fc.string({ maxLength: 10 }), tie('v'), { maxKeys: 5 })
      .map((o) => new Map<string, unknown>(Object.entries(o))),
  ),
})).v;

const ALL_TYPES: readonly EnvelopeType[] = [...TX_TYPES, ...ACTION_TYPES];

describe('hostile ledger entries', () => {
  const w = busyWorld();

  it('refuses arbitrary bytes with protocol codes', () => {
    unchanged(w, () =>
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(expectCodedOrApplied(w, bytes)).not.toBe('applied');
        }),
        { numRuns: 300 },
      ),
    );
  });

  it('refuses any CBOR payload correctly signed by an admin, unless it is a valid transaction', () => {
    unchanged(w, () =>
      fc.assert(
        fc.property(cborValue, (value) => {
          const bytes = signCoseSign1(encodeCbor(value), keyFor('admin:a').signer, chainAad(CHAIN));
          expect(expectCodedOrApplied(w, bytes)).not.toBe('applied');
        }),
        { numRuns: 300 },
      ),
    );
  });

  it('refuses junk bodies of every type in a valid envelope (decoders bound every field)', () => {
    const keyOf = (type: EnvelopeType) => [...encodeBody(type, SAMPLE_BODIES[type] as never).keys()];
    const junk = fc.constantFrom(...ALL_TYPES).chain((type) =>
      fc.tuple(
        fc.constant(type),
        fc
          .array(
            fc.tuple(fc.oneof(fc.constantFrom(...keyOf(type)), fc.string({ maxLength: 6 })), cborValue),
            {
              maxLength: 8,
            },
          )
          .map((pairs) => new Map(pairs)),
        fc.constantFrom('admin:a', 'admin:b', 'dev-1', 'vendor:acme', 'clinician:cl'),
      ),
    );
    const codes = new Set<string>();
    unchanged(w, () =>
      fc.assert(
        fc.property(junk, ([type, body, actor]) => {
          const payload = encodeCbor(
            new Map<string, unknown>([
              ['type', type],
              ['chain', CHAIN],
              ['actor', actor],
              ['nonce', 1_000_000],
              ['t', w.time],
              ['body', body],
            ]),
          );
          codes.add(expectCodedOrApplied(w, signCoseSign1(payload, keyFor(actor).signer, chainAad(CHAIN))));
        }),
        { numRuns: 400 },
      ),
    );
    expect(codes.has(ProtocolErrorCode.BAD_FIELD) || codes.has(ProtocolErrorCode.MISSING_FIELD)).toBe(true);
  });

  it('refuses every single-bit flip of valid entries (signature, header or payload)', () => {
    const samples = [
      w.sign('admin:a', 'device.enrol', { dev: 'dev-9', pub: keyFor('dev-9').pub, model: 'm1' }),
      w.selfEnrolRequest('dev-8', 'm2'),
      w.sign('admin:b', 'access.grant', { clinician: 'cl', devs: ['dev-2'] }),
    ];
    unchanged(w, () => {
      for (const good of samples) {
        for (let i = 0; i < good.length; i++) {
          const bad = Uint8Array.from(good);
          bad[i]! ^= 1 << (i % 8);
          expect(expectCodedOrApplied(w, bad), `byte ${i}`).not.toBe('applied');
        }
        expect(expectCodedOrApplied(w, good)).toBe('applied');
      }
    });
  });

  it('refuses oversized and deeply nested entries before parsing them', () => {
    expect(expectCodedOrApplied(w, new Uint8Array(TX_MAX_BYTES + 1))).toBe(ProtocolErrorCode.COSE_MALFORMED);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const nested = signCoseSign1(encodeCbor(deep), keyFor('admin:a').signer, chainAad(CHAIN));
    expect(expectCodedOrApplied(w, nested)).toBe(ProtocolErrorCode.CBOR_TOO_DEEP);
  });
});

describe('the hostile cases named by the design, each with its code and no change', () => {
  it('bad signature, wrong chain, replayed nonce, unknown actor', () => {
    const w = new World();
    const good = w.sign('admin:a', 'device.enrol', { dev: 'd1', pub: keyFor('d1').pub, model: 'm1' });
    const forged = Uint8Array.from(good);
    forged[forged.length - 5]! ^= 0x10;
    w.refuse(forged, ProtocolErrorCode.BAD_SIGNATURE);
    w.refuse(
      w.sign('admin:a', 'device.approve', { dev: 'd1' }, { chain: 'elsewhere' }),
      StateErrorCode.WRONG_CHAIN,
    );
    w.apply(good);
    w.refuse(good, StateErrorCode.NONCE_REPLAY);
    w.refuse(w.sign('admin:eve', 'device.revoke', { dev: 'd1' }), StateErrorCode.UNKNOWN_ACTOR);
  });

  it('approval by a non-admin, the same admin twice, an expired proposal, a removed admin', () => {
    const w = new World(testGenesis());
    w.apply(w.sign('admin:a', 'clinician.register', { id: 'cl', pub: keyFor('clinician:cl').pub }));
    w.enrol('d1');
    const add = (id: string) => ({
      type: 'admin.add' as const,
      body: { id, pub: keyFor(`admin:${id}`).pub },
    });
    const { id } = w.propose('admin:a', add('d'));
    w.refuse(w.approveTx('clinician:cl', id), StateErrorCode.ACTOR_NOT_ALLOWED);
    w.refuse(w.approveTx('d1', id), StateErrorCode.ACTOR_NOT_ALLOWED);
    w.refuse(w.approveTx('admin:a', id), StateErrorCode.DUPLICATE_APPROVAL);
    const short = w.propose('admin:a', add('e'), w.time + 1001).id;
    w.refuse(w.approveTx('admin:b', short), StateErrorCode.PROPOSAL_EXPIRED, {
      height: w.height + 1,
      time: w.time + 1001,
    });
    // a is removed by b and c; a's approval of `id` then no longer counts.
    w.govern({ type: 'admin.remove', body: { id: 'a' } }, ['admin:b', 'admin:c']);
    w.approve('admin:b', id);
    expect(w.state.admins.has('d')).toBe(false);
    w.refuse(w.approveTx('admin:a', id), StateErrorCode.UNKNOWN_ACTOR);
  });
});
