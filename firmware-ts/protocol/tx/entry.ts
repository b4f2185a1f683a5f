/**
 * A ledger entry is either a transaction (a signed envelope) or a device's own signed
 * self-enrolment request (DESIGN §3 (b)): the gateway cannot sign for the device, so the ledger
 * records the device's request as it came, and the state machine treats it as the type
 * `device.enrol.self`. The two are told apart by the payload: only the request has `purpose`.
 */
import { decodeCbor } from '../cbor.js';
import { type CoseSign1, decodeCoseSign1 } from '../cose.js';
import { type Attestation, decodeAttestation } from '../decode/attestation.js';
import { decodeEnrolRequest, type EnrolRequest } from '../decode/enrol.js';
import { TOKEN_CBOR_LIMITS } from '../decode/limits.js';
import { decodeEnvelope } from './envelope.js';
import { type DecodedTx, TX_CBOR_LIMITS, TX_MAX_BYTES } from './sign.js';
import { type EnvelopeType, SELF_ENROL_TYPE } from './types.js';

export interface DecodedSelfEnrol {
  readonly kind: 'enrol';
  readonly request: EnrolRequest;
  /** The request's COSE_Sign1 (signed by the device's new key); not verified yet. */
  readonly cose: CoseSign1;
}

export type LedgerEntry = DecodedTx | DecodedSelfEnrol;

/** Decodes any ledger entry; coded errors for anything malformed (signatures not verified). */
export function decodeLedgerEntry(bytes: Uint8Array): LedgerEntry {
  const cose = decodeCoseSign1(bytes, TX_MAX_BYTES);
  const payload = decodeCbor(cose.payload, TX_CBOR_LIMITS);
  if (payload instanceof Map && payload.has('purpose')) {
    // The same bounds as on the enrolment path of the broker.
    const request = decodeEnrolRequest(decodeCbor(cose.payload, TOKEN_CBOR_LIMITS));
    return Object.freeze({ kind: 'enrol', request, cose });
  }
  return Object.freeze({ kind: 'tx', tx: decodeEnvelope(payload), cose });
}

/** The type the state machine gives an entry. */
export function entryType(entry: LedgerEntry): EnvelopeType | typeof SELF_ENROL_TYPE {
  return entry.kind === 'enrol' ? SELF_ENROL_TYPE : entry.tx.type;
}

/** The vendor attestation inside an enrolment request: its COSE_Sign1 and payload (not verified). */
export function decodeAttestationCose(att: Uint8Array): {
  readonly cose: CoseSign1;
  readonly attestation: Attestation;
} {
  const cose = decodeCoseSign1(att, 1024);
  return { cose, attestation: decodeAttestation(decodeCbor(cose.payload, TOKEN_CBOR_LIMITS)) };
}
