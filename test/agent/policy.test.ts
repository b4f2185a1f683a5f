/**
 * The ledger's per-model rollout policy, enforced on the device (DESIGN §4, §5): the trust bundle
 * carries the policies, and a rollout needs max(bundle threshold, policy approvals) distinct
 * bundle admins that the model's policy allows, the proposer counted only if allowed, exactly as
 * the ledger counts (gateway/ledger/state/rules-governance.ts countApprovals). Otherwise a
 * compromised gateway could install a proposal the ledger recorded but never executed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOffer } from '../../firmware-ts/agent/check-offer.js';
import { UpdateErrorCode } from '../../firmware-ts/agent/errors.js';
import { rolloutRequirement } from '../../firmware-ts/agent/trust.js';
import { decodeCbor, encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { decodeTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { PolicySetBody } from '../../firmware-ts/protocol/tx/types.js';
import {
  buildFactoryBundle,
  decodeBundle,
  decodeOffer,
  encodeBundle,
  signBundle,
  type TrustBundle,
} from '../../firmware-ts/protocol/update/index.js';
import { decodeGenesisBytes, encodeGenesis, genesisState } from '../../gateway/ledger/genesis.js';
import { countApprovals } from '../../gateway/ledger/state/rules-governance.js';
import type { Proposal } from '../../gateway/ledger/state/state.js';
import { propertyRuns } from '../support/runs.js';
import {
  CHAIN,
  DEVICE,
  device,
  FACTORY_SEQ,
  factoryBundle,
  genesis,
  type Key,
  keys,
  ledgerPolicy,
  MODEL,
  OLD,
  offer,
  onOldFirmware,
  policyBundle,
  release,
  T0,
} from './fixtures.js';

/** Runs the offer on a fresh device with `bundle`; returns the outcome and the device. */
async function run(bundle: TrustBundle, bytes: Uint8Array, image: Uint8Array) {
  const dev = await device({ bundle, image });
  return { outcome: await dev.agent.handleOffer(bytes), dev };
}

/** The count and requirement the device's check reports for `bytes` (BELOW_THRESHOLD's got/want). */
function shortfall(bundle: TrustBundle, bytes: Uint8Array): { got: unknown; want: unknown } {
  try {
    checkOffer(decodeOffer(bytes), {
      bundle,
      deviceId: DEVICE,
      model: MODEL,
      installedSeq: FACTORY_SEQ,
      newestBlockTime: 0,
      backend: nodeBackend,
    });
  } catch (err) {
    if (isMedgateError(err) && err.code === UpdateErrorCode.BELOW_THRESHOLD) {
      return { got: err.got, want: err.want };
    }
    throw err;
  }
  throw new Error('the offer passed the approval check');
}

