/**
 * MQTT topics of the v1 protocol (DESIGN §3). Builders for each topic, subscription filters,
 * and `parseTopic`, which turns a topic name from the wire into a typed value or refuses it
 * (MG_ERR_BAD_TOPIC): wildcards, `$`-topics, empty levels, overlong names, unknown shapes.
 *
 *   mg/v1/dev/{id}/telemetry | events | update | update/status | fw/{1..4 levels}
 *   mg/v1/verified/{id}
 *   mg/v1/security
 */
import { MedgateError, ProtocolErrorCode } from './errors.js';
import { assertDeviceId, ID_PATTERN, isDeviceId } from './ids.js';

export const TOPIC_PREFIX = 'mg/v1';

/** Longest topic accepted. Only fw topics can reach it; their builder checks it too. */
export const MAX_TOPIC_LENGTH = 256;

/** Levels under `mg/v1/dev/{id}/fw/` (the transfer protocol is defined elsewhere). */
export const MAX_FW_LEVELS = 4;

export type DeviceTopicKind = 'telemetry' | 'events' | 'update' | 'updateStatus';

export type Topic =
  | { readonly kind: DeviceTopicKind; readonly deviceId: string }
  | { readonly kind: 'fw'; readonly deviceId: string; readonly rest: readonly string[] }
  | { readonly kind: 'verified'; readonly deviceId: string }
  | { readonly kind: 'security' };

/** Subscription filters (MQTT 3.1.1 §4.7) for each kind of topic, across all devices. */
export const TOPIC_FILTERS = Object.freeze({
  telemetry: `${TOPIC_PREFIX}/dev/+/telemetry`,
  events: `${TOPIC_PREFIX}/dev/+/events`,
  update: `${TOPIC_PREFIX}/dev/+/update`,
  updateStatus: `${TOPIC_PREFIX}/dev/+/update/status`,
  fw: `${TOPIC_PREFIX}/dev/+/fw/#`,
  verified: `${TOPIC_PREFIX}/verified/+`,
  security: `${TOPIC_PREFIX}/security`,
});

export const SECURITY_TOPIC = `${TOPIC_PREFIX}/security`;

const DEVICE_SUFFIX: Readonly<Record<DeviceTopicKind, string>> = Object.freeze({
  telemetry: 'telemetry',
  events: 'events',
  update: 'update',
  updateStatus: 'update/status',
});

function badTopic(message: string, topic: unknown): MedgateError {
  const got = typeof topic === 'string' ? topic.slice(0, 80) : typeof topic;
  return new MedgateError(ProtocolErrorCode.BAD_TOPIC, `topic ${message}`, { field: 'topic', got });
}

export function telemetryTopic(deviceId: string): string {
  return `${TOPIC_PREFIX}/dev/${assertDeviceId(deviceId)}/telemetry`;
}

export function eventsTopic(deviceId: string): string {
  return `${TOPIC_PREFIX}/dev/${assertDeviceId(deviceId)}/events`;
}

export function updateTopic(deviceId: string): string {
  return `${TOPIC_PREFIX}/dev/${assertDeviceId(deviceId)}/update`;
}

export function updateStatusTopic(deviceId: string): string {
  return `${TOPIC_PREFIX}/dev/${assertDeviceId(deviceId)}/update/status`;
}

/** `mg/v1/dev/{id}/fw/{levels...}`: 1 to 4 levels of the id alphabet (MG_ERR_BAD_TOPIC otherwise). */
export function fwTopic(deviceId: string, ...levels: readonly string[]): string {
  const id = assertDeviceId(deviceId);
  if (levels.length < 1 || levels.length > MAX_FW_LEVELS) {
    throw badTopic(`fw needs 1 to ${MAX_FW_LEVELS} levels, got ${levels.length}`, levels.join('/'));
  }
  for (const level of levels) {
    if (typeof level !== 'string' || !ID_PATTERN.test(level))
      throw badTopic('fw level is not allowed', level);
  }
  const topic = `${TOPIC_PREFIX}/dev/${id}/fw/${levels.join('/')}`;
  if (topic.length > MAX_TOPIC_LENGTH)
    throw badTopic(`must be at most ${MAX_TOPIC_LENGTH} characters`, topic);
  return topic;
}

export function verifiedTopic(deviceId: string): string {
  return `${TOPIC_PREFIX}/verified/${assertDeviceId(deviceId)}`;
}

/** The topic name of `topic`; the inverse of `parseTopic`. */
export function formatTopic(topic: Topic): string {
  switch (topic.kind) {
    case 'security':
      return SECURITY_TOPIC;
    case 'verified':
      return verifiedTopic(topic.deviceId);
    case 'fw':
      return fwTopic(topic.deviceId, ...topic.rest);
    case 'telemetry':
    case 'events':
    case 'update':
    case 'updateStatus':
      return `${TOPIC_PREFIX}/dev/${assertDeviceId(topic.deviceId)}/${DEVICE_SUFFIX[topic.kind]}`;
    default:
      throw badTopic('kind is unknown', (topic as { kind?: unknown }).kind);
  }
}

function deviceTopic(kind: DeviceTopicKind, deviceId: string): Topic {
  return Object.freeze({ kind, deviceId });
}

/**
 * The v1 topic named by `topic` (a topic name from a PUBLISH, never a filter). Throws
 * MG_ERR_BAD_TOPIC for anything else.
 */
export function parseTopic(topic: unknown): Topic {
  if (typeof topic !== 'string') throw badTopic('must be a string', topic);
  if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw badTopic(`must be 1 to ${MAX_TOPIC_LENGTH} characters`, topic);
  }
  // Wildcards belong in filters only (MQTT 3.1.1 §4.7.1); `$` topics are the broker's (§4.7.2).
  if (topic.includes('+') || topic.includes('#')) throw badTopic('must not hold wildcards', topic);
  if (topic.startsWith('$')) throw badTopic('must not start with $', topic);
  const levels = topic.split('/');
  if (levels.includes('')) throw badTopic('must not have empty levels', topic);
  if (levels[0] !== 'mg' || levels[1] !== 'v1') throw badTopic(`must start with ${TOPIC_PREFIX}/`, topic);
  const [, , area, id, ...rest] = levels;
  if (area === 'security' && levels.length === 3) return Object.freeze({ kind: 'security' });
  if (area === 'verified' && levels.length === 4 && isDeviceId(id)) {
    return Object.freeze({ kind: 'verified', deviceId: id });
  }
  if (area === 'dev' && isDeviceId(id)) {
    const [first, second] = rest;
    if (rest.length === 1 && first === 'telemetry') return deviceTopic('telemetry', id);
    if (rest.length === 1 && first === 'events') return deviceTopic('events', id);
    if (rest.length === 1 && first === 'update') return deviceTopic('update', id);
    if (rest.length === 2 && first === 'update' && second === 'status')
      return deviceTopic('updateStatus', id);
    if (first === 'fw' && rest.length >= 2 && rest.length <= MAX_FW_LEVELS + 1) {
      const fw = rest.slice(1);
      if (fw.every((level) => ID_PATTERN.test(level))) {
        return Object.freeze({ kind: 'fw', deviceId: id, rest: Object.freeze(fw) });
      }
    }
  }
  throw badTopic('is not a v1 topic', topic);
}
