/**
 * Coded errors of the device simulator. Same `MedgateError` as every other part, so scripts
 * match on `.code`. Every code is listed in docs/errors.md (a test checks this).
 */
export { isMedgateError, MedgateError } from '../firmware-ts/protocol/errors.js';

export const SimErrorCode = Object.freeze({
  /** The state directory is unreadable, damaged, or belongs to another chain or gateway. */
  STATE: 'MG_ERR_SIM_STATE',
  /** No vendor key to attest new devices with (neither --vendor-key nor a demo data dir). */
  NO_VENDOR_KEY: 'MG_ERR_SIM_NO_VENDOR_KEY',
});

export type SimErrorCode = (typeof SimErrorCode)[keyof typeof SimErrorCode];
