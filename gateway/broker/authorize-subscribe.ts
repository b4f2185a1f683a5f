/**
 * aedes `authorizeSubscribe` hook: a subscription is granted only when acl.ts allows it for the
 * session, against the ledger state of that moment (a clinician's grants, for instance).
 * Refusals answer SUBACK 0x80 for that filter (MQTT 3.1.1 §3.9.3) and keep the connection:
 * asking is not misbehaving. Granted QoS is at most 1: the gateway publishes nothing at QoS 2.
 * The same hook runs again when aedes restores a persistent session's subscriptions.
 */
import type { Client, Subscription } from 'aedes';
import { GatewayErrorCode } from '../errors.js';
import type { State } from '../ledger/state/state.js';
import type { Logger } from '../log.js';
import { maySubscribe } from './acl.js';
import { loggableTopic } from './client-info.js';
import type { Sessions } from './sessions.js';

export interface AuthorizeSubscribeDeps {
  readonly sessions: Sessions;
  readonly state: () => State;
  readonly log: Logger;
}

type AuthorizeSubscribeHook = (
  client: Client,
  subscription: Subscription,
  callback: (error: Error | null, subscription?: Subscription | null) => void,
) => void;

export function createAuthorizeSubscribe(deps: AuthorizeSubscribeDeps): AuthorizeSubscribeHook {
  return (client, subscription, callback) => {
    const session = deps.sessions.of(client);
    if (session === undefined || !maySubscribe(session, subscription.topic, deps.state())) {
      (session?.log ?? deps.log).warn(
        { code: GatewayErrorCode.SUBSCRIBE_FORBIDDEN, filter: loggableTopic(subscription.topic) },
        'subscription refused',
      );
      callback(null, null);
      return;
    }
    if (subscription.qos > 1) subscription.qos = 1;
    callback(null, subscription);
  };
}
