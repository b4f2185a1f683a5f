/**
 * The seam between the MQTT front end and what handles a device's publishes (issue 4).
 * `authorizePublish` hands every authorised telemetry publish to a TelemetryHandler and
 * calls aedes back only when `handle` settles:
 *
 * - resolved ('accepted', 'duplicate' or 'refused'): aedes writes the PUBACK. An accepted
 *   reading is durable by then (DESIGN §4: acknowledged only after the durable append); a
 *   refused one is final, its coded event goes to the device's events topic, and retrying it
 *   would not help. The message is never routed to anyone (telemetry has no subscribers).
 * - rejected (the reading could not be stored: ledger closed, pool overloaded, ...): no PUBACK;
 *   aedes closes the connection and the device redelivers at QoS 1 once reconnected.
 *
 * The same shape serves update statuses and firmware requests (`IngressHandlers`).
 */

export interface TelemetryClient {
  /** Principal id of the publisher (for a device, its device id). */
  readonly principal: string;
  /** The device whose topic was published to; the ACL makes it equal to the principal. */
  readonly deviceId: string;
}

export interface PublishInfo {
  /** The topic published to (firmware requests carry meaning in their levels). */
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  readonly dup: boolean;
}

export type TelemetryVerdict = 'accepted' | 'duplicate' | 'refused';

export interface TelemetryHandler {
  handle(client: TelemetryClient, payload: Uint8Array, packet: PublishInfo): Promise<TelemetryVerdict>;
}

/** Handlers of device ingress by kind; an absent one makes that topic MG_ERR_TOPIC_NOT_SERVED. */
export interface IngressHandlers {
  readonly telemetry: TelemetryHandler;
  /** `mg/v1/dev/{id}/update/status` (firmware service). */
  readonly updateStatus?: TelemetryHandler;
  /** `mg/v1/dev/{id}/fw/get` (firmware chunk requests). */
  readonly fw?: TelemetryHandler;
}
