/**
 * The head of a CBOR data item (RFC 8949 §3): major type and argument, the argument in its
 * shortest form (§4.2.1, deterministic encoding). For the gateway's hand-written hot-path
 * encoders, whose output tests compare byte for byte with the protocol's encodeCbor.
 */

export const CborMajor = Object.freeze({ uint: 0, bytes: 2 });

/** Writes the head of major type `major` with argument `value` (a safe integer >= 0) at `at`; returns the next offset. */
export function writeCborHead(out: Uint8Array, at: number, major: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a CBOR argument: ${value}`);
  const type = major << 5;
  if (value < 24) {
    out[at] = type | value;
    return at + 1;
  }
  if (value < 0x100) {
    out[at] = type | 24;
    out[at + 1] = value;
    return at + 2;
  }
  if (value < 0x10000) {
    out[at] = type | 25;
    out[at + 1] = value >>> 8;
    out[at + 2] = value & 0xff;
    return at + 3;
  }
  if (value < 0x1_0000_0000) {
    out[at] = type | 26;
    new DataView(out.buffer, out.byteOffset).setUint32(at + 1, value);
    return at + 5;
  }
  out[at] = type | 27;
  new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, BigInt(value));
  return at + 9;
}
