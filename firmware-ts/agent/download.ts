/**
 * Pulling an image into the inactive slot (DESIGN §5, update wire format v1): chunk by chunk
 * through an injected transport, resumable from the persisted offset, hashed incrementally.
 *
 * - Endless and trailing data: no byte beyond the manifest's size is ever written; the first
 *   chunk that would cross it is refused (MG_ERR_UPDATE_TOO_LARGE), not truncated.
 * - Slow retrieval: every chunk must arrive within `chunkTimeoutMs` and the whole image within
 *   `totalTimeoutMs` of the download's first start (persisted, so reconnecting does not reset it).
 * - The SHA-256 of all bytes must equal the manifest digest (MG_ERR_UPDATE_BAD_DIGEST).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { equalBytes } from '../protocol/bytes.js';
import { isMedgateError, MedgateError } from '../protocol/errors.js';
import type { Manifest } from '../protocol/tx/types.js';
import {
  type Chunk,
  type ChunkRequest,
  decodeChunk,
  encodeChunkRequest,
  UPDATE_LIMITS,
} from '../protocol/update/index.js';
import type { DeviceState, Progress } from './device-state.js';
import { UpdateErrorCode, updateError } from './errors.js';
import type { Clock, LogFn } from './ports.js';
import type { SlotId, SlotStorage } from './slots.js';

/**
 * How the device reaches the gateway's image store. `request` publishes `message` (the CBOR
 * Chunk request) on `mg/v1/dev/{id}/fw/get` and resolves with the payload of the reply on
 * `fw/data` (the CBOR Chunk, checked here); it rejects when the link drops.
 */
export interface ChunkTransport {
  request(message: Uint8Array, request: ChunkRequest): Promise<Uint8Array>;
}

export interface DownloadLimits {
  /** Longest wait for one chunk. */
  readonly chunkTimeoutMs: number;
  /** Longest time from the download's first start to its last byte. */
  readonly totalTimeoutMs: number;
}

export const DEFAULT_DOWNLOAD_LIMITS: DownloadLimits = Object.freeze({
  chunkTimeoutMs: 30_000,
  totalTimeoutMs: 30 * 60_000,
});

export interface DownloadJob {
  readonly rollout: Uint8Array;
  readonly manifest: Pick<Manifest, 'digest' | 'size'>;
  readonly slot: SlotId;
  /** Largest chunk the gateway serves (from the offer). */
  readonly chunk: number;
}

export interface DownloadDeps {
  readonly transport: ChunkTransport;
  readonly slots: SlotStorage;
  readonly state: DeviceState;
  readonly clock: Clock;
  readonly log: LogFn;
  readonly limits: DownloadLimits;
}

type Hasher = ReturnType<typeof nobleSha256.create>;

/** Re-hashes what an interrupted download already wrote; undefined if the slot lost some of it. */
async function rehash(slots: SlotStorage, slot: SlotId, length: number): Promise<Hasher | undefined> {
  const hasher = nobleSha256.create();
  for (let offset = 0; offset < length; ) {
    const piece = await slots.read(slot, offset, Math.min(UPDATE_LIMITS.maxChunk, length - offset));
    if (piece.length === 0) return undefined;
    hasher.update(piece);
    offset += piece.length;
  }
  return hasher;
}

/** SHA-256 of the first `size` bytes of `slot` (re-check before boot: image swapped after the check). */
export async function hashSlot(
  slots: SlotStorage,
  slot: SlotId,
  size: number,
): Promise<Uint8Array | undefined> {
  return (await rehash(slots, slot, size))?.digest();
}

/** Resolves with the transport's reply, or refuses with MG_ERR_UPDATE_TIMEOUT / INTERRUPTED. */
async function fetchChunk(
  deps: DownloadDeps,
  request: ChunkRequest,
  waitMs: number,
  overall: boolean,
): Promise<Uint8Array> {
  // The timer starts before the request: a transport that stalls from the first instant still times out.
  const delay = deps.clock.delay(waitMs);
  const timedOut = Symbol('timeout');
  let reply: Promise<Uint8Array>;
  try {
    reply = deps.transport.request(encodeChunkRequest(request), request);
  } catch (cause) {
    delay.cancel();
    throw updateError(UpdateErrorCode.INTERRUPTED, 'the chunk request could not be sent', { cause });
  }
  reply.catch(() => {}); // a late rejection after a timeout is not an unhandled one
  try {
    const winner = await Promise.race([reply, delay.promise.then(() => timedOut)]);
    if (winner === timedOut) {
      throw updateError(
        UpdateErrorCode.TIMEOUT,
        overall ? 'the download took longer than allowed' : 'a chunk took longer than allowed',
        { field: overall ? 'totalTimeoutMs' : 'chunkTimeoutMs', got: request.offset },
      );
    }
    return winner as Uint8Array;
  } catch (err) {
    if (isMedgateError(err, UpdateErrorCode.TIMEOUT)) throw err;
    throw updateError(UpdateErrorCode.INTERRUPTED, 'the transport failed; the download will resume', {
      got: request.offset,
      cause: err,
    });
  } finally {
    delay.cancel();
  }
}

