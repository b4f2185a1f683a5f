/** What the logs may say about a client before (or whether) it authenticated. */
import type { Socket } from 'node:net';
import type { Client } from 'aedes';
import { PRINCIPAL_PATTERN } from '../../firmware-ts/protocol/ids.js';

/** Username of self-enrolment (DESIGN §3 (b)); reserved, never a device id. */
export const ENROL_USERNAME = 'enrol';

/** The peer's address: the socket's for TCP and TLS, the HTTP request's for WebSocket. */
export function remoteAddress(client: Client): string {
  const socket = client.conn as Partial<Socket>;
  return socket.remoteAddress ?? client.req?.socket?.remoteAddress ?? 'unknown';
}

/**
 * A client-chosen id as a log field: the id itself when it is a principal id (or `enrol`),
 * otherwise a placeholder, so that logs never carry arbitrary client-supplied text.
 */
export function loggableId(text: unknown): string {
  if (typeof text !== 'string') return '(none)';
  return text === ENROL_USERNAME || PRINCIPAL_PATTERN.test(text) ? text : '(not a principal id)';
}

/** A topic or filter as a log field, bounded (a valid v1 topic is at most 256 characters). */
export function loggableTopic(topic: unknown): string {
  return typeof topic === 'string' ? topic.slice(0, 256) : '(none)';
}
