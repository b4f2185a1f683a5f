/**
 * What a refused reading produces besides its log line: the CBOR event on the device's
 * events topic, and, for refusals that point at an attacker or a compromised key rather than
 * a buggy device, a JSON security event on `mg/v1/security` (DESIGN §3, issue 4).
 *
 * Device events (CBOR maps, deterministic encoding):
 *   `{"type": "rejected", ? "seq": uint, "code": tstr, ? "field": tstr}`
 *   `{"type": "accepted", "seq": uint, "leaf": uint, ? "late": true, ? "gap": uint}`
 * Security events (JSON, the broker's shape):
 *   `{"type": "reading.refused", "code", "principal", "dev", "detail": {? "seq", ? "kid",
 *     ? "field"}, "t": ms}`
 * Neither ever carries the payload, a key, or any value taken from the payload besides seq.
 */
import { encodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode } from '../errors.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import { CborMajor, writeCborHead } from '../util/cbor-head.js';

/**
 * Refusals that are security-relevant: a forged or foreign signature (a reading signed for
 * another chain fails as MG_ERR_BAD_SIGNATURE: the chain id is the signature's external_aad),
 * a key that is not the device's, spoofing, replay, revoked or rotated-out keys.
 */
export const SECURITY_REFUSALS: ReadonlySet<string> = new Set([
  ProtocolErrorCode.BAD_SIGNATURE,
  ProtocolErrorCode.COSE_KID_MISMATCH,
  GatewayErrorCode.UNKNOWN_KID,
  GatewayErrorCode.READING_SPOOFED,
  GatewayErrorCode.REPLAY,
  GatewayErrorCode.KEY_ROTATED,
  StateErrorCode.DEVICE_REVOKED,
  StateErrorCode.UNKNOWN_DEVICE,
]);

export function isSecurityRefusal(code: string): boolean {
  return SECURITY_REFUSALS.has(code);
}

/** Event types on `mg/v1/dev/{id}/events` written by the telemetry pipeline. */
export const TelemetryEventType = Object.freeze({ accepted: 'accepted', rejected: 'rejected' });

export const READING_REFUSED_EVENT = 'reading.refused';

export interface RejectedEvent {
  readonly code: string;
  readonly seq?: number;
  /** Path of the offending field of the reading, when the refusal names one. */
  readonly field?: string;
}

export function rejectedEvent(e: RejectedEvent): Uint8Array {
  return encodeCbor({
    type: TelemetryEventType.rejected,
    ...(e.seq === undefined ? {} : { seq: e.seq }),
    code: e.code,
    ...(e.field === undefined ? {} : { field: e.field.slice(0, 64) }),
  });
}

export interface AcceptedEvent {
  readonly seq: number;
  /** Leaf index in the reading log. */
  readonly leaf: number;
  readonly late?: boolean;
  /** Seqs skipped right before this one. */
  readonly gap?: number;
}

/**
 * The accepted event, written directly (one per accepted reading, on the MQTT thread): the
 * bytes `encodeCbor` writes for the same map (test/gateway/pipeline-fast-paths.test.ts), keys
 * in deterministic order (RFC 8949 §4.2.1: shorter encoded key first, then bytewise):
 * gap, seq, late, leaf, type. Unsigned integers in their shortest form (§4.2.1).
 */
export function acceptedEvent(e: AcceptedEvent): Uint8Array {
  const late = e.late === true;
  const gap = e.gap;
  const out = new Uint8Array(64);
  let at = 0;
  out[at++] = 0xa3 + (late ? 1 : 0) + (gap === undefined ? 0 : 1);
  if (gap !== undefined) {
    at = writeKey(out, at, KEY_GAP);
    at = writeCborHead(out, at, CborMajor.uint, gap);
  }
  at = writeKey(out, at, KEY_SEQ);
  at = writeCborHead(out, at, CborMajor.uint, e.seq);
  if (late) {
    at = writeKey(out, at, KEY_LATE);
    out[at++] = 0xf5; // true
  }
  at = writeKey(out, at, KEY_LEAF);
  at = writeCborHead(out, at, CborMajor.uint, e.leaf);
  at = writeKey(out, at, KEY_TYPE);
  at = writeKey(out, at, VALUE_ACCEPTED);
  return out.slice(0, at);
}

/** CBOR text strings (major type 3) of the accepted event's keys and type. */
const text = (s: string): Uint8Array =>
  Uint8Array.from([0x60 + s.length, ...[...s].map((c) => c.charCodeAt(0))]);
const KEY_GAP = text('gap');
const KEY_SEQ = text('seq');
const KEY_LATE = text('late');
const KEY_LEAF = text('leaf');
const KEY_TYPE = text('type');
const VALUE_ACCEPTED = text(TelemetryEventType.accepted);

function writeKey(out: Uint8Array, at: number, key: Uint8Array): number {
  out.set(key, at);
  return at + key.length;
}

/**
 * A refused reading on `mg/v1/security`, in the shape of the broker's security events
 * (gateway/broker/publisher.ts) so that admins read one format: what, which code, who, and
 * details that are never payload bytes.
 */
export interface ReadingSecurityEvent {
  readonly type: typeof READING_REFUSED_EVENT;
  readonly code: string;
  /** Who published it (the connected principal). */
  readonly principal: string;
  /** The device whose telemetry topic carried it. */
  readonly dev: string;
  readonly detail: {
    readonly seq?: number;
    /** Hex kid of the signature, when it was read. */
    readonly kid?: string;
    /** Path of the offending field. */
    readonly field?: string;
  };
  /** Gateway clock, ms. */
  readonly t: number;
}

export function readingSecurityEvent(e: {
  code: string;
  principal: string;
  dev: string;
  seq?: number | undefined;
  kid?: string | undefined;
  field?: string | undefined;
  t: number;
}): ReadingSecurityEvent {
  return {
    type: READING_REFUSED_EVENT,
    code: e.code,
    principal: e.principal,
    dev: e.dev,
    detail: {
      ...(e.seq === undefined ? {} : { seq: e.seq }),
      ...(e.kid === undefined ? {} : { kid: e.kid }),
      ...(e.field === undefined ? {} : { field: e.field.slice(0, 64) }),
    },
    t: e.t,
  };
}