function checkChunk(bytes: Uint8Array, request: ChunkRequest, size: number): Chunk {
  let chunk: Chunk;
  try {
    chunk = decodeChunk(bytes);
  } catch (err) {
    if (!(err instanceof MedgateError)) throw err;
    throw updateError(UpdateErrorCode.BAD_CHUNK, 'the chunk message is malformed', { cause: err });
  }
  if (!equalBytes(chunk.digest, request.digest) || chunk.offset !== request.offset) {
    throw updateError(UpdateErrorCode.BAD_CHUNK, 'the chunk is not the one asked for', {
      field: 'offset',
      got: chunk.offset,
      want: request.offset,
    });
  }
  // Endless / trailing data: refused the moment it would cross the signed size.
  if (chunk.offset + chunk.data.length > size) {
    throw updateError(UpdateErrorCode.TOO_LARGE, 'the gateway sent more data than the manifest size', {
      field: 'data',
      got: chunk.offset + chunk.data.length,
      want: size,
    });
  }
  if (chunk.data.length > request.len) {
    throw updateError(UpdateErrorCode.BAD_CHUNK, 'the chunk is longer than asked for', {
      field: 'data',
      got: chunk.data.length,
      want: request.len,
    });
  }
  return chunk;
}

/**
 * Downloads `job` into its slot, resuming from `resume` when it is the same job. Returns when
 * every byte is written and the digest matched; throws a coded refusal otherwise. Progress is
 * persisted after every chunk.
 */
export async function download(
  job: DownloadJob,
  resume: Progress | undefined,
  deps: DownloadDeps,
): Promise<void> {
  const { digest, size } = job.manifest;
  let progress: Progress | undefined;
  let hasher: Hasher | undefined;
  if (
    resume !== undefined &&
    equalBytes(resume.rollout, job.rollout) &&
    equalBytes(resume.digest, digest) &&
    resume.size === size &&
    resume.slot === job.slot &&
    resume.offset <= size
  ) {
    hasher = await rehash(deps.slots, job.slot, resume.offset);
    if (hasher !== undefined) progress = resume;
  }
  if (progress === undefined || hasher === undefined) {
    await deps.slots.erase(job.slot);
    progress = { rollout: job.rollout, digest, size, slot: job.slot, offset: 0, started: deps.clock.now() };
    hasher = nobleSha256.create();
    await deps.state.setProgress(progress);
  } else {
    deps.log('info', 'update download resumed', { offset: progress.offset, size });
  }
  const chunkSize = Math.min(job.chunk, UPDATE_LIMITS.maxChunk);
  const { chunkTimeoutMs, totalTimeoutMs } = deps.limits;
  while (progress.offset < size) {
    const left = totalTimeoutMs - (deps.clock.now() - progress.started);
    if (left <= 0) {
      throw updateError(UpdateErrorCode.TIMEOUT, 'the download took longer than allowed', {
        field: 'totalTimeoutMs',
        got: progress.offset,
      });
    }
    const request: ChunkRequest = {
      digest,
      offset: progress.offset,
      len: Math.min(chunkSize, size - progress.offset),
    };
    const bytes = await fetchChunk(deps, request, Math.min(chunkTimeoutMs, left), left < chunkTimeoutMs);
    const chunk = checkChunk(bytes, request, size);
    await deps.slots.write(job.slot, chunk.offset, chunk.data);
    hasher.update(chunk.data);
    progress = { ...progress, offset: chunk.offset + chunk.data.length };
    await deps.state.setProgress(progress);
  }
  if (!equalBytes(hasher.digest(), digest)) {
    throw updateError(UpdateErrorCode.BAD_DIGEST, 'the image does not have the manifest digest', {
      field: 'digest',
    });
  }
}
