/**
 * aedes `authorizePublish` hook. Only devices publish, and only to their own ingress topics
 * (acl.ts); each authorised publish is handed to its handler (telemetry-seam.ts) and aedes is
 * called back when the handler settles, so the PUBACK follows the durable append.
 *
 * Refusals pass an error, and aedes then closes the connection without acknowledging
 * (MQTT 3.1.1 §3.3.5 [MQTT-3.3.5-2] allows exactly that): a topic the client may not publish
 * to (MG_ERR_PUBLISH_FORBIDDEN: another device's, gateway-owned, `$SYS`, not v1), QoS 0 where
 * an acknowledgement is the point (MG_ERR_QOS_REQUIRED), a topic without a service
 * (MG_ERR_TOPIC_NOT_SERVED), a stopping gateway, a handler that could not store the message.
 * A well-behaved device meets none of these; a refused *reading* (bad signature, replay, ...)
 * is not one of them either: the handler resolves 'refused', the device gets its PUBACK and a
 * coded event, and stays connected.
 *
 * Also refused: publishes of a client without a session and of a closed client (aedes
 * publishes a client's will through this hook after it is gone; nobody may publish on a
 * device's behalf without its live connection). Device publishes are never stored as retained.
 */
import type { Client, PublishPacket } from 'aedes';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Penalty } from '../telemetry/penalty.js';
import { publishKind } from './acl.js';
import { loggableTopic } from './client-info.js';
import type { Inflight } from './inflight.js';
import type { SecurityEvent } from './publisher.js';
import type { Sessions } from './sessions.js';
import type { IngressHandlers, PublishInfo } from './telemetry-seam.js';

export interface AuthorizePublishDeps {
  readonly sessions: Sessions;
  readonly handlers: IngressHandlers;
  readonly inflight: Inflight;
  /** Failure scores of principals: misbehaviour raises them; a slowed client's acks wait. */
  readonly penalty: Penalty;
  readonly stopping: () => boolean;
  readonly log: Logger;
  readonly security: (event: SecurityEvent) => void;
}

type AuthorizePublishHook = (
  client: Client | null,
  packet: PublishPacket,
  callback: (error?: Error | null) => void,
) => void;

export function createAuthorizePublish(deps: AuthorizePublishDeps): AuthorizePublishHook {
  return (client, packet, callback) => {
    const session = deps.sessions.of(client);
    if (client === null || session === undefined || client.closed) {
      deps.log.debug({ topic: loggableTopic(packet.topic) }, 'publish without a live session refused');
      callback(new MedgateError(GatewayErrorCode.PUBLISH_FORBIDDEN, 'no live session publishes'));
      return;
    }
    const kind = publishKind(session, packet.topic);
    if (kind === undefined) {
      const code = GatewayErrorCode.PUBLISH_FORBIDDEN;
      session.log.warn(
        { code, topic: loggableTopic(packet.topic) },
        'publish refused; closing the connection',
      );
      deps.penalty.onRefusal(session.id);
      deps.security({ type: 'publish.forbidden', code, principal: session.id, remote: session.remote });
      callback(new MedgateError(code, 'this client may not publish to that topic', { field: 'topic' }));
      return;
    }
    if (packet.qos === 0) {
      const code = GatewayErrorCode.QOS_REQUIRED;
      session.log.warn({ code, kind }, 'QoS 0 publish refused; closing the connection');
      deps.penalty.onRefusal(session.id);
      callback(
        new MedgateError(code, `${kind} must be published at QoS 1`, { field: 'qos', got: 0, want: 1 }),
      );
      return;
    }
    const handler = deps.handlers[kind];
    if (handler === undefined) {
      const code = GatewayErrorCode.TOPIC_NOT_SERVED;
      session.log.warn({ code, kind }, 'no service for this topic; closing the connection');
      callback(new MedgateError(code, `this gateway does not serve ${kind}`));
      return;
    }
    if (deps.stopping()) {
      callback(new MedgateError(GatewayErrorCode.GATEWAY_STOPPING, 'the gateway is stopping'));
      return;
    }
    const info: PublishInfo = {
      topic: packet.topic,
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
    };
    packet.retain = false;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const end = deps.inflight.begin();
    let answer: Promise<unknown>;
    try {
      answer = handler.handle({ principal: session.id, deviceId: session.principal.id }, payload, info);
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      () => {
        end();
        // A client that keeps failing (penalty.ts) gets its acknowledgements late.
        const delayMs = deps.penalty.delayMs(session.id);
        if (delayMs > 0) setTimeout(callback, delayMs, null).unref();
        else callback(null);
      },
      (err: unknown) => {
        end();
        const error = err instanceof Error ? err : new Error(String(err));
        session.log.warn(
          { err: error, kind },
          'publish not stored; closing the connection so the device redelivers',
        );
        callback(error);
      },
    );
  };
}
