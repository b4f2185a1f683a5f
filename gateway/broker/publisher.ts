/**
 * How the gateway itself publishes: device events (CBOR, DESIGN §3), verified readings and
 * security events (JSON), update offers. Through aedes' own `publish`, which bypasses
 * `authorizePublish` (only the gateway writes gateway-owned topics) but not `authorizeForward`,
 * so every delivery is still checked against the subscriber's rights at that moment.
 */
import type { Aedes, Client } from 'aedes';
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { eventsTopic, SECURITY_TOPIC, verifiedTopic } from '../../firmware-ts/protocol/topics.js';

export interface PublishOptions {
  /** Default 1. */
  readonly qos?: 0 | 1;
  /** Default false. */
  readonly retain?: boolean;
}

/** A security event for admins on `mg/v1/security` (JSON). */
export interface SecurityEvent {
  /** What happened, e.g. `connect.refused`, `publish.forbidden`, `reading.refused`. */
  readonly type: string;
  /** The MG_ERR_* code. */
  readonly code: string;
  /** Principal id concerned, when known. */
  readonly principal?: string;
  /** Device concerned, when it is not the principal. */
  readonly dev?: string;
  readonly remote?: string;
  /** More JSON-safe fields; never payloads, tokens or keys. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface GatewayPublisher {
  publish(topic: string, payload: Uint8Array | string, options?: PublishOptions): Promise<void>;
  /** A CBOR map on `mg/v1/dev/{id}/events`, QoS 1, not retained. */
  deviceEvent(deviceId: string, event: Readonly<Record<string, unknown>>): Promise<void>;
  /** A JSON document on `mg/v1/verified/{id}`, QoS 1. */
  verified(deviceId: string, json: unknown): Promise<void>;
  /** A JSON security event on `mg/v1/security` with the gateway's time `t`, QoS 1. */
  security(event: SecurityEvent): Promise<void>;
}

/**
 * Whether `client` (a live aedes client) has a subscription whose filter matches `topic`
 * (MQTT 3.1.1 §4.7). The gateway skips a QoS 0, unretained publication that only this client
 * may receive when it would reach nobody: aedes would build, route and drop it. Reads aedes'
 * own per-client subscription table (`client.subscriptions`, filter → subscription, kept by its
 * subscribe and unsubscribe handlers); should that table be missing, the answer is true.
 */
export function listensTo(client: Client | undefined, topic: string): boolean {
  if (client === undefined || client.closed) return false;
  const subscriptions = (client as unknown as { subscriptions?: unknown }).subscriptions;
  if (typeof subscriptions !== 'object' || subscriptions === null) return true;
  if (Object.hasOwn(subscriptions, topic)) return true;
  for (const filter in subscriptions) {
    if ((filter.includes('+') || filter.includes('#')) && filterMatches(filter, topic)) return true;
  }
  return false;
}

/** MQTT 3.1.1 §4.7 topic filter matching (`+` one level, a final `#` any number, `$` topics apart). */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && !filter.startsWith('$')) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return i === f.length - 1;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export function createPublisher(broker: Aedes, now: () => number = Date.now): GatewayPublisher {
  const publish = (
    topic: string,
    payload: Uint8Array | string,
    options: PublishOptions = {},
  ): Promise<void> =>
    new Promise((resolve, reject) => {
      if (broker.closed) {
        resolve(); // Nobody is connected to receive it.
        return;
      }
      broker.publish(
        {
          cmd: 'publish',
          topic,
          payload:
            typeof payload === 'string'
              ? Buffer.from(payload, 'utf8')
              : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
          qos: options.qos ?? 1,
          retain: options.retain ?? false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value), 'utf8');
  const publisher: GatewayPublisher = {
    publish,
    deviceEvent: (deviceId, event) =>
      publish(
        eventsTopic(deviceId),
        encodeCbor(new Map(Object.entries(event).filter(([, value]) => value !== undefined))),
      ),
    verified: (deviceId, value) => publish(verifiedTopic(deviceId), json(value)),
    security: (event) => publish(SECURITY_TOPIC, json({ ...event, t: now() })),
  };
  return Object.freeze(publisher);
}
