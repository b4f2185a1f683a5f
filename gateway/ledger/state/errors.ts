/**
 * Coded refusals of the ledger state machine (DESIGN §4). `apply` throws a MedgateError with
 * one of these codes (or a protocol code for malformed bytes) and the state is unchanged.
 * Every code is listed in docs/errors.md under "Ledger state machine".
 */
import { MedgateError, type MedgateErrorDetails } from '../../../firmware-ts/protocol/errors.js';

export const StateErrorCode = Object.freeze({
  // Caller and configuration errors.
  BAD_CONTEXT: 'MG_ERR_STATE_BAD_CONTEXT',
  BAD_GENESIS: 'MG_ERR_GENESIS_INVALID',
  SNAPSHOT_INVALID: 'MG_ERR_STATE_SNAPSHOT_INVALID',

  // Envelope rules, checked for every transaction.
  WRONG_CHAIN: 'MG_ERR_TX_WRONG_CHAIN',
  UNKNOWN_ACTOR: 'MG_ERR_UNKNOWN_ACTOR',
  ACTOR_NOT_ALLOWED: 'MG_ERR_ACTOR_NOT_ALLOWED',
  NONCE_REPLAY: 'MG_ERR_TX_NONCE_REPLAY',
  NONCE_STALE: 'MG_ERR_TX_NONCE_STALE',
  FROM_FUTURE: 'MG_ERR_TX_FROM_FUTURE',
  NEEDS_PROPOSAL: 'MG_ERR_TX_NEEDS_PROPOSAL',

  // Identities and keys.
  KEY_IN_USE: 'MG_ERR_KEY_IN_USE',
  ALREADY_EXISTS: 'MG_ERR_ALREADY_EXISTS',
  UNKNOWN_ADMIN: 'MG_ERR_UNKNOWN_ADMIN',
  UNKNOWN_VENDOR: 'MG_ERR_UNKNOWN_VENDOR',
  UNKNOWN_CLINICIAN: 'MG_ERR_UNKNOWN_CLINICIAN',
  GOVERNANCE_UNSATISFIABLE: 'MG_ERR_GOVERNANCE_UNSATISFIABLE',

  // Devices.
  DEVICE_EXISTS: 'MG_ERR_DEVICE_EXISTS',
  UNKNOWN_DEVICE: 'MG_ERR_UNKNOWN_DEVICE',
  DEVICE_NOT_PENDING: 'MG_ERR_DEVICE_NOT_PENDING',
  DEVICE_NOT_ACTIVE: 'MG_ERR_DEVICE_NOT_ACTIVE',
  DEVICE_REVOKED: 'MG_ERR_DEVICE_REVOKED',
  VENDOR_MODEL: 'MG_ERR_VENDOR_MODEL',
  ATTESTATION_MISMATCH: 'MG_ERR_ATTESTATION_MISMATCH',
  ROTATE_MISMATCH: 'MG_ERR_ROTATE_MISMATCH',

  // Access grants.
  ALREADY_GRANTED: 'MG_ERR_ALREADY_GRANTED',
  NOT_GRANTED: 'MG_ERR_NOT_GRANTED',

  // Firmware and rollouts.
  UNKNOWN_RELEASE: 'MG_ERR_UNKNOWN_RELEASE',
  RELEASE_SEQ_EQUAL: 'MG_ERR_RELEASE_SEQ_EQUAL',
  RELEASE_SEQ_LOWER: 'MG_ERR_RELEASE_SEQ_LOWER',
  MODEL_MISMATCH: 'MG_ERR_MODEL_MISMATCH',
  POLICY_LIMIT: 'MG_ERR_POLICY_LIMIT',
  UNKNOWN_ROLLOUT: 'MG_ERR_UNKNOWN_ROLLOUT',
  ROLLOUT_HALTED: 'MG_ERR_ROLLOUT_HALTED',
  NOT_TARGETED: 'MG_ERR_NOT_TARGETED',
  REPORT_OUT_OF_ORDER: 'MG_ERR_REPORT_OUT_OF_ORDER',
  REPORT_BAD_SEQ: 'MG_ERR_REPORT_BAD_SEQ',

  // Proposals and approvals (M-of-N).
  UNKNOWN_PROPOSAL: 'MG_ERR_UNKNOWN_PROPOSAL',
  PROPOSAL_EXPIRED: 'MG_ERR_PROPOSAL_EXPIRED',
  PROPOSAL_CLOSED: 'MG_ERR_PROPOSAL_CLOSED',
  BAD_EXPIRY: 'MG_ERR_BAD_EXPIRY',
  DUPLICATE_APPROVAL: 'MG_ERR_DUPLICATE_APPROVAL',
  NOT_APPROVER: 'MG_ERR_NOT_APPROVER',
});

export type StateErrorCode = (typeof StateErrorCode)[keyof typeof StateErrorCode];

/** A refusal of the state machine. */
export function refuse(code: StateErrorCode, message: string, details?: MedgateErrorDetails): MedgateError {
  return new MedgateError(code, message, details);
}
