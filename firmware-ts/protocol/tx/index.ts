/** Ledger transactions v1 (DESIGN §4): the public surface shared by the gateway, the CLI and devices. */
export { type ActorKind, type ActorRef, actorOf, parseActor } from './actor.js';
export {
  decodeAction,
  decodeBody,
  decodePolicy,
  encodeAction,
  encodeBody,
  encodePolicy,
  TX_LIMITS,
} from './bodies.js';
export {
  type DecodedSelfEnrol,
  decodeAttestationCose,
  decodeLedgerEntry,
  entryType,
  type LedgerEntry,
} from './entry.js';
export { decodeEnvelope, encodeEnvelope } from './envelope.js';
export { decodeManifest, encodeManifest, MAX_IMAGE_SIZE } from './manifest.js';
export { decodeRotateProof, encodeRotateProof } from './rotate.js';
export {
  type DecodedTx,
  decodeManifestCose,
  decodeRotateProofCose,
  decodeTx,
  encodeTx,
  signManifest,
  signRotateProof,
  signTx,
  TX_CBOR_LIMITS,
  TX_MAX_BYTES,
  txId,
} from './sign.js';
export {
  ACTION_TYPES,
  type Action,
  type ActionType,
  DEFAULT_POLICY_MODEL,
  ENROLMENT_MODES,
  type EnvelopeType,
  type Manifest,
  type Policy,
  type RolloutTarget,
  type RotateProof,
  SELF_ENROL_TYPE,
  TX_TYPES,
  type Tx,
  type TxBodies,
  type TxType,
  UPDATE_STATES,
  type UpdateState,
} from './types.js';
