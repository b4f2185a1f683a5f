/**
 * Coded refusals of the device's update agent (DESIGN §5). One code per check of the offer, in
 * the order the agent runs them, then the download, install and trust-bundle codes. A device
 * reports the code in its signed `update.report` (`error`), so each is at most 64 of [A-Z0-9_].
 * Decoding failures keep the protocol's own codes (MG_ERR_CBOR_*, MG_ERR_COSE_*, MG_ERR_BAD_FIELD).
 */
import { MedgateError, type MedgateErrorDetails } from '../protocol/errors.js';

export const UpdateErrorCode = Object.freeze({
  // Offer checks, in order (update wire format v1).
  /** A block of the offer is not signed by an authority of the bundle (forged block). */
  BAD_BLOCK: 'MG_ERR_UPDATE_BAD_BLOCK',
  /** A block or transaction of the offer belongs to another chain than the bundle's. */
  WRONG_CHAIN: 'MG_ERR_UPDATE_WRONG_CHAIN',
  /** The transaction that completed the threshold is not proven to be in the signed block. */
  NOT_IN_BLOCK: 'MG_ERR_UPDATE_NOT_IN_BLOCK',
  /** The manifest is not signed by a vendor of the bundle allowed for its model (arbitrary software). */
  UNTRUSTED_VENDOR: 'MG_ERR_UPDATE_UNTRUSTED_VENDOR',
  /** The manifest is for another model than this device's. */
  WRONG_MODEL: 'MG_ERR_UPDATE_WRONG_MODEL',
  /** The manifest's seq is below the installed one (rollback). */
  ROLLBACK: 'MG_ERR_UPDATE_ROLLBACK',
  /** The manifest's seq equals the installed one. */
  ALREADY_INSTALLED: 'MG_ERR_UPDATE_ALREADY_INSTALLED',
  /** The proposal or an approval is not the transaction an offer must carry. */
  BAD_OFFER: 'MG_ERR_UPDATE_BAD_OFFER',
  /** Fewer distinct trusted admins approved than the bundle's threshold. */
  BELOW_THRESHOLD: 'MG_ERR_UPDATE_BELOW_THRESHOLD',
  /** Parts of the offer never belonged together: another proposal, manifest digest or model. */
  MIX_AND_MATCH: 'MG_ERR_UPDATE_MIX_AND_MATCH',
  /** The authorised rollout does not target this device. */
  NOT_TARGETED: 'MG_ERR_UPDATE_NOT_TARGETED',
  /** The rollout expired before the newest signed block time seen (freeze). */
  EXPIRED: 'MG_ERR_UPDATE_EXPIRED',
  /** The rollout's notBefore is after the newest signed block time seen. */
  NOT_YET: 'MG_ERR_UPDATE_NOT_YET',

  // Download and install.
  /** More image data than the manifest's size, or an image larger than the slot. */
  TOO_LARGE: 'MG_ERR_UPDATE_TOO_LARGE',
  /** A chunk for another digest or offset, or longer than asked for. */
  BAD_CHUNK: 'MG_ERR_UPDATE_BAD_CHUNK',
  /** A chunk or the whole download took longer than allowed (slow retrieval). */
  TIMEOUT: 'MG_ERR_UPDATE_TIMEOUT',
  /** The transport failed; the download resumes from the stored offset with the next offer. */
  INTERRUPTED: 'MG_ERR_UPDATE_INTERRUPTED',
  /** The image's SHA-256 is not the manifest's digest. */
  BAD_DIGEST: 'MG_ERR_UPDATE_BAD_DIGEST',
  /** The slot no longer holds the verified image when it is about to boot (swapped after the check). */
  SLOT_MISMATCH: 'MG_ERR_UPDATE_SLOT_MISMATCH',
  /** The new image failed its self-test in the trial boot; the device rolled back. */
  SELF_TEST_FAILED: 'MG_ERR_UPDATE_SELF_TEST_FAILED',
  /** Another update is in progress, or a trial boot awaits resume(). */
  BUSY: 'MG_ERR_UPDATE_BUSY',

  // Trust bundle replacement (TUF root rotation).
  /** A replacement bundle is not signed by the threshold of distinct current admins. */
  BUNDLE_THRESHOLD: 'MG_ERR_UPDATE_BUNDLE_THRESHOLD',
  /** A replacement bundle's seq is not above the current one. */
  BUNDLE_SEQ: 'MG_ERR_UPDATE_BUNDLE_SEQ',
  /** A replacement bundle names another chain. */
  BUNDLE_CHAIN: 'MG_ERR_UPDATE_BUNDLE_CHAIN',
});

export type UpdateErrorCode = (typeof UpdateErrorCode)[keyof typeof UpdateErrorCode];

export function updateError(
  code: UpdateErrorCode,
  message: string,
  details: MedgateErrorDetails = {},
): MedgateError {
  return new MedgateError(code, message, details);
}
