import { describe, expect, it } from 'vitest';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import type { Action } from '../../firmware-ts/protocol/tx/types.js';
import { StateErrorCode } from '../../gateway/ledger/state/errors.js';
import { pendingProposals, policyOf, proposalOf } from '../../gateway/ledger/state/queries.js';
import { DAY, DEFAULT_POLICY, keyFor, testGenesis, World } from './state-harness.js';

const addAdmin = (id: string, key = keyFor(`admin:${id}`)): Action => ({
  type: 'admin.add',
  body: { id, pub: key.pub },
});
const removeAdmin = (id: string): Action => ({ type: 'admin.remove', body: { id } });

describe('proposal.create / proposal.approve (M-of-N)', () => {
  it('counts the proposer as the first approval and executes at the threshold, in the same step', () => {
    const w = new World();
    const bytes = w.proposeTx('admin:a', addAdmin('d'));
    const id = toHex(sha256(bytes));
    const created = w.apply(bytes);
    expect(created.effects).toEqual([
      { type: 'proposal.created', proposal: id, action: 'admin.add', approvals: 1, required: 2 },
    ]);
    expect(w.state.admins.has('d')).toBe(false);
    expect(proposalOf(w.state, id)).toMatchObject({
      approvals: 1,
      required: 2,
      proposal: { status: 'open' },
    });
    expect(pendingProposals(w.state, w.time).map((p) => p.proposal.id)).toEqual([id]);

    const approval = w.approveTx('admin:c', id);
    const { effects } = w.apply(approval);
    expect(effects).toEqual([
      { type: 'proposal.approved', proposal: id, action: 'admin.add', approvals: 2, required: 2 },
      { type: 'admin.added', id: 'd' },
      { type: 'proposal.executed', proposal: id, action: 'admin.add' },
    ]);
    expect(w.state.admins.has('d')).toBe(true);
    const stored = w.state.proposals.get(id)!;
    expect(stored.status).toBe('executed');
    expect(stored.executed).toEqual({ height: w.height, time: w.time });
    // The raw COSE bytes of the proposal and of each approval stay for devices to verify.
    expect(stored.cose).toEqual(bytes);
    expect(stored.approvals.map((a) => [a.admin, a.cose])).toEqual([['c', approval]]);
    expect(pendingProposals(w.state, w.time)).toEqual([]);
    // The new admin signs at once.
    w.apply(w.sign('admin:d', 'device.enrol', { dev: 'x', pub: keyFor('x').pub, model: 'm1' }));
  });

  it('executes at creation when the threshold is 1', () => {
    const w = new World(testGenesis({ threshold: 1 }));
    const { result } = w.propose('admin:a', addAdmin('d'));
    expect(result.effects.map((e) => e.type)).toEqual([
      'proposal.created',
      'admin.added',
      'proposal.executed',
    ]);
  });

  it('refuses the same admin approving twice, including the proposer', () => {
    const w = new World(testGenesis({ threshold: 3 }));
    const { id } = w.propose('admin:a', addAdmin('d'));
    w.refuse(w.approveTx('admin:a', id), StateErrorCode.DUPLICATE_APPROVAL);
    w.approve('admin:b', id);
    w.refuse(w.approveTx('admin:b', id), StateErrorCode.DUPLICATE_APPROVAL);
    expect(proposalOf(w.state, id)?.approvals).toBe(2);
    w.approve('admin:c', id);
    expect(w.state.admins.has('d')).toBe(true);
  });

  it('refuses approvals by non-admins and by unknown admins', () => {
    const w = new World();
    w.apply(w.sign('admin:a', 'clinician.register', { id: 'cl', pub: keyFor('clinician:cl').pub }));
    const { id } = w.propose('admin:a', addAdmin('d'));
    w.refuse(w.approveTx('clinician:cl', id), StateErrorCode.ACTOR_NOT_ALLOWED);
    w.refuse(w.approveTx('admin:mallory', id), StateErrorCode.UNKNOWN_ACTOR);
    w.refuse(
      w.sign('clinician:cl', 'proposal.create', { action: addAdmin('e'), expires: w.time + DAY }),
      StateErrorCode.ACTOR_NOT_ALLOWED,
    );
  });

  it('refuses approvals once the proposal expired (block time), and bad expiries at creation', () => {
    const w = new World();
    const { id } = w.propose('admin:a', addAdmin('d'), w.time + 1500);
    w.refuse(w.approveTx('admin:b', id), StateErrorCode.PROPOSAL_EXPIRED, {
      height: w.height + 1,
      time: w.time + 1500,
    });
    expect(pendingProposals(w.state, w.time + 1500)).toEqual([]);
    w.refuse(w.proposeTx('admin:a', addAdmin('e'), w.ctx.time), StateErrorCode.BAD_EXPIRY);
    w.refuse(w.proposeTx('admin:a', addAdmin('e'), w.ctx.time + 31 * DAY), StateErrorCode.BAD_EXPIRY);
  });

  it('refuses approving an unknown or already executed proposal', () => {
    const w = new World();
    w.refuse(
      w.sign('admin:a', 'proposal.approve', { proposal: new Uint8Array(32) }),
      StateErrorCode.UNKNOWN_PROPOSAL,
    );
    const id = w.govern(addAdmin('d'));
    w.refuse(w.approveTx('admin:c', id), StateErrorCode.PROPOSAL_CLOSED);
  });

  it('does not count an admin removed before the threshold is reached', () => {
    const w = new World();
    // a proposes; a's signature is the first approval.
    const { id } = w.propose('admin:a', addAdmin('d'));
    // Then b and c remove a.
    w.govern(removeAdmin('a'), ['admin:b', 'admin:c']);
    expect(w.state.admins.has('a')).toBe(false);
    expect(proposalOf(w.state, id)?.approvals).toBe(0);
    // b's approval would have reached 2 with a; now it is 1 of 2.
    w.approve('admin:b', id);
    expect(w.state.admins.has('d')).toBe(false);
    expect(proposalOf(w.state, id)).toMatchObject({ approvals: 1, required: 2 });
    w.approve('admin:c', id);
    expect(w.state.admins.has('d')).toBe(true);
    // The removed admin can no longer sign anything.
    w.refuse(
      w.sign('admin:a', 'device.enrol', { dev: 'x', pub: keyFor('x').pub, model: 'm1' }),
      StateErrorCode.UNKNOWN_ACTOR,
    );
  });

  it('checks the action at creation and again at the threshold', () => {
    const w = new World();
    w.refuse(w.proposeTx('admin:a', removeAdmin('nobody')), StateErrorCode.UNKNOWN_ADMIN);
    w.refuse(w.proposeTx('admin:a', addAdmin('b')), StateErrorCode.ALREADY_EXISTS);
    w.refuse(w.proposeTx('admin:a', addAdmin('d', keyFor('vendor:acme'))), StateErrorCode.KEY_IN_USE);
    // Two proposals to add the same admin: once the first executes, the second's final approval
    // is refused and leaves everything as it was.
    const first = w.propose('admin:a', addAdmin('d')).id;
    const second = w.propose('admin:b', addAdmin('d', keyFor('admin:d2'))).id;
    w.approve('admin:c', first);
    w.refuse(w.approveTx('admin:c', second), StateErrorCode.ALREADY_EXISTS);
    expect(w.state.proposals.get(second)?.status).toBe('open');
  });
});

