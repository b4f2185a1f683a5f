/**
 * Lowercase hex of bytes through Buffer (native), for the telemetry hot path: the protocol's
 * `toHex` (firmware-ts/protocol/bytes.ts) builds the string a character at a time, and runs in
 * browsers too, where Buffer does not exist. Same output.
 */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
