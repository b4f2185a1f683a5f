/**
 * Image transfer messages (DESIGN §5, update wire format v1). Resumable: the device asks again
 * from the offset it has stored.
 *
 * - Chunk request, device → gateway on `mg/v1/dev/{id}/fw/get`:
 *   `{"digest": bstr32, "offset": uint, "len": uint (1..16384)}`.
 * - Chunk, gateway → device on `mg/v1/dev/{id}/fw/data`:
 *   `{"digest": bstr32, "offset": uint, "data": bstr (1..16384)}`.
 *
 * `digest` is the image SHA-256 of the manifest. Whether the data fits the manifest's size and
 * digest is the device's check (firmware-ts/agent/download.ts).
 */
import { abytes } from '../bytes.js';
import { decodeCbor, encodeCbor } from '../cbor.js';
import { checkForEncoding, Fields } from '../decode/fields.js';
import { HASH_SIZE } from '../merkle/index.js';
import { MAX_IMAGE_SIZE } from '../tx/manifest.js';
import { CHUNK_CBOR_LIMITS, CHUNK_REQUEST_CBOR_LIMITS, UPDATE_LIMITS } from './limits.js';

export const CHUNK_REQUEST_KEYS = Object.freeze(['digest', 'offset', 'len'] as const);
export const CHUNK_KEYS = Object.freeze(['digest', 'offset', 'data'] as const);

export interface ChunkRequest {
  /** Image SHA-256 (the manifest's digest). */
  readonly digest: Uint8Array;
  /** First byte wanted. */
  readonly offset: number;
  /** Bytes wanted, 1..16384. */
  readonly len: number;
}

export interface Chunk {
  readonly digest: Uint8Array;
  readonly offset: number;
  /** 1..16384 bytes of the image from `offset`. */
  readonly data: Uint8Array;
}

export function decodeChunkRequestValue(value: unknown): ChunkRequest {
  const f = Fields.of(value, '', CHUNK_REQUEST_KEYS);
  return Object.freeze({
    digest: f.bytes('digest', { len: HASH_SIZE }),
    offset: f.uint('offset', { max: MAX_IMAGE_SIZE - 1 }),
    len: f.uint('len', { min: 1, max: UPDATE_LIMITS.maxChunk }),
  });
}

/** Strict decoding of a chunk request from untrusted bytes. */
export function decodeChunkRequest(bytes: Uint8Array): ChunkRequest {
  return decodeChunkRequestValue(decodeCbor(abytes(bytes, undefined, 'bytes'), CHUNK_REQUEST_CBOR_LIMITS));
}

export function encodeChunkRequest(request: ChunkRequest): Uint8Array {
  const map = new Map<string, unknown>([
    ['digest', request.digest],
    ['offset', request.offset],
    ['len', request.len],
  ]);
  checkForEncoding(map, decodeChunkRequestValue);
  return encodeCbor(map);
}

export function decodeChunkValue(value: unknown): Chunk {
  const f = Fields.of(value, '', CHUNK_KEYS);
  return Object.freeze({
    digest: f.bytes('digest', { len: HASH_SIZE }),
    offset: f.uint('offset', { max: MAX_IMAGE_SIZE - 1 }),
    data: f.bytes('data', { min: 1, max: UPDATE_LIMITS.maxChunk }),
  });
}

/** Strict decoding of a chunk from untrusted bytes. */
export function decodeChunk(bytes: Uint8Array): Chunk {
  return decodeChunkValue(decodeCbor(abytes(bytes, undefined, 'bytes'), CHUNK_CBOR_LIMITS));
}

export function encodeChunk(chunk: Chunk): Uint8Array {
  const map = new Map<string, unknown>([
    ['digest', chunk.digest],
    ['offset', chunk.offset],
    ['data', chunk.data],
  ]);
  checkForEncoding(map, decodeChunkValue);
  return encodeCbor(map);
}
