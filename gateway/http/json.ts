/**
 * Ledger structures as plain JSON for API responses: bytes as lowercase hex, Maps and the
 * state's persistent maps as objects, `undefined` fields left out. Keys come from our own
 * decoded structures, never from request input.
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { PMap } from '../ledger/state/pmap.js';
import type { Stamp } from '../ledger/state/state.js';

export function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Map || value instanceof PMap) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value as Iterable<[unknown, unknown]>) out[String(k)] = plain(v);
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return value;
}

/** A ledger stamp with its time also as ISO 8601, for people reading the JSON. */
export function stampJson(stamp: Stamp): { height: number; time: number; at: string } {
  return { height: stamp.height, time: stamp.time, at: new Date(stamp.time).toISOString() };
}
