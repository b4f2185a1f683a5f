/**
 * Flood: a device that keeps sending bad readings (here: forged signatures, as fast as the
 * connection takes them). The gateway's failure score (gateway/telemetry/penalty.ts, docs/mqtt.md
 * "A client that keeps failing") first delays its PUBACKs, then bans it: the connection is
 * closed and a new CONNECT, even with a valid token, gets CONNACK 5 (MG_ERR_AUTH_BANNED) until
 * the ban ends. Only the attacking device is banned; the rest of the fleet keeps streaming.
 */
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { telemetryTopic } from '../../firmware-ts/protocol/topics.js';
import { connectToken } from '../device/credentials.js';
import { ConnectError, openMqtt } from '../device/mqtt.js';
import { GatewayErrorCode as G } from './codes.js';
import { type AttackContext, forger, report, withAttacker } from './context.js';
import { craft } from './readings.js';

/** Most readings the flood sends; the gateway must have cut it off well before. */
export const FLOOD_MAX = 200;

export function floodAttack(ctx: AttackContext): Promise<void> {
  return withAttacker(ctx, async (client) => {
    const stranger = nodeBackend.generateSecretKey();
    const signer = forger(ctx.attacker.key.signer.kid, (message) => nodeBackend.sign(message, stranger));
    const closed = ctx.attacker.sessionClosed() ?? Promise.resolve();
    let isClosed = false;
    void closed.then(() => {
      isClosed = true;
    });
    const codes = new Map<string, number>();
    const unwatch = ctx.attacker.watch((e) => {
      if (e.type === 'rejected') codes.set(String(e.code), (codes.get(String(e.code)) ?? 0) + 1);
    });
    let sent = 0;
    for (; sent < FLOOD_MAX && !isClosed; sent++) {
      const { bytes } = await craft(ctx, { signer });
      client.publish(telemetryTopic(ctx.attacker.id), Buffer.from(bytes), { qos: 1 });
      if (sent % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
    }
    let timer: NodeJS.Timeout | undefined;
    const cutOff = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 10_000);
      }),
    ]);
    clearTimeout(timer);
    unwatch();
    const refusals = [...codes].map(([code, n]) => `${n}× ${code}`).join(', ') || 'no refusals';
    report(ctx, `burst of ${sent} forged readings`, 'refusals, then the connection closed (ban)', {
      answer: `${refusals}; ${cutOff ? 'connection closed by the gateway' : 'connection still open'}`,
      ok: cutOff,
    });

    let answer: string;
    let ok = false;
    try {
      const again = await openMqtt(ctx.url, {
        clientId: ctx.attacker.id,
        username: ctx.attacker.id,
        password: connectToken(ctx.attacker.key, ctx.chain, ctx.attacker.id),
        connectTimeoutMs: ctx.connectTimeoutMs,
        ...(ctx.mqtt === undefined ? {} : { mqtt: ctx.mqtt }),
      });
      again.end(true);
      answer = 'CONNACK 0 (accepted)';
    } catch (err) {
      answer = err instanceof ConnectError ? err.message : `no connection (${(err as Error).message})`;
      ok = err instanceof ConnectError && err.returnCode === 5;
    }
    report(ctx, 'reconnect at once with a valid token', `CONNACK 5 (${G.AUTH_BANNED})`, { answer, ok });
  });
}
