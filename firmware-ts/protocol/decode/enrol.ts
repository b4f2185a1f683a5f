/**
 * Self-enrolment request (DESIGN §3, enrolment (b)): the COSE_Sign1 payload, signed by the
 * device's new key, `{"purpose": "enrol", "dev", "pub": bstr(32), "model", "t",
 * "nonce": bstr(16), "att": bstr}` where `att` is the vendor's COSE_Sign1 over
 * `{"dev", "pub", "model"}` (attestation.ts). Structure only: the caller verifies both
 * signatures and checks that the attestation names the same dev, pub and model.
 */
import { encodeCbor } from '../cbor.js';
import { DEVICE_ID_PATTERN, ID_PATTERN } from '../ids.js';
import { checkForEncoding, checkPurpose, Fields, mapOf } from './fields.js';
import {
  ID_MAX_LENGTH,
  MAX_ATTESTATION_BYTES,
  MAX_TIME_MS,
  NONCE_BYTES,
  PUBLIC_KEY_BYTES,
} from './limits.js';

export const ENROL_PURPOSE = 'enrol';

export interface EnrolRequest {
  readonly purpose: typeof ENROL_PURPOSE;
  readonly dev: string;
  /** The device's new ed25519 public key. */
  readonly pub: Uint8Array;
  readonly model: string;
  readonly t: number;
  readonly nonce: Uint8Array;
  /** The vendor attestation: COSE_Sign1 bytes, at most 1024. */
  readonly att: Uint8Array;
}

const ENROL_KEYS = Object.freeze(['purpose', 'dev', 'pub', 'model', 't', 'nonce', 'att']);

/** The typed, frozen enrolment request in `value`; MG_ERR_BAD_PURPOSE for any other token. */
export function decodeEnrolRequest(value: unknown): EnrolRequest {
  checkPurpose(value, ENROL_PURPOSE);
  const f = Fields.of(value, '', ENROL_KEYS);
  f.text('purpose', { min: 1, max: ENROL_PURPOSE.length, pattern: /^enrol$/ });
  const dev = f.text('dev', { min: 1, max: ID_MAX_LENGTH, pattern: DEVICE_ID_PATTERN });
  const pub = f.bytes('pub', { len: PUBLIC_KEY_BYTES });
  const model = f.text('model', { min: 1, max: ID_MAX_LENGTH, pattern: ID_PATTERN });
  const t = f.uint('t', { max: MAX_TIME_MS });
  const nonce = f.bytes('nonce', { len: NONCE_BYTES });
  const att = f.bytes('att', { min: 1, max: MAX_ATTESTATION_BYTES });
  return Object.freeze({ purpose: ENROL_PURPOSE, dev, pub, model, t, nonce, att });
}

/** Deterministic bytes of an enrolment request; `purpose` is filled in. MG_ERR_BAD_ARGUMENT if invalid. */
export function encodeEnrolRequest(request: Omit<EnrolRequest, 'purpose'>): Uint8Array {
  const map = mapOf({ ...request, purpose: ENROL_PURPOSE }, ENROL_KEYS);
  checkForEncoding(map, decodeEnrolRequest);
  return encodeCbor(map);
}
