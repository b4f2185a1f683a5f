/**
 * The wire format between the verification pool and its workers: one ArrayBuffer per batch,
 * transferred (not copied) to the worker, and a bitmap of verdicts transferred back. One
 * postMessage per batch instead of one per job keeps the structured-clone cost off the main
 * thread, which must stay free for MQTT.
 *
 * Batch layout (little-endian):
 *   count u32 | count × ( publicKey[32] | signature[64] | length u32 | message[length] )
 * Verdicts: bit i (byte i >> 3, bit i & 7) is 1 when job i verified.
 */
import type { Ed25519Backend } from '../../firmware-ts/protocol/ed25519/types.js';

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
const COUNT_BYTES = 4;
const JOB_HEADER_BYTES = PUBLIC_KEY_BYTES + SIGNATURE_BYTES + 4;

/** One ed25519 verification: does `signature` sign `message` (the COSE Sig_structure) under `publicKey`? */
export interface VerifyJob {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

/** Pool → worker. */
export type ToWorker =
  | { readonly type: 'batch'; readonly id: number; readonly buffer: ArrayBuffer }
  /** Test hook: the worker throws on its next batch, as a crash would (pool.crashWorkerForTesting). */
  | { readonly type: 'crash-on-next-batch' };

/** Worker → pool. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'result'; readonly id: number; readonly bits: ArrayBuffer };

/** Bytes a job takes in a batch. Requires 32-byte key and 64-byte signature. */
export function packedJobSize(job: VerifyJob): number {
  return JOB_HEADER_BYTES + job.message.length;
}

/** Packs jobs whose key and signature have the exact lengths (the pool checks) into one buffer. */
export function packBatch(jobs: readonly VerifyJob[]): ArrayBuffer {
  let size = COUNT_BYTES;
  for (const job of jobs) size += packedJobSize(job);
  const buffer = new ArrayBuffer(size);
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  view.setUint32(0, jobs.length, true);
  let at = COUNT_BYTES;
  for (const job of jobs) {
    bytes.set(job.publicKey, at);
    bytes.set(job.signature, at + PUBLIC_KEY_BYTES);
    view.setUint32(at + PUBLIC_KEY_BYTES + SIGNATURE_BYTES, job.message.length, true);
    at += JOB_HEADER_BYTES;
    bytes.set(job.message, at);
    at += job.message.length;
  }
  return buffer;
}

/**
 * Verifies every job of a packed batch with `backend` and returns the verdict bitmap. The
 * views share the batch buffer (no copies). A job whose verification throws counts as false.
 * Throws RangeError on a buffer that does not follow the layout (only the pool writes them).
 */
export function verifyBatch(buffer: ArrayBuffer, backend: Pick<Ed25519Backend, 'verify'>): Uint8Array {
  const view = new DataView(buffer);
  const count = view.getUint32(0, true);
  const bits = new Uint8Array(Math.ceil(count / 8));
  let at = COUNT_BYTES;
  for (let i = 0; i < count; i++) {
    if (at + JOB_HEADER_BYTES > buffer.byteLength) throw new RangeError(`batch truncated at job ${i}`);
    const publicKey = new Uint8Array(buffer, at, PUBLIC_KEY_BYTES);
    const signature = new Uint8Array(buffer, at + PUBLIC_KEY_BYTES, SIGNATURE_BYTES);
    const length = view.getUint32(at + PUBLIC_KEY_BYTES + SIGNATURE_BYTES, true);
    at += JOB_HEADER_BYTES;
    if (at + length > buffer.byteLength) throw new RangeError(`batch truncated in message ${i}`);
    const message = new Uint8Array(buffer, at, length);
    at += length;
    let ok = false;
    try {
      ok = backend.verify(signature, message, publicKey);
    } catch {
      ok = false;
    }
    if (ok) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
  }
  if (at !== buffer.byteLength) throw new RangeError('batch has trailing bytes');
  return bits;
}

/** Verdict of job `index` in a bitmap from verifyBatch. */
export function verdict(bits: Uint8Array, index: number): boolean {
  return (((bits[index >> 3] ?? 0) >> (index & 7)) & 1) === 1;
}
