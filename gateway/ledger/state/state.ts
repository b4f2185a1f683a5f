/**
 * The ledger state (DESIGN §4): everything the transactions so far have established. It is
 * immutable: `apply` returns a new State that shares every untouched part with the old one
 * (records are frozen plain objects, collections are persistent maps), so keeping the state of
 * every block costs little and a refused transaction cannot leave anything half-changed.
 */
import type { Action, Policy, RolloutTarget, UpdateState } from '../../../firmware-ts/protocol/tx/types.js';
import { PMap } from './pmap.js';

/** When something happened: the including block's height and time (ms). */
export interface Stamp {
  readonly height: number;
  readonly time: number;
}

/** A public key and, for keys that were replaced or whose holder was revoked, when it stopped. */
export interface KeyEpoch {
  readonly pub: Uint8Array;
  /** Hex of the kid (first 16 bytes of SHA-256 of pub). */
  readonly kid: string;
  readonly from: Stamp;
  readonly until?: Stamp;
}

export interface AdminRecord {
  readonly id: string;
  readonly pub: Uint8Array;
  readonly kid: string;
  readonly since: Stamp;
}

export interface VendorRecord {
  readonly id: string;
  readonly pub: Uint8Array;
  readonly kid: string;
  readonly models: readonly string[];
  readonly since: Stamp;
}

export interface ClinicianRecord {
  readonly id: string;
  readonly pub: Uint8Array;
  readonly kid: string;
  readonly since: Stamp;
}

export type DeviceStatus = 'pending' | 'active' | 'revoked';

export interface FirmwareInfo {
  readonly seq: number;
  /** Known when the device confirmed a release of that seq. */
  readonly version?: string;
  readonly at: Stamp;
}

export interface DeviceRecord {
  readonly id: string;
  readonly model: string;
  readonly status: DeviceStatus;
  /** Who vouched for it: the admin actor (device.enrol) or `vendor:{id}` of the attestation (self-enrolment). */
  readonly enrolledBy: string;
  readonly since: Stamp;
  readonly revoked?: Stamp;
  /** Every key the device ever had, oldest first; the last one is current unless `until` is set. */
  readonly keys: readonly KeyEpoch[];
  readonly firmware?: FirmwareInfo;
}

export interface Grant {
  readonly since: Stamp;
}

export interface Release {
  /** Hex of SHA-256 of the manifest's COSE bytes. */
  readonly id: string;
  readonly vendor: string;
  readonly model: string;
  readonly seq: number;
  readonly version: string;
  readonly digest: Uint8Array;
  readonly size: number;
  readonly created: number;
  /** The vendor's COSE_Sign1, as devices verify it. */
  readonly manifest: Uint8Array;
  readonly at: Stamp;
}

export interface Approval {
  /** Admin id (without the `admin:` prefix). */
  readonly admin: string;
  /** The approval transaction's COSE bytes: devices verify these themselves (DESIGN §5). */
  readonly cose: Uint8Array;
  readonly at: Stamp;
}

export type ProposalStatus = 'open' | 'executed';

export interface Proposal {
  /** Hex of SHA-256 of the proposal transaction's COSE bytes. */
  readonly id: string;
  readonly proposer: string;
  readonly action: Action;
  readonly expires: number;
  readonly created: Stamp;
  /** The proposal transaction's COSE bytes. */
  readonly cose: Uint8Array;
  /** Later approvals in ledger order (the proposer's own signature is `cose`). */
  readonly approvals: readonly Approval[];
  readonly status: ProposalStatus;
  readonly executed?: Stamp;
}

export interface DeviceReport {
  readonly state: UpdateState;
  readonly seq: number;
  readonly error?: string;
  readonly at: Stamp;
}

export interface Rollout {
  /** = the id of the proposal that authorised it. */
  readonly id: string;
  /** Release id (hex of SHA-256 of the manifest COSE bytes). */
  readonly release: string;
  readonly model: string;
  readonly target: RolloutTarget;
  readonly notBefore: number;
  readonly expires: number;
  readonly waves: readonly number[];
  readonly maxFailures: number;
  readonly authorized: Stamp;
  readonly halted?: { readonly at: Stamp; readonly by: string; readonly reason: string };
  /** Latest report of each device. */
  readonly reports: PMap<DeviceReport>;
  /** Devices whose latest report is confirmed / failed or rolledBack. */
  readonly confirmed: number;
  readonly failures: number;
}

export interface State {
  readonly v: 1;
  readonly chain: string;
  /** Height and time of the block of the last applied transaction (the genesis block's at start). */
  readonly height: number;
  readonly time: number;
  /** Authority keys that sign blocks (from genesis). */
  readonly authorities: readonly Uint8Array[];
  /** Distinct admin approvals that a governance action needs. */
  readonly threshold: number;
  readonly admins: PMap<AdminRecord>;
  readonly vendors: PMap<VendorRecord>;
  readonly clinicians: PMap<ClinicianRecord>;
  readonly devices: PMap<DeviceRecord>;
  /** Every key ever registered, by kid hex → actor string: a key identifies one principal, forever. */
  readonly kids: PMap<string>;
  /** Model (or '*') → policy. */
  readonly policies: PMap<Policy>;
  /** Actor → last nonce accepted. */
  readonly nonces: PMap<number>;
  /** Clinician id → device id → grant. */
  readonly grants: PMap<PMap<Grant>>;
  readonly releases: PMap<Release>;
  /** Model → highest released seq (anti-rollback at release time). */
  readonly latestSeq: PMap<number>;
  readonly proposals: PMap<Proposal>;
  readonly rollouts: PMap<Rollout>;
}

/** An empty state for `chain` (no principals): the base genesisState builds on. */
export function emptyState(chain: string): State {
  return Object.freeze<State>({
    v: 1,
    chain,
    height: 0,
    time: 0,
    authorities: Object.freeze([]),
    threshold: 1,
    admins: PMap.empty(),
    vendors: PMap.empty(),
    clinicians: PMap.empty(),
    devices: PMap.empty(),
    kids: PMap.empty(),
    policies: PMap.empty(),
    nonces: PMap.empty(),
    grants: PMap.empty(),
    releases: PMap.empty(),
    latestSeq: PMap.empty(),
    proposals: PMap.empty(),
    rollouts: PMap.empty(),
  });
}
