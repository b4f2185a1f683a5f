/**
 * Replay (DESIGN §3): the same seq with the same bytes is a duplicate (acknowledged, stored
 * once, no second leaf); the same seq with other bytes is a replay, MG_ERR_REPLAY.
 */
import { GatewayErrorCode as G } from './codes.js';
import {
  type AttackContext,
  describeEvent,
  expectCode,
  publishForAnswer,
  report,
  withAttacker,
} from './context.js';
import { craft } from './readings.js';

export function replayAttack(ctx: AttackContext): Promise<void> {
  return withAttacker(ctx, async (client) => {
    const original = await craft(ctx);
    const first = await publishForAnswer(ctx, client, original.bytes);
    if (first === 'closed' || first?.type !== 'accepted') {
      report(ctx, `send a genuine reading seq ${original.reading.seq}`, 'accepted', {
        answer: first === 'closed' ? 'connection closed' : describeEvent(first),
        ok: false,
      });
      return;
    }
    const again = await publishForAnswer(ctx, client, original.bytes, undefined, 1_500);
    report(
      ctx,
      `resend the accepted reading seq ${original.reading.seq} byte for byte`,
      'duplicate: PUBACK, no new leaf',
      {
        answer:
          again === 'closed'
            ? 'connection closed'
            : again === undefined
              ? 'PUBACK, no new leaf (duplicate)'
              : describeEvent(again),
        ok: again === undefined,
      },
    );
    const altered = await craft(ctx, {
      seq: original.reading.seq,
      obs: [{ code: '8867-4', v: 180, u: '/min' }],
    });
    report(
      ctx,
      `seq ${original.reading.seq} again with other values (validly signed)`,
      G.REPLAY,
      expectCode(await publishForAnswer(ctx, client, altered.bytes), [G.REPLAY]),
    );
  });
}
