/**
 * The gateway's one pool of ed25519 verification threads (DESIGN §6: node:crypto on worker
 * threads; the main thread stays free for MQTT). Jobs are batched: a batch goes out when it
 * is full (`maxBatch`), as soon as a worker returns a batch, and otherwise after at most
 * `idleDelayMs` when a worker sits idle or `maxDelayMs` when none does. A round trip costs the
 * main thread about 70 µs whatever the batch holds, a job about 4 µs more (measured on the 2-core VM):
 * a millisecond of waiting at light load saves more than it costs. Each batch travels as one transferred
 * buffer (batch.ts) to the least-loaded worker. Every job settles: a verdict, or a coded error
 * (overloaded, worker crashed, pool closed), never a hang.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { abytes } from '../../firmware-ts/protocol/bytes.js';
import { ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import {
  type FromWorker,
  PUBLIC_KEY_BYTES,
  packBatch,
  packedJobSize,
  SIGNATURE_BYTES,
  type ToWorker,
  type VerifyJob,
  verdict,
} from './batch.js';

export type { VerifyJob } from './batch.js';

export interface VerifyPoolOptions {
  /** Worker threads (default os.availableParallelism()). */
  readonly threads?: number;
  /** Most jobs in one batch (default 256). */
  readonly maxBatch?: number;
  /** Longest a partial batch waits for more jobs while every worker is busy (default 2 ms). */
  readonly maxDelayMs?: number;
  /** Longest a partial batch waits for more jobs while a worker is idle; 0 = end of the event loop turn (default 1 ms). */
  readonly idleDelayMs?: number;
  /** Most jobs waiting to be dispatched; beyond it verify() rejects with MG_ERR_VERIFY_OVERLOADED (default 65,536). */
  readonly maxQueue?: number;
  /** Batches a worker may hold at once, so it never idles during a round trip (default 2). */
  readonly maxInFlightPerWorker?: number;
  /** Largest packed batch in bytes; a single larger job still goes alone (default 1 MiB). */
  readonly maxBatchBytes?: number;
}

export interface VerifyPoolStats {
  readonly threads: number;
  /** `compiled`: dist/…/worker.js; `tsx`: worker.ts through tsx (tests and development). */
  readonly workerSource: 'compiled' | 'tsx';
  /** Workers started and ready now. */
  readonly workersReady: number;
  /** Jobs waiting to be dispatched. */
  readonly queued: number;
  /** Jobs sent to a worker and not yet answered. */
  readonly inFlight: number;
  readonly submitted: number;
  readonly valid: number;
  readonly invalid: number;
  readonly batches: number;
  /** Jobs per batch sent so far (0 before the first). */
  readonly meanBatchSize: number;
  readonly overloaded: number;
  /** Workers that died unexpectedly. */
  readonly crashes: number;
  /** Replacement workers started. */
  readonly restarts: number;
}

export const VERIFY_POOL_DEFAULTS = Object.freeze({
  maxBatch: 256,
  maxDelayMs: 2,
  idleDelayMs: 1,
  maxQueue: 65_536,
  maxInFlightPerWorker: 2,
  maxBatchBytes: 1024 * 1024,
});

/** A worker that dies this many times in a row before it is ready is not restarted again. */
const MAX_START_FAILURES = 3;
const RESTART_BACKOFF_MS = 50;

interface Pending {
  readonly job: VerifyJob;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (err: unknown) => void;
}

interface Slot {
  readonly index: number;
  worker: Worker | null;
  ready: boolean;
  /** Batch id → its jobs, in batch order. */
  readonly inFlight: Map<number, Pending[]>;
  inFlightJobs: number;
  startFailures: number;
  lastError: unknown;
  restartTimer: NodeJS.Timeout | null;
  /** Settles the first start (create() awaits it). */
  onStarted: ((err: unknown) => void) | null;
}

function intOption(
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
  name: string,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new MedgateError(
      ProtocolErrorCode.BAD_ARGUMENT,
      `${name} must be an integer from ${min} to ${max}`,
      {
        field: name,
        got: v,
        want: [min, max],
      },
    );
  }
  return v;
}

