/**
 * The device's trust bundle (DESIGN §2): chain id, authority keys, admin keys with their
 * threshold, vendor keys. It starts as the factory bundle and is replaced only by a bundle signed
 * by at least `threshold` distinct admins of the CURRENT bundle, with a higher seq, for the same
 * chain (TUF root rotation, TUF spec §5.3.4). A bundle so accepted is persisted; anything else
 * leaves the current bundle in force.
 */
import { equalBytes } from '../protocol/bytes.js';
import { chainAad, decodeCoseSign1, verifyCoseSign1 } from '../protocol/cose.js';
import type { Ed25519Backend } from '../protocol/ed25519/types.js';
import { isMedgateError } from '../protocol/errors.js';
import { kidOf } from '../protocol/kid.js';
import {
  type BundleAdmin,
  type BundleReplacement,
  bundlePolicyFor,
  decodeBundle,
  decodeBundleReplacement,
  type TrustBundle,
} from '../protocol/update/index.js';
import type { DeviceState } from './device-state.js';
import { UpdateErrorCode, updateError } from './errors.js';

/** The admin of `bundle` whose key `kid` names, if any. */
export function adminByKid(bundle: TrustBundle, kid: Uint8Array): BundleAdmin | undefined {
  return bundle.admins.find((a) => equalBytes(kidOf(a.pub), kid));
}

/** What a rollout of one model needs on this device (check-offer.ts step 6). */
export interface RolloutRequirement {
  /** Distinct eligible admins: max(bundle threshold, the policy's approvals). */
  readonly required: number;
  /** Admin ids that count; undefined means every admin of the bundle. */
  readonly approvers: readonly string[] | undefined;
  /** The policy entry applied (the model or '*'); undefined for a bundle without policies. */
  readonly policy: string | undefined;
}

/**
 * The ledger's rule (rules-governance.ts requirementOf / mayApprove / countApprovals) with the
 * bundle's copy of the policies, never looser than the bundle's threshold: a compromised gateway
 * must not get a proposal the ledger recorded but never executed installed (one approval short,
 * or counted with an admin the policy does not allow). Policies come only with the bundle: a
 * `policy.set` after manufacture applies here once a signed bundle replacement carries it.
 */
export function rolloutRequirement(bundle: TrustBundle, model: string): RolloutRequirement {
  const policy = bundlePolicyFor(bundle, model);
  if (policy === undefined) return { required: bundle.threshold, approvers: undefined, policy: undefined };
  return {
    required: Math.max(bundle.threshold, policy.approvals),
    approvers: policy.approvers,
    policy: policy.model,
  };
}

/**
 * Checks a replacement against the bundle in force and returns the new bundle. Refusals:
 * MG_ERR_UPDATE_BUNDLE_CHAIN, MG_ERR_UPDATE_BUNDLE_SEQ, MG_ERR_UPDATE_BUNDLE_THRESHOLD. A
 * signature that is malformed, by a key that is not a current admin, over other bytes, or
 * that does not verify is not counted; one admin signing twice counts once.
 */
export function verifyReplacement(
  current: TrustBundle,
  replacement: BundleReplacement,
  backend: Ed25519Backend,
): TrustBundle {
  const next = replacement.bundle;
  if (next.chain !== current.chain) {
    throw updateError(UpdateErrorCode.BUNDLE_CHAIN, 'the new bundle names another chain', {
      field: 'bundle.chain',
      got: next.chain,
      want: current.chain,
    });
  }
  if (next.seq <= current.seq) {
    throw updateError(UpdateErrorCode.BUNDLE_SEQ, 'the new bundle does not rise above the current seq', {
      field: 'bundle.seq',
      got: next.seq,
      want: current.seq + 1,
    });
  }
  const aad = chainAad(current.chain);
  const signers = new Set<string>();
  for (const sig of replacement.sigs) {
    try {
      const cose = decodeCoseSign1(sig, sig.length);
      if (!equalBytes(cose.payload, replacement.bundleBytes)) continue;
      const admin = adminByKid(current, cose.kid);
      if (admin === undefined) continue;
      verifyCoseSign1(cose, admin.pub, aad, backend);
      signers.add(admin.id);
    } catch (err) {
      if (!isMedgateError(err)) throw err;
    }
  }
  if (signers.size < current.threshold) {
    throw updateError(
      UpdateErrorCode.BUNDLE_THRESHOLD,
      `the new bundle is signed by ${signers.size} distinct current admins, ${current.threshold} needed`,
      { field: 'sigs', got: signers.size, want: current.threshold },
    );
  }
  return next;
}

export class TrustStore {
  private constructor(
    private readonly state: DeviceState,
    private readonly backend: Ed25519Backend,
    private bundle: TrustBundle,
  ) {}

  /**
   * The bundle in force: the persisted one if it is a later bundle of the factory bundle's chain
   * (it was verified when it replaced its predecessor), else the factory bundle.
   */
  static async open(state: DeviceState, factory: TrustBundle, backend: Ed25519Backend): Promise<TrustStore> {
    const stored = await state.bundleBytes();
    let bundle = factory;
    if (stored !== undefined) {
      const candidate = decodeBundle(stored);
      if (candidate.chain === factory.chain && candidate.seq >= factory.seq) bundle = candidate;
    }
    return new TrustStore(state, backend, bundle);
  }

  current(): TrustBundle {
    return this.bundle;
  }

  /** Verifies and installs a replacement (its wire bytes); returns the bundle now in force. */
  async replace(replacementBytes: Uint8Array): Promise<TrustBundle> {
    const replacement = decodeBundleReplacement(replacementBytes);
    const next = verifyReplacement(this.bundle, replacement, this.backend);
    await this.state.setBundleBytes(replacement.bundleBytes);
    this.bundle = next;
    return next;
  }
}
