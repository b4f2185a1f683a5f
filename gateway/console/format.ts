/** Formatting for people: short ids, times, values with units. Pure, no DOM. */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import type { Observation } from '../../firmware-ts/protocol/decode/reading.js';
import { vitalSign } from '../../firmware-ts/protocol/vitals.js';

/** The first 12 hex digits of a hash, for tables (the full value is in the title). */
export function shortHex(hex: string, digits = 12): string {
  return hex.length <= digits ? hex : `${hex.slice(0, digits)}…`;
}

/** ISO time without the date when it is today, e.g. `14:03:22`. */
export function clock(ms: number, now = Date.now()): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10) ? iso.slice(11, 19) : iso.slice(0, 19);
}

/** `12 s ago`, `3 min ago`, ... (never negative). */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** A short label of an observation code: the catalogue's display name, else the LOINC code. */
export function vitalLabel(code: string): string {
  return vitalSign(code)?.display ?? code;
}

/** `72 /min`, `36.6 Cel`. */
export function observationText(o: Pick<Observation, 'v' | 'u'>): string {
  return `${Number.isInteger(o.v) ? o.v : o.v.toFixed(1)} ${o.u}`;
}

/** A decoded CBOR value as JSON for display: bytes as hex, Maps as objects. */
export function plainJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(plainJson);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = plainJson(v);
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plainJson(v);
    return out;
  }
  return value;
}
