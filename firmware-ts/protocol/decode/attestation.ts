/**
 * Vendor attestation payload (DESIGN §3, enrolment (b)): the COSE_Sign1 payload that the
 * vendor signs at manufacture, `{"dev", "pub": bstr(32), "model"}`. Structure only: the
 * caller verifies the vendor's signature and compares the fields with the enrolment request.
 */
import { encodeCbor } from '../cbor.js';
import { DEVICE_ID_PATTERN, ID_PATTERN } from '../ids.js';
import { checkForEncoding, Fields, mapOf } from './fields.js';
import { ID_MAX_LENGTH, PUBLIC_KEY_BYTES } from './limits.js';

export interface Attestation {
  readonly dev: string;
  readonly pub: Uint8Array;
  readonly model: string;
}

const ATTESTATION_KEYS = Object.freeze(['dev', 'pub', 'model']);

/** The typed, frozen attestation payload in `value`, or a coded error naming the field. */
export function decodeAttestation(value: unknown): Attestation {
  const f = Fields.of(value, '', ATTESTATION_KEYS);
  const dev = f.text('dev', { min: 1, max: ID_MAX_LENGTH, pattern: DEVICE_ID_PATTERN });
  const pub = f.bytes('pub', { len: PUBLIC_KEY_BYTES });
  const model = f.text('model', { min: 1, max: ID_MAX_LENGTH, pattern: ID_PATTERN });
  return Object.freeze({ dev, pub, model });
}

/** Deterministic bytes of an attestation payload, for the vendor's signer. MG_ERR_BAD_ARGUMENT if invalid. */
export function encodeAttestation(attestation: Attestation): Uint8Array {
  const map = mapOf(attestation, ATTESTATION_KEYS);
  checkForEncoding(map, decodeAttestation);
  return encodeCbor(map);
}
