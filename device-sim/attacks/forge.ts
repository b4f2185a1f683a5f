/**
 * Forged signatures: a reading that names the device's key (its kid) but was signed by another
 * key fails verification, MG_ERR_BAD_SIGNATURE; one signed by a key the ledger does not know
 * at all is MG_ERR_UNKNOWN_KID. Neither reaches the reading log.
 */
import { signerFromSecretKey } from '../../firmware-ts/protocol/cose.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { ProtocolErrorCode as P } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode as G } from './codes.js';
import { type AttackContext, expectCode, forger, publishForAnswer, report, withAttacker } from './context.js';
import { craft } from './readings.js';

export function forgeAttack(ctx: AttackContext): Promise<void> {
  return withAttacker(ctx, async (client) => {
    const stranger = nodeBackend.generateSecretKey();
    const forged = await craft(ctx, {
      signer: forger(ctx.attacker.key.signer.kid, (message) => nodeBackend.sign(message, stranger)),
    });
    report(
      ctx,
      `reading seq ${forged.reading.seq} with the device's kid, signed by another key`,
      P.BAD_SIGNATURE,
      expectCode(await publishForAnswer(ctx, client, forged.bytes), [P.BAD_SIGNATURE]),
    );
    const unknown = await craft(ctx, { signer: signerFromSecretKey(stranger, nodeBackend) });
    report(
      ctx,
      `reading seq ${unknown.reading.seq} signed by a key the ledger does not know`,
      G.UNKNOWN_KID,
      expectCode(await publishForAnswer(ctx, client, unknown.bytes), [G.UNKNOWN_KID]),
    );
  });
}
