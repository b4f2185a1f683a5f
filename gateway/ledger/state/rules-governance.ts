/**
 * The one M-of-N mechanism (DESIGN §4): `proposal.create` carries an action that a policy puts
 * behind a threshold, `proposal.approve` adds an admin's signature, and the action is applied
 * in the same step that reaches the threshold. Approvals count DISTINCT admins that are
 * CURRENTLY valid when the threshold is evaluated (as TUF counts distinct valid keys): an admin
 * removed meanwhile no longer counts. The COSE bytes of the proposal and of every approval are
 * kept, because devices verify them themselves before installing firmware (DESIGN §5).
 */

import { sha256 } from '../../../firmware-ts/protocol/hash.js';
import type { Action, ActionBodies, ActionType, Policy } from '../../../firmware-ts/protocol/tx/types.js';
import {
  assertPolicyReachable,
  assertSatisfiable,
  assertThresholdReachable,
  claimKey,
  freeze,
  hex,
  policyFor,
  type RuleEnv,
  type RuleTable,
  STATE_LIMITS,
} from './common.js';
import { refuse, StateErrorCode } from './errors.js';
import { authorizeRollout } from './rules-firmware.js';
import type { Proposal, State } from './state.js';

type Executor<K extends ActionType> = (env: RuleEnv, body: ActionBodies[K], proposal: string) => void;

const executors: { readonly [K in ActionType]: Executor<K> } = {
  'admin.add': (env, { id, pub }) => {
    if (env.d.admins.has(id)) {
      throw refuse(StateErrorCode.ALREADY_EXISTS, `admin ${id} already exists`, { field: 'action.body.id' });
    }
    // An admin removed and added again may keep their key: the kid stays bound to `admin:{id}`.
    const kid = claimKey(env.d, pub, `admin:${id}`, env.checkKey);
    env.d.admins = env.d.admins.set(id, freeze({ id, pub, kid, since: env.at }));
    env.effects.push({ type: 'admin.added', id });
  },

  'admin.remove': (env, { id }) => {
    if (!env.d.admins.has(id)) {
      throw refuse(StateErrorCode.UNKNOWN_ADMIN, `no admin ${id}`, { field: 'action.body.id', got: id });
    }
    env.d.admins = env.d.admins.delete(id);
    assertSatisfiable(env.d);
    env.effects.push({ type: 'admin.removed', id });
  },

  'governance.set': (env, { threshold }) => {
    env.d.threshold = threshold;
    assertThresholdReachable(env.d);
    env.effects.push({ type: 'governance.changed', threshold });
  },

  'vendor.register': (env, { id, pub, models }) => {
    if (env.d.vendors.has(id)) {
      throw refuse(StateErrorCode.ALREADY_EXISTS, `vendor ${id} already exists`, { field: 'action.body.id' });
    }
    const kid = claimKey(env.d, pub, `vendor:${id}`, env.checkKey);
    env.d.vendors = env.d.vendors.set(
      id,
      freeze({ id, pub, kid, models: freeze([...models]), since: env.at }),
    );
    env.effects.push({ type: 'vendor.registered', id });
  },

  'policy.set': (env, { model, policy }) => {
    if (policy.approvers !== 'all') {
      policy.approvers.forEach((id, i) => {
        if (!env.d.admins.has(id)) {
          throw refuse(StateErrorCode.UNKNOWN_ADMIN, `no admin ${id}`, {
            field: `action.body.approvers[${i}]`,
          });
        }
      });
    }
    assertPolicyReachable(env.d, model, policy);
    env.d.policies = env.d.policies.set(model, freezePolicy(policy));
    env.effects.push({ type: 'policy.changed', model });
  },

  'rollout.authorize': (env, body, proposal) => authorizeRollout(env, body, proposal),
};

export function freezePolicy(policy: Policy): Policy {
  return freeze({ ...policy, approvers: policy.approvers === 'all' ? 'all' : freeze([...policy.approvers]) });
}

function execute(env: RuleEnv, action: Action, proposal: string): void {
  (executors[action.type] as Executor<ActionType>)(env, action.body, proposal);
}

/** Who may approve `action` and how many must: the model's policy for rollouts, else governance. */
export function requirementOf(
  state: State,
  action: Action,
): { required: number; approvers: Policy['approvers'] } {
  if (action.type === 'rollout.authorize') {
    const policy = policyFor(state, action.body.model);
    return { required: policy.approvals, approvers: policy.approvers };
  }
  return { required: state.threshold, approvers: 'all' };
}