describe('policies in the trust bundle', () => {
  it('the factory bundle takes the genesis policies; a bundle without them encodes as before', () => {
    const bundle = policyBundle(
      ledgerPolicy('wearable-v1', 3),
      ledgerPolicy('*', 2, ['carol', 'alice', 'bob']),
      ledgerPolicy('bp-cuff-v1', 1, ['bob']),
    );
    // Sorted by model, approvers sorted: one encoding whatever the order of the genesis config.
    expect(bundle.policies).toEqual([
      { model: '*', approvals: 2, approvers: ['alice', 'bob', 'carol'] },
      { model: 'bp-cuff-v1', approvals: 1, approvers: ['bob'] },
      { model: 'wearable-v1', approvals: 3 },
    ]);
    const reordered = policyBundle(
      ledgerPolicy('bp-cuff-v1', 1, ['bob']),
      ledgerPolicy('*', 2, ['alice', 'bob', 'carol']),
      ledgerPolicy('wearable-v1', 3),
    );
    expect(encodeBundle(reordered)).toEqual(encodeBundle(bundle));
    expect(decodeBundle(encodeBundle(bundle))).toEqual(bundle);

    // The gateway's own genesis encoding gives the same bundle.
    const config = { ...genesis, policies: [ledgerPolicy('*', 2), ledgerPolicy('wearable-v1', 3)] };
    expect(encodeBundle(policyBundle(...config.policies))).toEqual(
      encodeBundle(policyBundle(...decodeGenesisBytes(encodeGenesis(config)).policies)),
    );

    // An older bundle (no policies) has no `policies` key and still decodes: threshold alone.
    const old = factoryBundle();
    expect(old.policies).toBeUndefined();
    expect([...(decodeCbor(encodeBundle(old)) as Map<string, unknown>).keys()]).not.toContain('policies');
    expect(rolloutRequirement(old, MODEL)).toEqual({ required: 2, approvers: undefined, policy: undefined });
  });

  it('the model’s own policy applies, else the default one, never below the bundle threshold', () => {
    const bundle = policyBundle(
      ledgerPolicy('*', 1),
      ledgerPolicy('wearable-v1', 3, ['alice', 'bob', 'carol']),
    );
    expect(rolloutRequirement(bundle, MODEL)).toEqual({
      required: 3,
      approvers: ['alice', 'bob', 'carol'],
      policy: 'wearable-v1',
    });
    // '*' asks for 1: the bundle's threshold of 2 still applies.
    expect(rolloutRequirement(bundle, 'bp-cuff-v1')).toEqual({
      required: 2,
      approvers: undefined,
      policy: '*',
    });
  });

  it('decoding is strict: policies that the ledger could not hold are refused, each naming its field', () => {
    const b = factoryBundle();
    const bad: [TrustBundle, string][] = [
      [{ ...b, policies: [] }, 'policies'],
      [{ ...b, policies: [{ model: 'wearable-v1', approvals: 2 }] }, 'policies'], // no default
      [
        {
          ...b,
          policies: [
            { model: '*', approvals: 2 },
            { model: '*', approvals: 3 },
          ],
        },
        'policies[1].model',
      ],
      [
        { ...b, policies: [{ model: '*', approvals: 2, approvers: ['alice', 'mallory'] }] },
        'policies[0].approvers[1]',
      ],
      [
        { ...b, policies: [{ model: '*', approvals: 3, approvers: ['alice', 'bob'] }] },
        'policies[0].approvals',
      ],
      [{ ...b, policies: [{ model: '*', approvals: 4 }] }, 'policies[0].approvals'], // 3 admins
      [{ ...b, policies: [{ model: '*', approvals: 0 }] }, 'policies[0].approvals'],
      [{ ...b, policies: [{ model: '*', approvals: 1, approvers: [] }] }, 'policies[0].approvers'],
      [
        { ...b, policies: [{ model: '*', approvals: 1, approvers: ['bob', 'bob'] }] },
        'policies[0].approvers',
      ],
      [
        {
          ...b,
          policies: [
            { model: '*', approvals: 1 },
            { model: 'a b', approvals: 1 },
          ],
        },
        'policies[1].model',
      ],
    ];
    for (const [bundle, field] of bad) {
      expect(() => encodeBundle(bundle), field).toThrow(
        expect.objectContaining({ code: ProtocolErrorCode.BAD_ARGUMENT }),
      );
      // The same bytes from the wire: refused by the decoder with the field.
      const map = decodeCbor(encodeBundle(factoryBundle())) as Map<string, unknown>;
      map.set(
        'policies',
        (bundle.policies ?? []).map(
          (p) =>
            new Map<string, unknown>([
              ['model', p.model],
              ['approvals', p.approvals],
              ...(p.approvers === undefined ? [] : [['approvers', [...p.approvers]] as [string, unknown]]),
            ]),
        ),
      );
      expect(() => decodeBundle(encodeCbor(map)), field).toThrow(
        expect.objectContaining({ code: ProtocolErrorCode.BAD_FIELD, field }),
      );
    }
    const extra = decodeCbor(encodeBundle(policyBundle(ledgerPolicy('*', 2)))) as Map<string, unknown>;
    (extra.get('policies') as Map<string, unknown>[])[0]!.set('enrolment', 'auto');
    expect(() => decodeBundle(encodeCbor(extra))).toThrow(
      expect.objectContaining({ code: ProtocolErrorCode.UNKNOWN_FIELD, field: 'policies[0].enrolment' }),
    );
  });
});

