/**
 * Who may publish, subscribe to and receive which topic (DESIGN §3, issue 4). Pure functions
 * of a session, a topic and the ledger state; the three aedes hooks call them. Everything not
 * listed is refused.
 *
 * | role      | publishes                                 | subscribes / receives                         |
 * | --------- | ----------------------------------------- | --------------------------------------------- |
 * | device    | own `telemetry`, `update/status`, `fw/get` | own `events`, `update`, `fw/data`             |
 * | enrol     | nothing                                   | own `events`                                  |
 * | clinician | nothing                                   | `verified/{id}` of devices it has a grant for |
 * | admin     | nothing                                   | `security`, `verified/{id}`, `verified/+`     |
 *
 * Gateway-owned topics (`events`, `update`, `fw/data`, `verified/*`, `security`) are published
 * by the gateway only, through aedes' own publish, which bypasses these hooks. Wildcards: admins
 * only as `mg/v1/verified/+`, devices and clinicians never. The firmware transfer (update wire
 * format v1): chunk requests go up on `fw/get`, chunks come down on `fw/data`; no other `fw/`
 * topic is used.
 */
import {
  MAX_TOPIC_LENGTH,
  parseTopic,
  TOPIC_FILTERS,
  type Topic,
} from '../../firmware-ts/protocol/topics.js';
import { hasAccess } from '../ledger/state/queries.js';
import type { State } from '../ledger/state/state.js';
import type { Session } from './sessions.js';

/** `mg/v1/dev/{id}/fw/get`: chunk requests, device → gateway (update wire format v1). */
export const FW_REQUEST_LEVEL = 'get';
/** `mg/v1/dev/{id}/fw/data`: chunks, gateway → device. */
export const FW_DATA_LEVEL = 'data';

/** What a device publish is, for the hook that handles it. */
export type IngressKind = 'telemetry' | 'updateStatus' | 'fw';

/**
 * Parsed topics by name. A publish is judged by several hooks (authorizePublish, then
 * authorizeForward per delivery), and a device publishes on the same few topics all its life:
 * each name is parsed once. Topics are frozen, so one value serves every caller; a refused
 * name is kept as null. Bounded: cleared when full, at most a reparse of the live names.
 */
const TOPIC_CACHE_SIZE = 65_536;
const topicCache = new Map<string, Topic | null>();

function parsed(topic: string): Topic | undefined {
  // Names over the limit are refused unparsed and never kept: 65,536 × 256 characters at most.
  if (topic.length > MAX_TOPIC_LENGTH) return undefined;
  const hit = topicCache.get(topic);
  if (hit !== undefined) return hit ?? undefined;
  let value: Topic | null;
  try {
    value = parseTopic(topic);
  } catch {
    value = null;
  }
  if (topicCache.size >= TOPIC_CACHE_SIZE) topicCache.clear();
  topicCache.set(topic, value);
  return value ?? undefined;
}

function isFwRequest(topic: Topic): boolean {
  return topic.kind === 'fw' && topic.rest.length === 1 && topic.rest[0] === FW_REQUEST_LEVEL;
}

function isFwData(topic: Topic): boolean {
  return topic.kind === 'fw' && topic.rest.length === 1 && topic.rest[0] === FW_DATA_LEVEL;
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
      return t.kind === 'events' || t.kind === 'update' || isFwData(t);
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
  return (
    session.kind === 'principal' && session.principal.role === 'admin' && filter === TOPIC_FILTERS.verified
  );
}
