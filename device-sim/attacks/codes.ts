/**
 * The refusal codes the attacks expect. device-sim talks to the gateway only over the network
 * (DESIGN §6), so it cannot import gateway/errors.ts: these are the documented wire values of
 * docs/errors.md, and test/sim/attacks.test.ts checks them against the gateway's own constants.
 */
export const GatewayErrorCode = Object.freeze({
  REPLAY: 'MG_ERR_REPLAY',
  UNKNOWN_KID: 'MG_ERR_UNKNOWN_KID',
  READING_SPOOFED: 'MG_ERR_READING_SPOOFED',
  PUBLISH_FORBIDDEN: 'MG_ERR_PUBLISH_FORBIDDEN',
  AUTH_BANNED: 'MG_ERR_AUTH_BANNED',
});
