/**
 * What every rule file shares: the draft a transaction edits, its environment, and small
 * helpers that name each refusal the same way everywhere.
 */
import { toHex } from '../../../firmware-ts/protocol/bytes.js';
import { type CoseSign1, chainAad, verifyCoseSign1 } from '../../../firmware-ts/protocol/cose.js';
import { assertValidPublicKey } from '../../../firmware-ts/protocol/ed25519/policy.js';
import type { Ed25519Backend } from '../../../firmware-ts/protocol/ed25519/types.js';
import { kidOf } from '../../../firmware-ts/protocol/kid.js';
import type { ActorRef } from '../../../firmware-ts/protocol/tx/actor.js';
import {
  DEFAULT_POLICY_MODEL,
  type Policy,
  type Tx,
  type TxType,
} from '../../../firmware-ts/protocol/tx/types.js';
import type { Effect } from './effects.js';
import { refuse, StateErrorCode } from './errors.js';
import type { DeviceRecord, Stamp, State } from './state.js';

/** Time bounds of the rules, frozen so every replica applies the same ones. */
export const STATE_LIMITS = Object.freeze({
  /** A transaction signed further ahead of its block's time than this is refused. */
  maxFutureSkewMs: 5 * 60 * 1000,
  /** Longest life of a proposal. */
  maxProposalTtlMs: 30 * 24 * 60 * 60 * 1000,
});

/**
 * A shallow, writable copy of the State that one transaction edits. Its collections are
 * persistent maps, so replacing one (`d.devices = d.devices.set(...)`) never touches the
 * state it was copied from; a refusal simply drops the draft.
 */
export type Draft = { -readonly [K in keyof State]: State[K] };

export interface RuleEnv {
  readonly d: Draft;
  /** The including block. */
  readonly at: Stamp;
  readonly backend: Ed25519Backend;
  readonly effects: Effect[];
  /** checkedKid, possibly memoised by the machine (the check is a pure function of the key). */
  readonly checkKey: (pub: Uint8Array) => string;
}

export interface TxEnv<K extends TxType> extends RuleEnv {
  readonly tx: Extract<Tx, { type: K }>;
  readonly actor: ActorRef;
  /** The transaction's COSE_Sign1 (its signature already verified). */
  readonly cose: CoseSign1;
}

export type Rule<K extends TxType> = (env: TxEnv<K>) => void;
export type RuleTable = { readonly [K in TxType]: Rule<K> };

export const hex = toHex;

/** Verifies a COSE_Sign1 carried inside a transaction, under this chain's aad (DESIGN §3). */
export function verifyInner(env: RuleEnv, cose: CoseSign1, pub: Uint8Array): void {
  verifyCoseSign1(cose, pub, chainAad(env.d.chain), env.backend);
}

/** Hex kid of a public key, after the enrolment key checks (DESIGN §3: small order refused). */
export function checkedKid(pub: Uint8Array): string {
  assertValidPublicKey(pub);
  return toHex(kidOf(pub));
}

/**
 * Binds a key to its owner for good. A key that ever belonged to another principal is refused,
 * so a kid names one principal for the life of the chain (readings and approvals stay unambiguous).
 */
export function claimKey(
  d: Draft,
  pub: Uint8Array,
  owner: string,
  check: (pub: Uint8Array) => string = checkedKid,
): string {
  const kid = check(pub);
  const holder = d.kids.get(kid);
  if (holder !== undefined && holder !== owner) {
    throw refuse(StateErrorCode.KEY_IN_USE, 'this public key is already registered to another principal', {
      field: 'pub',
    });
  }
  d.kids = d.kids.set(kid, owner);
  return kid;
}

export function requireDevice(state: State, dev: string, field = 'body.dev'): DeviceRecord {
  const device = state.devices.get(dev);
  if (device === undefined)
    throw refuse(StateErrorCode.UNKNOWN_DEVICE, `no device ${dev}`, { field, got: dev });
  return device;
}

/** The model's own policy, else the default one (genesis guarantees it exists). */
export function policyFor(state: State, model: string): Policy {
  const policy = state.policies.get(model) ?? state.policies.get(DEFAULT_POLICY_MODEL);
  if (policy === undefined) throw refuse(StateErrorCode.BAD_GENESIS, 'the state has no default policy');
  return policy;
}

/** Admins that can count towards `policy`'s approvals now. */
export function eligibleApprovers(state: State, policy: Pick<Policy, 'approvers'>): number {
  if (policy.approvers === 'all') return state.admins.size;
  let n = 0;
  for (const id of policy.approvers) if (state.admins.has(id)) n++;
  return n;
}

/** The governance threshold must not exceed the number of admins. */
export function assertThresholdReachable(state: State): void {
  if (state.threshold > state.admins.size) {
    throw refuse(
      StateErrorCode.GOVERNANCE_UNSATISFIABLE,
      'the governance threshold exceeds the number of admins',
      {
        got: state.admins.size,
        want: state.threshold,
      },
    );
  }
}

/** A policy's approvals must not exceed the admins who may give them. */
export function assertPolicyReachable(state: State, model: string, policy: Policy): void {
  const eligible = eligibleApprovers(state, policy);
  if (policy.approvals > eligible) {
    throw refuse(
      StateErrorCode.GOVERNANCE_UNSATISFIABLE,
      `the policy of ${model} needs ${policy.approvals} approvals but only ${eligible} admins may give them`,
      { field: `policies.${model}`, got: eligible, want: policy.approvals },
    );
  }
}

/**
 * No change may leave a threshold that the current admins cannot reach: that would lock the
 * governance (or a model's rollouts) for good. Checked in full when admins are removed (rare);
 * a policy or threshold change checks only what it changed.
 */
export function assertSatisfiable(state: State): void {
  assertThresholdReachable(state);
  for (const [model, policy] of state.policies) assertPolicyReachable(state, model, policy);
}

export function freeze<T extends object>(value: T): T {
  return Object.freeze(value);
}
