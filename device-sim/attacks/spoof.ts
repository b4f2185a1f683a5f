/**
 * Spoofing another device: a reading that names the victim, published on the attacker's own
 * topic (MG_ERR_READING_SPOOFED); a CONNECT as the victim with the attacker's key (CONNACK 4);
 * a publish on the victim's telemetry topic (MG_ERR_PUBLISH_FORBIDDEN: the gateway closes the
 * connection without a PUBACK, MQTT 3.1.1 §3.3.5). The attacker reconnects afterwards.
 */
import { telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { connectToken } from '../device/credentials.js';
import { ConnectError, openMqtt } from '../device/mqtt.js';
import { GatewayErrorCode as G } from './codes.js';
import { type AttackContext, expectCode, publishForAnswer, report, withAttacker } from './context.js';
import { craft } from './readings.js';

export function spoofAttack(ctx: AttackContext): Promise<void> {
  return withAttacker(ctx, async (client) => {
    const named = await craft(ctx, { dev: ctx.victim });
    report(
      ctx,
      `reading with dev=${ctx.victim}, signed by ${ctx.attacker.id}, on its own topic`,
      G.READING_SPOOFED,
      expectCode(await publishForAnswer(ctx, client, named.bytes), [G.READING_SPOOFED]),
    );

    let connack: string;
    let ok = false;
    try {
      const stolen = await openMqtt(ctx.url, {
        clientId: ctx.victim,
        username: ctx.victim,
        password: connectToken(ctx.attacker.key, ctx.chain, ctx.victim),
        connectTimeoutMs: ctx.connectTimeoutMs,
        ...(ctx.mqtt === undefined ? {} : { mqtt: ctx.mqtt }),
      });
      stolen.end(true);
      connack = 'CONNACK 0 (accepted)';
    } catch (err) {
      connack = err instanceof ConnectError ? err.message : `no connection (${(err as Error).message})`;
      ok = err instanceof ConnectError && err.returnCode === 4;
    }
    report(ctx, `CONNECT as ${ctx.victim} with a token signed by ${ctx.attacker.id}'s key`, 'CONNACK 4', {
      answer: connack,
      ok,
    });

    const own = await craft(ctx);
    const answer = await publishForAnswer(ctx, client, own.bytes, telemetryTopic(ctx.victim));
    report(
      ctx,
      `publish on ${telemetryTopic(ctx.victim)}`,
      `${G.PUBLISH_FORBIDDEN}: connection closed, no PUBACK`,
      {
        answer: answer === 'closed' ? 'connection closed without PUBACK' : expectCode(answer, []).answer,
        ok: answer === 'closed',
      },
    );
  });
}