/**
 * How to start a worker. Built (`tsc -b` into dist/) the compiled worker.js sits next to this
 * module. Run from source (vitest, tsx) only worker.ts is there: it is loaded through tsx's
 * ESM API from a tiny eval bootstrap, because Node 20 does not apply `--import tsx` from a
 * Worker's execArgv to the worker's entry module (ERR_UNKNOWN_FILE_EXTENSION).
 */
function workerEntry(): { readonly source: URL | string; readonly eval: boolean } {
  const js = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { source: js, eval: false };
  const ts = new URL('./worker.ts', import.meta.url);
  if (!existsSync(fileURLToPath(ts))) {
    throw new MedgateError(
      GatewayErrorCode.VERIFY_WORKER_START,
      `no verify worker next to ${import.meta.url}`,
    );
  }
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch (cause) {
    throw new MedgateError(
      GatewayErrorCode.VERIFY_WORKER_START,
      'running from source needs tsx (a devDependency); or build with `tsc -b` and run dist/',
      { cause },
    );
  }
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(ts.href)}); });`;
  return { source: code, eval: true };
}

/**
 * Node options a worker takes from the parent: those that load modules (tsx's `--import`, a
 * `--require`, `--conditions`), profiling and warnings. The rest stay with the main thread:
 * V8 and heap flags (`--max-old-space-size`, `--max-semi-space-size`, `--stack-size`, ...) are
 * per process, and Worker refuses them (ERR_WORKER_INVALID_EXEC_ARGV), so a gateway started
 * with one would fail to start its pool; `--input-type` applies only to string input, and a
 * worker inheriting it fails to load its entry file (ERR_INPUT_TYPE_NOT_ALLOWED).
 */
const WORKER_FLAGS = Object.freeze([
  '--import',
  '--require',
  '-r',
  '--loader',
  '--experimental-loader',
  '--conditions',
  '-C',
  '--enable-source-maps',
  '--no-warnings',
  '--no-deprecation',
  '--cpu-prof',
  '--cpu-prof-dir',
  '--cpu-prof-interval',
  '--heap-prof',
  '--heap-prof-dir',
  '--heap-prof-interval',
]);
/** Of WORKER_FLAGS, those whose value may come as the next argument. */
const WORKER_FLAGS_WITH_VALUE = Object.freeze(
  new Set([
    '--import',
    '--require',
    '-r',
    '--loader',
    '--experimental-loader',
    '--conditions',
    '-C',
    '--cpu-prof-dir',
    '--cpu-prof-interval',
    '--heap-prof-dir',
    '--heap-prof-interval',
  ]),
);

export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const name = arg.startsWith('--') ? (arg.split('=', 1)[0] as string) : arg;
    const takesNext = WORKER_FLAGS_WITH_VALUE.has(name) && !arg.includes('=');
    if (WORKER_FLAGS.includes(name)) {
      out.push(arg);
      if (takesNext && i + 1 < argv.length) out.push(argv[++i] as string);
    } else if (!arg.includes('=') && i + 1 < argv.length && !(argv[i + 1] as string).startsWith('-')) {
      // Another option's separate value (`--max-old-space-size 512`, `--input-type module`).
      i++;
    }
  }
  return out;
}

export class VerifyPool {
  readonly #slots: Slot[] = [];
  readonly #entry: { readonly source: URL | string; readonly eval: boolean };
  /** Test hook (breakRestartsForTesting): replacement workers start from this failing script. */
  #restartSource: string | null = null;
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  readonly #idleDelayMs: number;
  readonly #maxQueue: number;
  readonly #maxInFlight: number;
  readonly #maxBatchBytes: number;

  // A FIFO of waiting jobs: an array with a moving head (shift() would be O(n) per batch).
  #queue: Pending[] = [];
  #head = 0;

  #nextBatchId = 1;
  #rotate = 0;
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  #closing: Promise<void> | null = null;

  #submitted = 0;
  #valid = 0;
  #invalid = 0;
  #batches = 0;
  #batchedJobs = 0;
  #overloaded = 0;
  #crashes = 0;
  #restarts = 0;

  private constructor(options: VerifyPoolOptions) {
    const threads = intOption(options.threads, availableParallelism(), 1, 256, 'threads');
    this.#maxBatch = intOption(options.maxBatch, VERIFY_POOL_DEFAULTS.maxBatch, 1, 65_536, 'maxBatch');
    this.#maxDelayMs = intOption(options.maxDelayMs, VERIFY_POOL_DEFAULTS.maxDelayMs, 0, 1000, 'maxDelayMs');
    this.#idleDelayMs = intOption(
      options.idleDelayMs,
      VERIFY_POOL_DEFAULTS.idleDelayMs,
      0,
      1000,
      'idleDelayMs',
    );
    this.#maxQueue = intOption(options.maxQueue, VERIFY_POOL_DEFAULTS.maxQueue, 1, 2 ** 24, 'maxQueue');
    this.#maxInFlight = intOption(
      options.maxInFlightPerWorker,
      VERIFY_POOL_DEFAULTS.maxInFlightPerWorker,
      1,
      64,
      'maxInFlightPerWorker',
    );
    this.#maxBatchBytes = intOption(
      options.maxBatchBytes,
      VERIFY_POOL_DEFAULTS.maxBatchBytes,
      1024,
      2 ** 30,
      'maxBatchBytes',
    );
    this.#entry = workerEntry();
    for (let index = 0; index < threads; index++) {
      this.#slots.push({
        index,
        worker: null,
        ready: false,
        inFlight: new Map(),
        inFlightJobs: 0,
        startFailures: 0,
        lastError: undefined,
        restartTimer: null,
        onStarted: null,
      });
    }
  }

  /** Starts the workers and resolves once every one is ready; MG_ERR_VERIFY_WORKER_START if one cannot start. */
  static async create(options: VerifyPoolOptions = {}): Promise<VerifyPool> {
    const pool = new VerifyPool(options);
    const started = pool.#slots.map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          slot.onStarted = (err) => (err === undefined ? resolve() : reject(err));
          pool.#start(slot);
        }),
    );
    const results = await Promise.allSettled(started);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await pool.close();
      throw new MedgateError(GatewayErrorCode.VERIFY_WORKER_START, 'a verify worker thread failed to start', {
        cause: failed.reason,
      });
    }
    return pool;
  }

  /**
   * Resolves true when `signature` is a valid ed25519 signature of `message` under `publicKey`
   * by medgate's strict policy, false otherwise (a key or signature of the wrong length is
   * false, as with the backends). Rejects with MG_ERR_BAD_ARGUMENT for non-byte arguments,
   * MG_ERR_VERIFY_OVERLOADED when `maxQueue` jobs wait, MG_ERR_VERIFY_WORKER_CRASHED or
   * MG_ERR_VERIFY_WORKER_START when no verdict can be had, MG_ERR_VERIFY_POOL_CLOSED after close().
   * The bytes are copied when the job's batch is sent, not now: do not modify them until it settles.
   */
  verify(job: VerifyJob): Promise<boolean> {
    try {
      abytes(job?.publicKey, undefined, 'publicKey');
      abytes(job.message, undefined, 'message');
      abytes(job.signature, undefined, 'signature');
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closing !== null) return Promise.reject(closedError());
    if (!this.#anyAlive()) return Promise.reject(unavailableError(this.#slots));
    this.#submitted++;
    if (job.publicKey.length !== PUBLIC_KEY_BYTES || job.signature.length !== SIGNATURE_BYTES) {
      this.#invalid++;
      return Promise.resolve(false);
    }
    if (this.#queue.length - this.#head >= this.#maxQueue) {
      this.#overloaded++;
      return Promise.reject(
        new MedgateError(
          GatewayErrorCode.VERIFY_OVERLOADED,
          `verify queue is full (${this.#maxQueue} jobs)`,
          {
            want: this.#maxQueue,
          },
        ),
      );
    }
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#schedule();
    });
  }

  stats(): VerifyPoolStats {
    let inFlight = 0;
    for (const slot of this.#slots) inFlight += slot.inFlightJobs;
    return Object.freeze({
      threads: this.#slots.length,
      workerSource: this.#entry.eval ? 'tsx' : 'compiled',
      workersReady: this.#slots.filter((s) => s.ready).length,
      queued: this.#queue.length - this.#head,
      inFlight,
      submitted: this.#submitted,
      valid: this.#valid,
      invalid: this.#invalid,
      batches: this.#batches,
      meanBatchSize: this.#batches === 0 ? 0 : this.#batchedJobs / this.#batches,
      overloaded: this.#overloaded,
      crashes: this.#crashes,
      restarts: this.#restarts,
    });
  }

  /**
   * Rejects every job without a verdict (queued or in flight) with MG_ERR_VERIFY_POOL_CLOSED
   * and terminates the workers. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    if (this.#timer !== null) clearTimeout(this.#timer);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#timer = null;
    this.#immediate = null;
    const err = closedError();
    for (const pending of this.#takeQueued(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY))
      pending.reject(err);
    const exits: Promise<number>[] = [];
    for (const slot of this.#slots) {
      if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
      slot.restartTimer = null;
      this.#rejectInFlight(slot, err);
      slot.ready = false;
      slot.onStarted?.(err);
      slot.onStarted = null;
      if (slot.worker !== null) exits.push(slot.worker.terminate());
      slot.worker = null;
    }
    this.#closing = Promise.all(exits).then(() => undefined);
    return this.#closing;
  }

  /**
   * Test hook: worker `index` throws, as a crash would, when its next batch arrives. That
   * batch's jobs reject with MG_ERR_VERIFY_WORKER_CRASHED and the worker is replaced.
   * @internal
   */
  crashWorkerForTesting(index = 0): void {
    const worker = this.#slots[index]?.worker;
    if (worker === null || worker === undefined) throw new Error(`no live worker ${index}`);
    const message: ToWorker = { type: 'crash-on-next-batch' };
    worker.postMessage(message);
  }

  /**
   * Test hook: every replacement worker from now on fails to start, as a broken install would.
   * @internal
   */
  breakRestartsForTesting(): void {
    this.#restartSource = 'throw new Error("verify worker: start refused by a test")';
  }

  #start(slot: Slot, restart = false): void {
    slot.restartTimer = null;
    const broken = restart && this.#restartSource !== null;
    const worker = new Worker(broken ? (this.#restartSource as string) : this.#entry.source, {
      eval: broken || this.#entry.eval,
      execArgv: workerExecArgv(),
    });
    slot.worker = worker;
    slot.ready = false;
    worker.on('message', (message: FromWorker) => this.#onMessage(slot, worker, message));
    worker.on('error', (err) => {
      if (slot.worker === worker) slot.lastError = err;
    });
    // A worker that cannot deserialize a message is of no further use: replace it.
    worker.on('messageerror', (err) => {
      if (slot.worker === worker) {
        slot.lastError = err;
        void worker.terminate();
      }
    });
    worker.on('exit', (code) => this.#onExit(slot, worker, code));
  }

  #onMessage(slot: Slot, worker: Worker, message: FromWorker): void {
    if (slot.worker !== worker) return;
    if (message.type === 'ready') {
      slot.ready = true;
      slot.startFailures = 0;
      slot.onStarted?.(undefined);
      slot.onStarted = null;
      this.#dispatch(true);
      return;
    }
    const batch = slot.inFlight.get(message.id);
    if (batch === undefined) return;
    slot.inFlight.delete(message.id);
    slot.inFlightJobs -= batch.length;
    const bits = new Uint8Array(message.bits);
    for (let i = 0; i < batch.length; i++) {
      const ok = verdict(bits, i);
      if (ok) this.#valid++;
      else this.#invalid++;
      batch[i]?.resolve(ok);
    }
    this.#dispatch(true);
  }

  #onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker || this.#closing !== null) return;
    const wasReady = slot.ready;
    slot.worker = null;
    slot.ready = false;
    const cause = slot.lastError ?? new Error(`verify worker exited with code ${code}`);
    slot.lastError = undefined;
    this.#rejectInFlight(
      slot,
      new MedgateError(
        GatewayErrorCode.VERIFY_WORKER_CRASHED,
        `verify worker ${slot.index} died; job has no verdict`,
        {
          cause,
        },
      ),
    );
    if (slot.onStarted !== null) {
      // First start, inside create(): create() reports it.
      slot.onStarted(cause);
      slot.onStarted = null;
      return;
    }
    if (wasReady) this.#crashes++;
    else slot.startFailures++;
    if (slot.startFailures >= MAX_START_FAILURES) {
      slot.lastError = cause;
      if (this.#slots.every((s) => s.worker === null && s.restartTimer === null)) {
        const err = unavailableError(this.#slots);
        for (const pending of this.#takeQueued(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY))
          pending.reject(err);
      }
      return;
    }
    this.#restarts++;
    const delay = slot.startFailures === 0 ? 0 : RESTART_BACKOFF_MS * 2 ** (slot.startFailures - 1);
    slot.restartTimer = setTimeout(() => this.#start(slot, true), delay);
    // Jobs keep flowing to the other workers meanwhile.
    this.#dispatch(true);
  }

  #rejectInFlight(slot: Slot, err: unknown): void {
    for (const batch of slot.inFlight.values()) for (const pending of batch) pending.reject(err);
    slot.inFlight.clear();
    slot.inFlightJobs = 0;
  }

  #schedule(): void {
    const queued = this.#queue.length - this.#head;
    if (queued >= this.#maxBatch) this.#dispatch(false);
    if (this.#queue.length - this.#head === 0 || this.#immediate !== null) return;
    if (this.#idleDelayMs === 0 && this.#anyIdle()) {
      // An idle worker: send what this turn of the event loop queued, without waiting.
      this.#immediate = setImmediate(() => {
        this.#immediate = null;
        this.#dispatch(true);
      });
    } else if (this.#timer === null) {
      // A batch round trip costs the main thread far more than a job in it (see the top of
      // this file): an idle worker waits `idleDelayMs` for company too.
      this.#timer = setTimeout(
        () => {
          this.#timer = null;
          this.#dispatch(true);
        },
        this.#anyIdle() ? this.#idleDelayMs : this.#maxDelayMs,
      );
    }
  }

  /** A worker runs or is about to be restarted. */
  #anyAlive(): boolean {
    for (const s of this.#slots) if (s.worker !== null || s.restartTimer !== null) return true;
    return false;
  }

  #anyIdle(): boolean {
    for (const s of this.#slots) if (s.ready && s.inFlight.size === 0) return true;
    return false;
  }

  /** Sends batches while jobs wait and a worker has room; partial batches only when `partial`. */
  #dispatch(partial: boolean): void {
    while (this.#queue.length - this.#head > 0) {
      if (!partial && this.#queue.length - this.#head < this.#maxBatch) return;
      const slot = this.#pickSlot();
      if (slot === undefined) return;
      const batch = this.#takeQueued(this.#maxBatch, this.#maxBatchBytes);
      const id = this.#nextBatchId++;
      const buffer = packBatch(batch.map((p) => p.job));
      slot.inFlight.set(id, batch);
      slot.inFlightJobs += batch.length;
      this.#batches++;
      this.#batchedJobs += batch.length;
      const message: ToWorker = { type: 'batch', id, buffer };
      (slot.worker as Worker).postMessage(message, [buffer]);
    }
  }

  /** The ready worker with room and the fewest jobs in flight; ties rotate. */
  #pickSlot(): Slot | undefined {
    let best: Slot | undefined;
    const n = this.#slots.length;
    for (let k = 0; k < n; k++) {
      const slot = this.#slots[(this.#rotate + k) % n] as Slot;
      if (!slot.ready || slot.worker === null || slot.inFlight.size >= this.#maxInFlight) continue;
      if (best === undefined || slot.inFlightJobs < best.inFlightJobs) best = slot;
    }
    this.#rotate = (this.#rotate + 1) % n;
    return best;
  }

  /** Removes and returns up to `maxJobs` queued jobs within `maxBytes` (at least one job). */
  #takeQueued(maxJobs: number, maxBytes: number): Pending[] {
    const out: Pending[] = [];
    let bytes = 0;
    while (this.#head < this.#queue.length && out.length < maxJobs) {
      const next = this.#queue[this.#head] as Pending;
      const size = packedJobSize(next.job);
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(next);
      bytes += size;
      this.#head++;
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }
}

function closedError(): MedgateError {
  return new MedgateError(GatewayErrorCode.VERIFY_POOL_CLOSED, 'verify pool is closed');
}

function unavailableError(slots: readonly Slot[]): MedgateError {
  const cause = slots.find((s) => s.lastError !== undefined)?.lastError;
  return new MedgateError(GatewayErrorCode.VERIFY_WORKER_START, 'no verify worker could be (re)started', {
    cause,
  });
}