describe('governance actions', () => {
  it('removes admins only while every threshold stays reachable', () => {
    const w = new World();
    w.govern(removeAdmin('c'));
    expect(w.state.admins.size).toBe(2);
    // 1 admin left would be below the threshold of 2.
    w.refuse(w.proposeTx('admin:a', removeAdmin('b')), StateErrorCode.GOVERNANCE_UNSATISFIABLE);
  });

  it('sets the governance threshold within the number of admins', () => {
    const w = new World();
    w.refuse(
      w.proposeTx('admin:a', { type: 'governance.set', body: { threshold: 4 } }),
      StateErrorCode.GOVERNANCE_UNSATISFIABLE,
    );
    w.govern({ type: 'governance.set', body: { threshold: 3 } });
    expect(w.state.threshold).toBe(3);
    const { id } = w.propose('admin:a', addAdmin('d'));
    w.approve('admin:b', id);
    expect(w.state.admins.has('d')).toBe(false);
    w.approve('admin:c', id);
    expect(w.state.admins.has('d')).toBe(true);
  });

  it('registers vendors once, with keys of their own', () => {
    const w = new World();
    const vendor = (id: string, key = keyFor(`vendor:${id}`)): Action => ({
      type: 'vendor.register',
      body: { id, pub: key.pub, models: ['z1'] },
    });
    w.govern(vendor('zeta'));
    expect(w.state.vendors.get('zeta')?.models).toEqual(['z1']);
    w.refuse(w.proposeTx('admin:a', vendor('zeta', keyFor('zeta2'))), StateErrorCode.ALREADY_EXISTS);
    w.refuse(w.proposeTx('admin:a', vendor('omega', keyFor('admin:a'))), StateErrorCode.KEY_IN_USE);
  });

  it('sets per-model policies; approvers must be current admins and able to reach the count', () => {
    const w = new World();
    const policy = { ...DEFAULT_POLICY, approvals: 2, approvers: ['a', 'b'] };
    w.govern({ type: 'policy.set', body: { model: 'm9', policy } });
    expect(policyOf(w.state, 'm9')).toEqual(policy);
    expect(policyOf(w.state, 'unlisted')).toEqual(DEFAULT_POLICY);
    w.refuse(
      w.proposeTx('admin:a', {
        type: 'policy.set',
        body: { model: 'm9', policy: { ...policy, approvers: ['a', 'zed'] } },
      }),
      StateErrorCode.UNKNOWN_ADMIN,
    );
    // Removing b would leave m9 needing 2 approvals from {a}.
    w.refuse(w.proposeTx('admin:a', removeAdmin('b')), StateErrorCode.GOVERNANCE_UNSATISFIABLE);
  });
});