function mayApprove(state: State, approvers: Policy['approvers'], admin: string): boolean {
  return state.admins.has(admin) && (approvers === 'all' || approvers.includes(admin));
}

/** Distinct admins, valid now and allowed by the policy now, among the proposer and approvers. */
export function countApprovals(state: State, proposal: Proposal): { count: number; required: number } {
  const { required, approvers } = requirementOf(state, proposal.action);
  const distinct = new Set([proposal.proposer, ...proposal.approvals.map((a) => a.admin)]);
  let count = 0;
  for (const admin of distinct) if (mayApprove(state, approvers, admin)) count++;
  return { count, required };
}

/** Applies the action if the threshold is reached now; returns the proposal as stored. */
function settle(env: RuleEnv, proposal: Proposal, event: 'proposal.created' | 'proposal.approved'): void {
  const { count, required } = countApprovals(env.d, proposal);
  env.effects.push({
    type: event,
    proposal: proposal.id,
    action: proposal.action.type,
    approvals: count,
    required,
  });
  if (count < required) {
    env.d.proposals = env.d.proposals.set(proposal.id, proposal);
    return;
  }
  env.d.proposals = env.d.proposals.set(
    proposal.id,
    freeze({ ...proposal, status: 'executed', executed: env.at }),
  );
  execute(env, proposal.action, proposal.id);
  env.effects.push({ type: 'proposal.executed', proposal: proposal.id, action: proposal.action.type });
}

export const governanceRules: Pick<RuleTable, 'proposal.create' | 'proposal.approve'> = {
  'proposal.create': (env) => {
    const { action, expires } = env.tx.body;
    const now = env.at.time;
    if (expires <= now || expires > now + STATE_LIMITS.maxProposalTtlMs) {
      throw refuse(StateErrorCode.BAD_EXPIRY, 'a proposal must expire after its block and within 30 days', {
        field: 'body.expires',
        got: expires,
        want: { after: now, notAfter: now + STATE_LIMITS.maxProposalTtlMs },
      });
    }
    const id = hex(sha256(env.cose.bytes));
    // Refuse now an action that could not be applied now: run it on a throwaway copy of the draft
    // (persistent maps, so nothing leaks). It is checked again, for real, at the threshold.
    execute({ ...env, d: { ...env.d }, effects: [] }, action, id);
    const proposal: Proposal = freeze({
      id,
      proposer: env.actor.id,
      action,
      expires,
      created: env.at,
      cose: env.cose.bytes,
      approvals: freeze([]),
      status: 'open',
    });
    settle(env, proposal, 'proposal.created');
  },

  'proposal.approve': (env) => {
    const id = hex(env.tx.body.proposal);
    const proposal = env.d.proposals.get(id);
    if (proposal === undefined) {
      throw refuse(StateErrorCode.UNKNOWN_PROPOSAL, 'no such proposal', { field: 'body.proposal', got: id });
    }
    if (proposal.status !== 'open') {
      throw refuse(StateErrorCode.PROPOSAL_CLOSED, 'the proposal was already executed', {
        field: 'body.proposal',
      });
    }
    if (env.at.time >= proposal.expires) {
      throw refuse(StateErrorCode.PROPOSAL_EXPIRED, 'the proposal has expired', {
        field: 'body.proposal',
        got: env.at.time,
        want: proposal.expires,
      });
    }
    const admin = env.actor.id;
    const { approvers } = requirementOf(env.d, proposal.action);
    if (!mayApprove(env.d, approvers, admin)) {
      throw refuse(StateErrorCode.NOT_APPROVER, `admin ${admin} may not approve this action`, {
        field: 'actor',
      });
    }
    if (proposal.proposer === admin || proposal.approvals.some((a) => a.admin === admin)) {
      throw refuse(StateErrorCode.DUPLICATE_APPROVAL, `admin ${admin} already approved this proposal`, {
        field: 'actor',
      });
    }
    const approvals = freeze([...proposal.approvals, freeze({ admin, cose: env.cose.bytes, at: env.at })]);
    settle(env, freeze({ ...proposal, approvals }), 'proposal.approved');
  },
};
