/**
 * RFC 9052 §4.4 Sig_structure for COSE_Sign1, `["Signature1", body_protected, external_aad,
 * payload]`, written straight into one buffer: the same bytes as the protocol's `toBeSigned1`
 * (firmware-ts/protocol/cose.ts; test/gateway/pipeline-fast-paths.test.ts compares them), without
 * the generic CBOR encoder, because the gateway builds one per reading on the MQTT thread.
 */
import type { CoseSign1 } from '../../firmware-ts/protocol/cose.js';
import { CborMajor, writeCborHead } from '../util/cbor-head.js';

/** array(4), then text(10) "Signature1". */
const PREFIX = Uint8Array.of(0x84, 0x6a, ...[...'Signature1'].map((c) => c.charCodeAt(0)));

/** Bytes of a CBOR byte-string head (major type 2) for `length`, shortest form (RFC 8949 §4.2.1). */
function headSize(length: number): number {
  return length < 24 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : length < 0x1_0000_0000 ? 5 : 9;
}

/** `toBeSigned1(protectedBytes, externalAad, payload)`, in one allocation. */
export function toBeSigned1Fast(
  protectedBytes: Uint8Array,
  externalAad: Uint8Array,
  payload: Uint8Array,
): Uint8Array {
  const size =
    PREFIX.length +
    headSize(protectedBytes.length) +
    protectedBytes.length +
    headSize(externalAad.length) +
    externalAad.length +
    headSize(payload.length) +
    payload.length;
  const out = new Uint8Array(size);
  out.set(PREFIX, 0);
  let at = PREFIX.length;
  for (const part of [protectedBytes, externalAad, payload]) {
    at = writeCborHead(out, at, CborMajor.bytes, part.length);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The protocol's `sigStructure(msg, externalAad)`, in one allocation. */
export function sigStructureFast(msg: CoseSign1, externalAad: Uint8Array): Uint8Array {
  return toBeSigned1Fast(msg.protectedBytes, externalAad, msg.payload);
}
