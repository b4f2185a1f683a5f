/**
 * A canonical encoding of the State: deterministic CBOR (RFC 8949 §4.2.1) of every field, with
 * persistent maps written as CBOR maps (keys sorted by the encoder, so the hash-trie layout
 * never shows) and absent optional fields omitted. Two replicas that applied the same entries
 * produce the same bytes; `stateRoot` is their SHA-256, and `decodeState` reads a snapshot back.
 */

import { equalBytes } from '../../../firmware-ts/protocol/bytes.js';
import { decodeCbor, encodeCbor } from '../../../firmware-ts/protocol/cbor.js';
import { MedgateError } from '../../../firmware-ts/protocol/errors.js';
import { sha256 } from '../../../firmware-ts/protocol/hash.js';
import { refuse, StateErrorCode } from './errors.js';
import { PMap } from './pmap.js';
import type { State } from './state.js';

function toCbor(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (value instanceof PMap) {
    const out = new Map<string, unknown>();
    for (const [k, v] of value as PMap<unknown>) out.set(k, toCbor(v));
    return out;
  }
  if (Array.isArray(value)) return value.map(toCbor);
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out.set(k, toCbor(v));
  return out;
}

export function encodeState(state: State): Uint8Array {
  return encodeCbor(toCbor(state));
}

/** SHA-256 of encodeState: what a block or a snapshot can commit to. */
export function stateRoot(state: State): Uint8Array {
  return sha256(encodeState(state));
}

function fromCbor(value: unknown): unknown {
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(k)] = fromCbor(v);
    return Object.freeze(out);
  }
  if (Array.isArray(value)) return Object.freeze(value.map(fromCbor));
  return value;
}

function asPMap<V>(value: unknown, each: (v: unknown) => V = (v) => v as V): PMap<V> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw refuse(StateErrorCode.SNAPSHOT_INVALID, 'a collection of the snapshot is not a map');
  }
  return PMap.from(Object.entries(value).map(([k, v]) => [k, each(v)] as const));
}

const COLLECTIONS = [
  'admins',
  'vendors',
  'clinicians',
  'devices',
  'kids',
  'policies',
  'nonces',
  'releases',
  'latestSeq',
  'proposals',
] as const;

/**
 * Reads a snapshot written by encodeState. The bytes must be exactly the canonical encoding of
 * the state they decode to (re-encoded and compared), so a damaged snapshot is refused with
 * MG_ERR_STATE_SNAPSHOT_INVALID; compare `stateRoot` with a signed commitment to trust one.
 */
export function decodeState(bytes: Uint8Array): State {
  try {
    const raw = fromCbor(
      decodeCbor(bytes, { maxBytes: bytes.length, maxDepth: 12, maxItems: 1 << 30 }),
    ) as Record<string, unknown>;
    if (raw.v !== 1 || typeof raw.chain !== 'string') throw new Error('not a v1 state');
    const state: Record<string, unknown> = { ...raw };
    for (const key of COLLECTIONS) state[key] = asPMap(raw[key]);
    state.grants = asPMap(raw.grants, (g) => asPMap(g));
    state.rollouts = asPMap(raw.rollouts, (r) =>
      Object.freeze({
        ...(r as Record<string, unknown>),
        reports: asPMap((r as Record<string, unknown>).reports),
      }),
    );
    const decoded = Object.freeze(state) as unknown as State;
    if (!equalBytes(encodeState(decoded), bytes)) throw new Error('not in canonical form');
    return decoded;
  } catch (cause) {
    if (cause instanceof MedgateError && cause.code === StateErrorCode.SNAPSHOT_INVALID) throw cause;
    throw refuse(StateErrorCode.SNAPSHOT_INVALID, 'the state snapshot cannot be read', { cause });
  }
}
