/**
 * Who may publish, subscribe to and receive which topic (DESIGN §3, issue 4). Pure functions
 * of a session, a topic and the ledger state; the three aedes hooks call them. Everything not
 * listed is refused.
 *
 * | role      | publishes                                   | subscribes / receives                          |
 * | --------- | ------------------------------------------- | ---------------------------------------------- |
 * | device    | own `telemetry`, `update/status`, `fw/req/…` | own `events`, `update`, `fw/…` (not `fw/req/…`) |
 * | enrol     | nothing                                     | own `events`                                   |
 * | clinician | nothing                                     | `verified/{id}` of devices it has a grant for  |
 * | admin     | nothing                                     | `security`, `verified/{id}`, `verified/+`      |
 *
 * Gateway-owned topics (`events`, `update`, `verified/*`, `security`) are published by the
 * gateway only, through aedes' own publish, which bypasses these hooks. Wildcards: devices may
 * use them inside their own `fw/` subtree only (chunked transfers), admins only as
 * `mg/v1/verified/+`, clinicians never. The `fw/req/…` split is this gateway's convention for
 * the firmware transfer: requests go up under `req`, everything else under `fw/` comes down.
 */
import { ID_PATTERN } from '../../firmware-ts/protocol/ids.js';
import {
  MAX_FW_LEVELS,
  parseTopic,
  TOPIC_FILTERS,
  TOPIC_PREFIX,
  type Topic,
} from '../../firmware-ts/protocol/topics.js';
import { hasAccess } from '../ledger/state/queries.js';
import type { State } from '../ledger/state/state.js';
import type { Session } from './sessions.js';

/** First level under `mg/v1/dev/{id}/fw/` of the topics a device publishes requests on. */
export const FW_REQUEST_LEVEL = 'req';

/** What a device publish is, for the hook that handles it. */
export type IngressKind = 'telemetry' | 'updateStatus' | 'fw';

function parsed(topic: string): Topic | undefined {
  try {
    return parseTopic(topic);
  } catch {
    return undefined;
  }
}

function isFwRequest(topic: Topic): boolean {
  return topic.kind === 'fw' && topic.rest[0] === FW_REQUEST_LEVEL;
}

/** The kind of ingress a device publish is, or undefined when the session may not publish there. */
export function publishKind(session: Session, topic: string): IngressKind | undefined {
  if (session.kind !== 'principal' || session.principal.role !== 'device') return undefined;
  const t = parsed(topic);
  if (t === undefined || t.kind === 'security' || t.deviceId !== session.principal.id) return undefined;
  if (t.kind === 'telemetry') return 'telemetry';
  if (t.kind === 'updateStatus') return 'updateStatus';
  if (isFwRequest(t)) return 'fw';
  return undefined;
}

/** True when the topic (a message's topic, never a filter) is device ingress: nobody may receive it. */
export function isIngressTopic(topic: string): boolean {
  const t = parsed(topic);
  return t !== undefined && (t.kind === 'telemetry' || t.kind === 'updateStatus' || isFwRequest(t));
}

/** May the session receive a message on `topic`? Checked per delivery, against the live state. */
export function mayReceive(session: Session, topic: string, state: State): boolean {
  const t = parsed(topic);
  if (t === undefined) return false;
  const { role, id } = session.principal;
  if (session.kind === 'enrol') return t.kind === 'events' && t.deviceId === id;
  switch (role) {
    case 'device':
      if (t.kind === 'security' || t.deviceId !== id) return false;
      return t.kind === 'events' || t.kind === 'update' || (t.kind === 'fw' && !isFwRequest(t));
    case 'clinician':
      return t.kind === 'verified' && hasAccess(state, id, t.deviceId);
    case 'admin':
      return t.kind === 'security' || t.kind === 'verified';
    default:
      return false;
  }
}

/**
 * May the session subscribe to `filter`? Without wildcards: exactly when it may receive that
 * topic now. With wildcards: only the forms in the table above.
 */
export function maySubscribe(session: Session, filter: string, state: State): boolean {
  if (!filter.includes('+') && !filter.includes('#')) return mayReceive(session, filter, state);
  if (session.kind !== 'principal') return false;
  const { role, id } = session.principal;
  if (role === 'admin') return filter === TOPIC_FILTERS.verified;
  if (role === 'device') return isOwnFwFilter(filter, id);
  return false;
}

/** `mg/v1/dev/{id}/fw/` then 1 to MAX_FW_LEVELS levels of ids or `+`, or a final `#`. */
function isOwnFwFilter(filter: string, id: string): boolean {
  const prefix = `${TOPIC_PREFIX}/dev/${id}/fw/`;
  if (!filter.startsWith(prefix)) return false;
  const levels = filter.slice(prefix.length).split('/');
  if (levels.length < 1 || levels.length > MAX_FW_LEVELS) return false;
  return levels.every(
    (level, i) => level === '+' || (level === '#' && i === levels.length - 1) || ID_PATTERN.test(level),
  );
}
