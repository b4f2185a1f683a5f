/**
 * Group commit: items submitted while a write is in flight are collected and written
 * together by the next single commit, so one fsync acknowledges many callers.
 *
 * Two stages, pipelined: while batch k is being committed (fsync on the libuv pool), batch
 * k+1 is prepared (duplicate checks, hashing, encoding) on top of it. Commits run one at a
 * time, in order, and k+1's starts as soon as k's has succeeded, before k's callers run; each
 * caller's promise settles only when its batch's commit has settled.
 * If batch k fails, the prepared batch k+1 is discarded and prepared again, so nothing is
 * ever built on a batch that did not reach the disk.
 */

/** Outcome of one item of a batch: a stage may refuse single items (e.g. duplicates). */
export type Settled<R> =
  | { readonly ok: true; readonly value: R }
  | { readonly ok: false; readonly error: Error };

export interface BatchStages<T, R, P> {
  /** Builds a batch on top of every batch prepared before it; rejects if it cannot (batch fails). */
  prepare(items: readonly T[]): Promise<P>;
  /** Makes a prepared batch durable; rejects if the batch failed as a whole. */
  commit(prepared: P): Promise<readonly Settled<R>[]>;
  /** The batch before `prepared` failed: release it; `prepare` will be called again for its items. */
  discard(prepared: P): void;
}

export interface GroupCommitOptions {
  /** Most items per batch. */
  maxBatch: number;
  /** How long the first item of an idle queue waits for company; 0 = until the current tick ends. */
  maxDelayMs: number;
}

export interface GroupCommitStats {
  batches: number;
  items: number;
  largestBatch: number;
  failedBatches: number;
}

interface Waiter<T, R> {
  item: T;
  resolve: (value: R) => void;
  reject: (error: Error) => void;
}

interface Batch<T, R, P> {
  waiters: Waiter<T, R>[];
  prepared: Promise<P>;
}

/** Queues shorter than twice this are not split (see #cut). */
const MIN_SPLIT = 64;

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

export class GroupCommit<T, R, P> {
  readonly #stages: BatchStages<T, R, P>;
  readonly #maxBatch: number;
  readonly #maxDelayMs: number;
  #queue: Waiter<T, R>[] = [];
  #running = false;
  #idle: (() => void)[] = [];
  readonly #stats: GroupCommitStats = { batches: 0, items: 0, largestBatch: 0, failedBatches: 0 };

  constructor(stages: BatchStages<T, R, P>, options: GroupCommitOptions) {
    this.#stages = stages;
    this.#maxBatch = options.maxBatch;
    this.#maxDelayMs = options.maxDelayMs;
  }

  /** Counters since construction (a copy). */
  get stats(): GroupCommitStats {
    return { ...this.#stats };
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        if (this.#maxDelayMs > 0) setTimeout(() => void this.#drain(), this.#maxDelayMs);
        else setImmediate(() => void this.#drain());
      }
    });
  }

  /** Resolves once every item submitted so far has settled. */
  flush(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Takes the next batch off the queue and starts preparing it. With nothing being committed
   * (`idle`), a long queue is halved so that preparing the second half overlaps committing
   * the first: the pipeline fills, and the first callers are acknowledged sooner.
   */
  #cut(idle: boolean): Batch<T, R, P> | undefined {
    const queued = this.#queue.length;
    if (queued === 0) return undefined;
    const take = idle && queued >= 2 * MIN_SPLIT ? Math.ceil(queued / 2) : queued;
    const waiters = this.#queue.splice(0, Math.min(take, this.#maxBatch));
    return { waiters, prepared: this.#prepare(waiters) };
  }

  #prepare(waiters: Waiter<T, R>[]): Promise<P> {
    const prepared = this.#stages.prepare(waiters.map((w) => w.item));
    prepared.catch(() => {}); // handled where it is awaited; avoids an unhandled rejection meanwhile
    return prepared;
  }

  async #drain(): Promise<void> {
    let current = this.#cut(true);
    /** The commit of `current` when it was started before the last batch settled. */
    let started: Promise<readonly Settled<R>[]> | undefined;
    while (current !== undefined) {
      let next: Batch<T, R, P> | undefined;
      let results: readonly Settled<R>[] | undefined;
      let failure: Error | undefined;
      try {
        // Awaited either way: the next batch is prepared only on top of a prepared one.
        const prepared = await current.prepared;
        const committing = started ?? this.#stages.commit(prepared);
        committing.catch(() => {});
        // Prepare the next batch on top of this one while it is written.
        next = this.#cut(false);
        results = await committing;
        if (results.length !== current.waiters.length)
          throw new Error('a batch returned the wrong number of results');
      } catch (err) {
        failure = asError(err);
        if (next !== undefined) {
          const stale = await next.prepared.then(
            (p) => p,
            () => undefined,
          );
          if (stale !== undefined) this.#stages.discard(stale);
          next.prepared = this.#prepare(next.waiters);
        }
      }
      // Start writing the next batch before settling this one: the callers settled below run
      // on this thread first, and the disk would stay idle meanwhile (about 1.4 ms for each
      // batch of 500 in the reading-log bench). Only on top of a batch that succeeded.
      started = undefined;
      if (next !== undefined && failure === undefined) {
        started = next.prepared.then((p) => this.#stages.commit(p));
        started.catch(() => {});
      }
      this.#settle(current.waiters, results, failure);
      if (next === undefined) {
        // Let the callers just settled run (and submit again) before the next batch is cut.
        await tick();
        next = this.#cut(true);
      }
      current = next;
    }
    this.#running = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const done of idle) done();
  }

  #settle(
    waiters: Waiter<T, R>[],
    results: readonly Settled<R>[] | undefined,
    failure: Error | undefined,
  ): void {
    const stats = this.#stats;
    stats.batches++;
    stats.items += waiters.length;
    if (waiters.length > stats.largestBatch) stats.largestBatch = waiters.length;
    if (results === undefined) {
      stats.failedBatches++;
      const error = failure ?? new Error('batch failed');
      for (const w of waiters) w.reject(error);
      return;
    }
    for (let i = 0; i < waiters.length; i++) {
      const r = results[i] as Settled<R>;
      const w = waiters[i] as Waiter<T, R>;
      if (r.ok) w.resolve(r.value);
      else w.reject(r.error);
    }
  }
}
