/**
 * Coded errors of the web console's own checks (the protocol's codes cover the rest). Where the
 * console checks what another part checks, it uses that part's code, so one refusal reads the
 * same in the CLI, the log and the page.
 */
export { isMedgateError, MedgateError } from '../../firmware-ts/protocol/errors.js';

export const ConsoleErrorCode = Object.freeze({
  /** Same meaning as the gateway's: the reading's kid names no key of the device on the ledger. */
  UNKNOWN_KID: 'MG_ERR_UNKNOWN_KID',
  /** Same meaning as `ledger verify`'s: a block does not follow the one before it. */
  CHAIN_BROKEN_LINK: 'MG_ERR_CHAIN_BROKEN_LINK',
  /** Same meaning as `ledger verify`'s: the block's transactions do not match txCount / txRoot. */
  CHAIN_TX_MISMATCH: 'MG_ERR_CHAIN_TX_MISMATCH',
  /** The gateway answered something that is not the JSON the API documents. */
  HTTP_BAD_RESPONSE: 'MG_ERR_HTTP_BAD_RESPONSE',
  /** The key loaded into the page is not the one the ledger holds for the principal named. */
  KEY_MISMATCH: 'MG_ERR_CONSOLE_KEY_MISMATCH',
  /** A receipt that verifies, but for another leaf than the reading it was asked for. */
  RECEIPT_OTHER_LEAF: 'MG_ERR_RECEIPT_OTHER_LEAF',
});

export type ConsoleErrorCode = (typeof ConsoleErrorCode)[keyof typeof ConsoleErrorCode];
