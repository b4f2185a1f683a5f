/**
 * Ledger transactions, v1 (DESIGN §4): the types, their bodies and the firmware manifest.
 * A transaction is a COSE_Sign1 by its actor over the envelope
 * `{"type", "chain", "actor", "nonce", "t", "body"}` with external_aad = the chain id.
 * The decoders (envelope.ts, bodies.ts) are the only way untrusted bytes become these types.
 */

/** Types a signed envelope may carry directly. */
export const TX_TYPES = Object.freeze([
  'device.enrol',
  'device.approve',
  'device.revoke',
  'device.rotate',
  'clinician.register',
  'access.grant',
  'access.revoke',
  'firmware.release',
  'proposal.create',
  'proposal.approve',
  'rollout.halt',
  'update.report',
] as const);

/**
 * Actions a policy puts behind an M-of-N threshold: they are only ever carried inside a
 * `proposal.create` and applied when enough distinct admins approved. An envelope of one of
 * these types is decoded (so the refusal can name it) but the state machine refuses it.
 */
export const ACTION_TYPES = Object.freeze([
  'admin.add',
  'admin.remove',
  'governance.set',
  'vendor.register',
  'policy.set',
  'rollout.authorize',
] as const);

export type TxType = (typeof TX_TYPES)[number];
export type ActionType = (typeof ACTION_TYPES)[number];
export type EnvelopeType = TxType | ActionType;

/** The type the state machine gives to a device's own signed enrolment request (DESIGN §3). */
export const SELF_ENROL_TYPE = 'device.enrol.self';

export const UPDATE_STATES = Object.freeze([
  'downloading',
  'verified',
  'installed',
  'confirmed',
  'rolledBack',
  'failed',
] as const);
export type UpdateState = (typeof UPDATE_STATES)[number];

export const ENROLMENT_MODES = Object.freeze(['auto', 'approval'] as const);
export type EnrolmentMode = (typeof ENROLMENT_MODES)[number];

/** Key of the policy that applies to every model without one of its own. */
export const DEFAULT_POLICY_MODEL = '*';

// ---- bodies of direct transactions ----

export interface DeviceEnrolBody {
  readonly dev: string;
  readonly pub: Uint8Array;
  readonly model: string;
}
export interface DeviceApproveBody {
  readonly dev: string;
}
export interface DeviceRevokeBody {
  readonly dev: string;
  readonly reason?: string;
}
/** Signed by the device's current key; `proof` is a COSE_Sign1 by the new key (see RotateProof). */
export interface DeviceRotateBody {
  readonly pub: Uint8Array;
  readonly proof: Uint8Array;
}
export interface ClinicianRegisterBody {
  readonly id: string;
  readonly pub: Uint8Array;
}
export interface AccessBody {
  readonly clinician: string;
  readonly devs: readonly string[];
}
/** `manifest` is the vendor's COSE_Sign1 over a Manifest. */
export interface FirmwareReleaseBody {
  readonly manifest: Uint8Array;
}
export interface ProposalCreateBody {
  readonly action: Action;
  /** Block time (ms) from which approvals are refused. */
  readonly expires: number;
}
export interface ProposalApproveBody {
  /** Proposal id: SHA-256 of the proposal transaction's COSE bytes. */
  readonly proposal: Uint8Array;
}
export interface RolloutHaltBody {
  /** Rollout id (= the id of the proposal that authorised it). */
  readonly rollout: Uint8Array;
  readonly reason?: string;
}
export interface UpdateReportBody {
  readonly rollout: Uint8Array;
  readonly state: UpdateState;
  /** Sequence number of the firmware the device runs when it reports. */
  readonly seq: number;
  /** A coded reason for `failed` / `rolledBack` (for example MG_ERR_BAD_DIGEST). */
  readonly error?: string;
}

// ---- bodies of threshold actions ----

