/** The ledger state machine (DESIGN §4): its State, the pure `apply`, snapshots and queries. */
export { type ApplyContext, type ApplyResult, createStateMachine, type StateMachine } from './apply.js';
export { STATE_LIMITS } from './common.js';
export type { Effect } from './effects.js';
export { decodeState, encodeState, stateRoot } from './encode.js';
export { StateErrorCode } from './errors.js';
export { PMap } from './pmap.js';
export {
  actorKeyOf,
  actorNonce,
  currentKey,
  deviceOf,
  grantsOf,
  hasAccess,
  keyAt,
  keyValidAt,
  type ProposalView,
  pendingProposals,
  policyOf,
  proposalOf,
  type RolloutProgress,
  type RolloutStatus,
  rolloutProgress,
  rolloutsOf,
} from './queries.js';
export { countApprovals } from './rules-governance.js';
export {
  type AdminRecord,
  type Approval,
  type ClinicianRecord,
  type DeviceRecord,
  type DeviceReport,
  type DeviceStatus,
  emptyState,
  type FirmwareInfo,
  type Grant,
  type KeyEpoch,
  type Proposal,
  type ProposalStatus,
  type Release,
  type Rollout,
  type Stamp,
  type State,
  type VendorRecord,
} from './state.js';