describe('the device enforces the model’s policy on a rollout', () => {
  it('policy needs 3, the offer carries 2: refused below threshold (the bundle threshold alone would pass)', async () => {
    const rel = release();
    // alice proposes, bob approves: the ledger recorded both but, needing 3, never executed.
    const built = offer(rel, { approvers: [keys.bob] });
    const strict = policyBundle(ledgerPolicy('*', 2), ledgerPolicy(MODEL, 3));
    const { outcome, dev } = await run(strict, built.bytes, rel.image);
    expect(outcome).toEqual({ status: 'refused', code: UpdateErrorCode.BELOW_THRESHOLD, seq: FACTORY_SEQ });
    expect(await onOldFirmware(dev)).toEqual(OLD);
    expect(dev.server.requests).toEqual([]);
    expect(shortfall(strict, built.bytes)).toEqual({ got: 2, want: 3 });
    // The same offer against a bundle without policies: 2 of 3 is the threshold, it installs.
    expect((await run(factoryBundle(), built.bytes, rel.image)).outcome.status).toBe('confirmed');
    // Under the default '*' entry too, when the model has none of its own.
    const byDefault = policyBundle(ledgerPolicy('*', 3));
    expect((await run(byDefault, built.bytes, rel.image)).outcome.code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
  });

  it('the proposer is not counted when the policy does not list them', async () => {
    const rel = release();
    const bundle = policyBundle(ledgerPolicy('*', 2), ledgerPolicy(MODEL, 2, ['bob', 'carol']));
    // alice (not a listed approver) proposes, bob approves: one counts.
    const built = offer(rel, { proposer: keys.alice, approvers: [keys.bob] });
    const { outcome, dev } = await run(bundle, built.bytes, rel.image);
    expect(outcome.code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
    expect(await onOldFirmware(dev)).toEqual(OLD);
    expect(shortfall(bundle, built.bytes)).toEqual({ got: 1, want: 2 });
    // bob and carol, both listed, are enough whoever proposed.
    const enough = offer(rel, { proposer: keys.alice, approvers: [keys.bob, keys.carol] });
    expect((await run(bundle, enough.bytes, rel.image)).outcome.status).toBe('confirmed');
  });

  it('an approver the policy does not list is not counted', async () => {
    const rel = release();
    const bundle = policyBundle(ledgerPolicy('*', 2, ['alice', 'bob']));
    // carol is a bundle admin, but not an approver of this model: the ledger refuses her
    // approval (MG_ERR_NOT_APPROVER); a gateway that signs blocks can still put it in an offer.
    const built = offer(rel, { proposer: keys.alice, approvers: [keys.carol] });
    const { outcome, dev } = await run(bundle, built.bytes, rel.image);
    expect(outcome.code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
    expect(await onOldFirmware(dev)).toEqual(OLD);
    expect(dev.reports).toEqual([]);
    expect(shortfall(bundle, built.bytes)).toEqual({ got: 1, want: 2 });
  });

  it('the happy path with a policy installs, and reports every step', async () => {
    const rel = release();
    const bundle = policyBundle(ledgerPolicy('*', 3), ledgerPolicy(MODEL, 2, ['alice', 'bob']));
    const dev = await device({ bundle, image: rel.image });
    expect(await dev.agent.handleOffer(offer(rel, { approvers: [keys.bob] }).bytes)).toEqual({
      status: 'confirmed',
      seq: 2,
    });
    expect(dev.states()).toEqual(['downloading', 'verified', 'installed', 'confirmed']);
  });

  it('a bundle replacement raising the policy takes effect, and survives a restart', async () => {
    const rel = release();
    const twoOfThree = offer(rel, { approvers: [keys.bob] });
    const factory = policyBundle(ledgerPolicy('*', 2));
    // Control: under the factory policy the offer installs.
    expect((await run(factory, twoOfThree.bytes, rel.image)).outcome.status).toBe('confirmed');

    // The ledger's policy.set (wearable-v1 needs 3) reaches the device in a bundle signed by 2 admins.
    const dev = await device({ bundle: factory, image: rel.image });
    const raised: TrustBundle = {
      ...factory,
      seq: 1,
      policies: [...factory.policies!, { model: MODEL, approvals: 3 }],
    };
    await dev.agent.replaceBundle(signBundle(raised, [keys.alice.signer, keys.carol.signer], CHAIN));
    expect(dev.agent.bundle().policies).toEqual([
      { model: '*', approvals: 2 },
      { model: MODEL, approvals: 3 },
    ]);
    expect((await dev.agent.handleOffer(twoOfThree.bytes)).code).toBe(UpdateErrorCode.BELOW_THRESHOLD);
    expect(await onOldFirmware(dev)).toEqual(OLD);

    // After a restart the raised policy is still in force; three approvals install.
    const again = await device({ bundle: factory, image: rel.image, kv: dev.kv, slots: dev.slots });
    expect(again.agent.bundle().seq).toBe(1);
    const threeOfThree = offer(rel, { approvers: [keys.bob, keys.carol] });
    expect((await again.agent.handleOffer(threeOfThree.bytes)).status).toBe('confirmed');
  });
});

/** Admin keys of the property's chain: four admins. */
const ADMINS: readonly Key[] = [keys.alice, keys.bob, keys.carol, keys.dave];

describe('the device counts approvals exactly as the ledger does', () => {
  it('accepts iff the ledger’s count (countApprovals) reaches max(threshold, policy approvals)', () => {
    const ids = ADMINS.map((k) => k.id);
    const subset = fc.subarray(ids, { minLength: 1 });
    const policy = fc.record({
      approvers: fc.oneof(fc.constant('all' as const), subset),
      n: fc.nat(),
    });
    const scenario = fc.record({
      threshold: fc.integer({ min: 1, max: ADMINS.length }),
      star: policy,
      own: fc.option(policy, { nil: undefined }),
      signers: fc.shuffledSubarray(ids, { minLength: 1 }),
    });
    const toLedger = (model: string, p: { approvers: 'all' | string[]; n: number }): PolicySetBody => {
      const eligible = p.approvers === 'all' ? ADMINS.length : p.approvers.length;
      return ledgerPolicy(model, 1 + (p.n % eligible), p.approvers);
    };
    const rel = release();
    fc.assert(
      fc.property(scenario, ({ threshold, star, own, signers }) => {
        const policies = [toLedger('*', star), ...(own === undefined ? [] : [toLedger(MODEL, own)])];
        const config = {
          ...genesis,
          admins: ADMINS.map(({ id, pub }) => ({ id, pub })),
          threshold,
          policies,
        };
        const state = genesisState(decodeGenesisBytes(encodeGenesis(config)), T0);
        const [proposer, ...approvers] = signers.map((id) => ADMINS.find((k) => k.id === id)!);
        const built = offer(rel, { proposer: proposer!, approvers });
        const proposal: Proposal = {
          id: 'p',
          proposer: proposer!.id,
          action: (decodeTx(built.proposal).tx.body as { action: Proposal['action'] }).action,
          expires: T0 + 1,
          created: { height: 1, time: T0 },
          cose: built.proposal,
          approvals: approvers.map((k) => ({
            admin: k.id,
            cose: new Uint8Array(0),
            at: { height: 1, time: T0 },
          })),
          status: 'open',
        };
        const ledger = countApprovals(state, proposal);
        let accepted = true;
        try {
          checkOffer(decodeOffer(built.bytes), {
            bundle: buildFactoryBundle(config),
            deviceId: DEVICE,
            model: MODEL,
            installedSeq: FACTORY_SEQ,
            newestBlockTime: 0,
            backend: nodeBackend,
          });
        } catch (err) {
          if (!isMedgateError(err) || err.code !== UpdateErrorCode.BELOW_THRESHOLD) throw err;
          accepted = false;
        }
        expect(accepted).toBe(ledger.count >= Math.max(threshold, ledger.required));
        // Never looser than the ledger: what the device accepts, the ledger executed.
        if (accepted) expect(ledger.count >= ledger.required).toBe(true);
      }),
      { numRuns: propertyRuns(40), seed: 20_250_611 },
    );
  });
});