export interface AdminAddBody {
  readonly id: string;
  readonly pub: Uint8Array;
}
export interface AdminRemoveBody {
  readonly id: string;
}
export interface GovernanceSetBody {
  readonly threshold: number;
}
export interface VendorRegisterBody {
  readonly id: string;
  readonly pub: Uint8Array;
  readonly models: readonly string[];
}

/** Per-model policy (DESIGN §4, §5). */
export interface Policy {
  /** Distinct approvals a firmware rollout of this model needs. */
  readonly approvals: number;
  /** Admin ids that may approve rollouts of this model, or every current admin. */
  readonly approvers: 'all' | readonly string[];
  /** Self-enrolled devices of this model are active at once (`auto`) or wait for an admin. */
  readonly enrolment: EnrolmentMode;
  /** Largest wave a rollout of this model may have. */
  readonly maxWaveSize: number;
  /** Largest failure threshold a rollout of this model may set. */
  readonly maxFailures: number;
}

export interface PolicySetBody {
  /** A model, or DEFAULT_POLICY_MODEL. */
  readonly model: string;
  readonly policy: Policy;
}

export type RolloutTarget = { readonly devs: readonly string[] } | { readonly cohort: 'all' };

export interface RolloutAuthorizeBody {
  /** SHA-256 of the manifest's COSE bytes: the release id. */
  readonly manifest: Uint8Array;
  readonly model: string;
  readonly target: RolloutTarget;
  readonly notBefore: number;
  readonly expires: number;
  /** Sizes of the staged waves, in order. */
  readonly waves: readonly number[];
  /** The rollout halts once this many devices reported `failed` or `rolledBack`. */
  readonly maxFailures: number;
}

export interface ActionBodies {
  readonly 'admin.add': AdminAddBody;
  readonly 'admin.remove': AdminRemoveBody;
  readonly 'governance.set': GovernanceSetBody;
  readonly 'vendor.register': VendorRegisterBody;
  readonly 'policy.set': PolicySetBody;
  readonly 'rollout.authorize': RolloutAuthorizeBody;
}

export interface TxBodies extends ActionBodies {
  readonly 'device.enrol': DeviceEnrolBody;
  readonly 'device.approve': DeviceApproveBody;
  readonly 'device.revoke': DeviceRevokeBody;
  readonly 'device.rotate': DeviceRotateBody;
  readonly 'clinician.register': ClinicianRegisterBody;
  readonly 'access.grant': AccessBody;
  readonly 'access.revoke': AccessBody;
  readonly 'firmware.release': FirmwareReleaseBody;
  readonly 'proposal.create': ProposalCreateBody;
  readonly 'proposal.approve': ProposalApproveBody;
  readonly 'rollout.halt': RolloutHaltBody;
  readonly 'update.report': UpdateReportBody;
}

/** An action carried by a proposal: a discriminated union on `type`. */
export type Action = { [K in ActionType]: { readonly type: K; readonly body: ActionBodies[K] } }[ActionType];

/** The signed envelope with its typed body: a discriminated union on `type`. */
export type Tx = {
  [K in EnvelopeType]: {
    readonly type: K;
    readonly chain: string;
    readonly actor: string;
    readonly nonce: number;
    /** Signer's clock, ms since the Unix epoch. */
    readonly t: number;
    readonly body: TxBodies[K];
  };
}[EnvelopeType];

/** Payload of the vendor's manifest COSE_Sign1 (DESIGN §5). */
export interface Manifest {
  readonly vendor: string;
  readonly model: string;
  /** Monotonic per model: anti-rollback. */
  readonly seq: number;
  readonly version: string;
  /** SHA-256 of the image. */
  readonly digest: Uint8Array;
  readonly size: number;
  readonly created: number;
}

/** Payload of the new key's COSE_Sign1 inside `device.rotate`: both keys sign a rotation. */
export interface RotateProof {
  readonly purpose: 'rotate';
  readonly dev: string;
  /** kid of the key being replaced. */
  readonly old: Uint8Array;
  readonly pub: Uint8Array;
}
