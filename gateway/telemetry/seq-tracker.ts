/**
 * The seq rules of DESIGN §3, per device: `seq > last` is new; the same seq with the same
 * bytes as the reading accepted with it is a duplicate (acknowledged, stored once, e.g. a
 * QoS 1 redelivery); any other `seq <= last` is a replay. Gaps are accepted and counted.
 *
 * State per device: the highest seq decided, the leaf hash of its bytes, the appends still in
 * flight, and seqs whose append failed (the device will redeliver them; they must not then
 * look like replays). It is loaded from the reading store's device head on first use, so a
 * restart does not reopen replays; and the reading log, which holds every logged (device,
 * seq) with its leaf hash, decides the rare seqs below the last one.
 *
 * Callers decide a device's readings one at a time, in arrival order (lanes.ts).
 */
import { equalBytes } from '../../firmware-ts/protocol/bytes.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { GatewayErrorCode } from '../errors.js';
import type { LeafPosition } from '../ledger/sequencer.js';

export type SeqDecision =
  /** New: log it. `gap`: seqs skipped since the last one (absent for none, or a first reading). */
  | { readonly kind: 'accept'; readonly gap?: number }
  /** These bytes are already accepted; `pending` settles once their leaf is durable. */
  | { readonly kind: 'duplicate'; readonly pending?: Promise<LeafPosition> }
  | { readonly kind: 'replay'; readonly last: number };

/** Where a device's history comes from when the tracker has not seen it since start. */
export interface SeqSources {
  /** The store's device head: highest accepted seq and the leaf hash of its bytes. */
  head(deviceId: string): Promise<{ readonly seq: number; readonly leafHash: Uint8Array } | undefined>;
  /** Leaf hash of the reading logged for (device, seq), if any. */
  logged(deviceId: string, seq: number): Promise<Uint8Array | undefined>;
}

export interface SeqTrackerOptions {
  /** Devices kept in memory; idle ones beyond are reloaded from the store when they return. */
  readonly maxDevices?: number;
}

/** Failed seqs remembered per device (a burst of failed writes); older ones are forgotten. */
const MAX_RETRY = 256;

interface DeviceSeqs {
  /** Highest seq decided, -1 before the first. */
  last: number;
  lastHash: Uint8Array | undefined;
  readonly pending: Map<number, { readonly hash: Uint8Array; readonly done: Promise<LeafPosition> }>;
  readonly retry: Set<number>;
}

const ACCEPT: SeqDecision = Object.freeze({ kind: 'accept' });

/** The seq rules on what memory holds; undefined when the log must say (a seq below the last). */
function decideInMemory(s: DeviceSeqs, seq: number, hash: Uint8Array): SeqDecision | undefined {
  if (seq > s.last) {
    const gap = s.last >= 0 && seq > s.last + 1 ? seq - s.last - 1 : undefined;
    return gap === undefined ? ACCEPT : { kind: 'accept', gap };
  }
  // An earlier append of this seq failed: the device redelivers it, this is its first logging.
  if (s.retry.has(seq)) return ACCEPT;
  const pending = s.pending.get(seq);
  if (pending !== undefined) {
    return equalBytes(pending.hash, hash)
      ? { kind: 'duplicate', pending: pending.done }
      : { kind: 'replay', last: s.last };
  }
  if (seq === s.last && s.lastHash !== undefined) {
    return equalBytes(s.lastHash, hash) ? { kind: 'duplicate' } : { kind: 'replay', last: s.last };
  }
  return undefined;
}

export class SeqTracker {
  readonly #sources: SeqSources;
  readonly #maxDevices: number;
  /** Least recently used first. */
  readonly #devices = new Map<string, DeviceSeqs>();

  constructor(sources: SeqSources, options: SeqTrackerOptions = {}) {
    this.#sources = sources;
    this.#maxDevices = options.maxDevices ?? 100_000;
  }

  /** Devices held in memory. */
  get size(): number {
    return this.#devices.size;
  }

  /** The highest seq decided for `deviceId` (from memory or the store), -1 if none. */
  async last(deviceId: string): Promise<number> {
    return (await this.#load(deviceId)).last;
  }

  /** Applies the seq rules to a verified reading with leaf hash `hash`. Changes nothing. */
  async decide(deviceId: string, seq: number, hash: Uint8Array): Promise<SeqDecision> {
    const s = await this.#load(deviceId);
    const known = decideInMemory(s, seq, hash);
    if (known !== undefined) return known;
    const logged = await this.#sources.logged(deviceId, seq);
    return logged !== undefined && equalBytes(logged, hash)
      ? { kind: 'duplicate' }
      : { kind: 'replay', last: s.last };
  }

  /**
   * `decide` without waiting, when memory alone decides (a device seen since start, and a
   * seq above its last or one it remembers): the usual case, with no promise per reading.
   * Undefined when `decide` must read the store or the log.
   */
  decideNow(deviceId: string, seq: number, hash: Uint8Array): SeqDecision | undefined {
    const s = this.#devices.get(deviceId);
    if (s === undefined) return undefined;
    const decision = decideInMemory(s, seq, hash);
    if (decision !== undefined) {
      // Refresh its place in the LRU order, as #load does.
      this.#devices.delete(deviceId);
      this.#devices.set(deviceId, s);
    }
    return decision;
  }

  /**
   * Records an accepted decision and its append. Call it right after `decide` returned
   * `accept`, before the next decision of the device.
   */
  accepted(deviceId: string, seq: number, hash: Uint8Array, append: Promise<LeafPosition>): void {
    const s = this.#devices.get(deviceId);
    if (s === undefined) throw new Error(`seq tracker: ${deviceId} was not decided`);
    if (seq >= s.last) {
      s.last = seq;
      s.lastHash = hash;
    }
    s.retry.delete(seq);
    const entry = { hash, done: append };
    s.pending.set(seq, entry);
    append.then(
      () => {
        if (s.pending.get(seq) === entry) s.pending.delete(seq);
      },
      (err: unknown) => {
        if (s.pending.get(seq) === entry) s.pending.delete(seq);
        // A duplicate leaf is logged already; any other failure logged nothing.
        if (!isMedgateError(err, GatewayErrorCode.DUPLICATE_LEAF)) {
          s.retry.add(seq);
          if (s.retry.size > MAX_RETRY) s.retry.delete(s.retry.values().next().value as number);
        }
      },
    );
  }

  async #load(deviceId: string): Promise<DeviceSeqs> {
    const known = this.#devices.get(deviceId);
    if (known !== undefined) {
      // Refresh its place in the LRU order.
      this.#devices.delete(deviceId);
      this.#devices.set(deviceId, known);
      return known;
    }
    const head = await this.#sources.head(deviceId);
    // Another caller may have loaded it meanwhile (callers of one device are serialized, but be safe).
    const raced = this.#devices.get(deviceId);
    if (raced !== undefined) return raced;
    const s: DeviceSeqs = {
      last: head?.seq ?? -1,
      lastHash: head?.leafHash,
      pending: new Map(),
      retry: new Set(),
    };
    this.#devices.set(deviceId, s);
    this.#evict(deviceId);
    return s;
  }

  /** Drops least recently used devices with nothing in flight and nothing to retry. */
  #evict(keep: string): void {
    if (this.#devices.size <= this.#maxDevices) return;
    for (const [id, s] of this.#devices) {
      if (this.#devices.size <= this.#maxDevices) return;
      if (id !== keep && s.pending.size === 0 && s.retry.size === 0) this.#devices.delete(id);
    }
  }
}
