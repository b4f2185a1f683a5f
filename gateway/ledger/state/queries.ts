/**
 * Small read-only questions the gateway, the HTTP API and the CLI ask of a State. None of them
 * changes anything; listings are sorted so that every replica answers in the same order.
 */
import { toHex } from '../../../firmware-ts/protocol/bytes.js';
import type { ActorRef } from '../../../firmware-ts/protocol/tx/actor.js';
import type { Policy } from '../../../firmware-ts/protocol/tx/types.js';
import { policyFor } from './common.js';
import { countApprovals } from './rules-governance.js';
import type { DeviceRecord, KeyEpoch, Proposal, Rollout, Stamp, State } from './state.js';

export function deviceOf(state: State, dev: string): DeviceRecord | undefined {
  return state.devices.get(dev);
}

/** The key the device signs with now; undefined if it is unknown or revoked. */
export function currentKey(state: State, dev: string): KeyEpoch | undefined {
  const device = state.devices.get(dev);
  const last = device?.keys[device.keys.length - 1];
  return last?.until === undefined ? last : undefined;
}

/**
 * A key of the device by kid (bytes or hex), current or past, with its validity interval:
 * a reading signed before a rotation still verifies against the key of its time.
 */
export function keyAt(state: State, dev: string, kid: Uint8Array | string): KeyEpoch | undefined {
  const want = typeof kid === 'string' ? kid : toHex(kid);
  return state.devices.get(dev)?.keys.find((k) => k.kid === want);
}

/** True when `epoch` was the valid key at `at` (from inclusive, until exclusive). */
export function keyValidAt(epoch: KeyEpoch, at: Stamp): boolean {
  const started =
    at.height > epoch.from.height || (at.height === epoch.from.height && at.time >= epoch.from.time);
  const ended =
    epoch.until !== undefined &&
    (at.height > epoch.until.height || (at.height === epoch.until.height && at.time >= epoch.until.time));
  return started && !ended;
}

/** The public key an actor signs with now (admins, vendors, clinicians, active devices). */
export function actorKeyOf(state: State, actor: ActorRef): Uint8Array | undefined {
  switch (actor.kind) {
    case 'admin':
      return state.admins.get(actor.id)?.pub;
    case 'vendor':
      return state.vendors.get(actor.id)?.pub;
    case 'clinician':
      return state.clinicians.get(actor.id)?.pub;
    default: {
      const device = state.devices.get(actor.id);
      return device?.status === 'active' ? currentKey(state, actor.id)?.pub : undefined;
    }
  }
}

/** The policy that applies to `model` (its own, else the default). */
export function policyOf(state: State, model: string): Policy {
  return policyFor(state, model);
}

/** Last nonce accepted from `actor`; the next transaction must carry a greater one. */
export function actorNonce(state: State, actor: string): number | undefined {
  return state.nonces.get(actor);
}

/** True when the clinician may read the device: a grant exists and the device is not revoked. */
export function hasAccess(state: State, clinician: string, dev: string): boolean {
  return state.grants.get(clinician)?.has(dev) === true && state.devices.get(dev)?.status !== 'revoked';
}

export function grantsOf(state: State, clinician: string): string[] {
  return state.grants.get(clinician)?.sortedKeys() ?? [];
}

export interface ProposalView {
  readonly proposal: Proposal;
  /** Distinct admins whose approval counts now. */
  readonly approvals: number;
  readonly required: number;
}

function viewOf(state: State, proposal: Proposal): ProposalView {
  const { count, required } = countApprovals(state, proposal);
  return { proposal, approvals: count, required };
}

export function proposalOf(state: State, id: string): ProposalView | undefined {
  const proposal = state.proposals.get(id);
  return proposal === undefined ? undefined : viewOf(state, proposal);
}

/** Open proposals that have not expired at `time`, oldest first. */
export function pendingProposals(state: State, time: number): ProposalView[] {
  const open: ProposalView[] = [];
  for (const proposal of state.proposals.values()) {
    if (proposal.status === 'open' && time < proposal.expires) {
      open.push(viewOf(state, proposal));
    }
  }
  return open.sort(
    (a, b) =>
      a.proposal.created.height - b.proposal.created.height ||
      (a.proposal.id < b.proposal.id ? -1 : a.proposal.id > b.proposal.id ? 1 : 0),
  );
}

export type RolloutStatus = 'scheduled' | 'active' | 'halted' | 'expired' | 'completed';

export interface RolloutProgress {
  readonly status: RolloutStatus;
  /** Index of the open wave. Past the listed waves, the last size repeats (cohort rollouts). */
  readonly wave: number;
  /** How many devices may have been offered the update so far (sum of the open waves). */
  readonly allowed: number;
  /** Devices whose update ended: confirmed, failed or rolled back. */
  readonly finished: number;
  readonly confirmed: number;
  readonly failures: number;
}

/**
 * Where a rollout stands at `time`. Wave k opens once as many devices finished as waves 0..k-1
 * hold, so a wave's failures are seen (and can halt the rollout) before the next one starts.
 */
export function rolloutProgress(rollout: Rollout, time: number): RolloutProgress {
  const finished = rollout.confirmed + rollout.failures;
  let allowed = 0;
  let wave = 0;
  for (; wave < rollout.waves.length; wave++) {
    allowed += rollout.waves[wave]!;
    if (finished < allowed) break;
  }
  if (wave === rollout.waves.length) {
    const last = rollout.waves[rollout.waves.length - 1]!;
    const extra = Math.floor((finished - allowed) / last) + 1;
    wave = rollout.waves.length - 1 + extra;
    allowed += extra * last;
  }
  const total = 'devs' in rollout.target ? rollout.target.devs.length : undefined;
  const status: RolloutStatus =
    rollout.halted !== undefined
      ? 'halted'
      : total !== undefined && finished >= total
        ? 'completed'
        : time >= rollout.expires
          ? 'expired'
          : time < rollout.notBefore
            ? 'scheduled'
            : 'active';
  if (total !== undefined) allowed = Math.min(allowed, total);
  return { status, wave, allowed, finished, confirmed: rollout.confirmed, failures: rollout.failures };
}

/** Rollouts in order of authorisation. */
export function rolloutsOf(state: State): Rollout[] {
  return [...state.rollouts.values()].sort(
    (a, b) => a.authorized.height - b.authorized.height || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}
