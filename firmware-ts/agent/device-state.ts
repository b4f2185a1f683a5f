/**
 * The agent's persistent state, typed, over a KeyValueStore: installed firmware seq, newest
 * signed block time seen, download progress, a pending trial boot, finished rollouts, and the
 * nonce of the device's last signed report. Values are small CBOR maps, read back through the
 * same strict decoders as wire data (flash can be corrupted too).
 */
import { toHex } from '../protocol/bytes.js';
import { decodeCbor, encodeCbor } from '../protocol/cbor.js';
import { Fields } from '../protocol/decode/fields.js';
import { MedgateError, ProtocolErrorCode } from '../protocol/errors.js';
import { HASH_SIZE } from '../protocol/merkle/index.js';
import { MAX_IMAGE_SIZE } from '../protocol/tx/manifest.js';
import type { KeyValueStore, SlotId } from './slots.js';

export const STATE_KEYS = Object.freeze({
  installedSeq: 'update/installedSeq',
  newestBlockTime: 'update/newestBlockTime',
  bundle: 'update/bundle',
  progress: 'update/progress',
  trial: 'update/trial',
  done: 'update/done',
  nonce: 'update/nonce',
});

/** Finished rollouts remembered, so a retained offer re-delivered on reconnect is not re-run. */
const MAX_DONE = 16;

const LIMITS = Object.freeze({ maxBytes: 1024, maxDepth: 2, maxStringBytes: 64, maxItems: MAX_DONE });

/** A download in progress: resumable from `offset` after a reconnect or a reboot. */
export interface Progress {
  readonly rollout: Uint8Array;
  readonly digest: Uint8Array;
  readonly size: number;
  readonly slot: SlotId;
  /** Bytes written and hashed so far. */
  readonly offset: number;
  /** Device time the download started (the overall deadline counts from it). */
  readonly started: number;
}

/** A trial boot under way: what to report and install once the self-test has run. */
export interface Trial {
  readonly rollout: Uint8Array;
  readonly seq: number;
  readonly previousSeq: number;
  readonly slot: SlotId;
}

function slotOf(f: Fields, key: string): SlotId {
  const slot = f.text(key, { min: 1, max: 1, pattern: /^[AB]$/ });
  return slot as SlotId;
}

export class DeviceState {
  constructor(private readonly kv: KeyValueStore) {}

  private async uint(key: string): Promise<number | undefined> {
    const bytes = await this.kv.get(key);
    if (bytes === undefined) return undefined;
    return Fields.of(decodeCbor(bytes, LIMITS), key, ['n']).uint('n');
  }

  private async setUint(key: string, n: number): Promise<void> {
    await this.kv.set(key, encodeCbor(new Map([['n', n]])));
  }

  /** Seq of the confirmed firmware; `fallback` (the factory image's) until the first update. */
  async installedSeq(fallback: number): Promise<number> {
    return (await this.uint(STATE_KEYS.installedSeq)) ?? fallback;
  }

  async setInstalledSeq(seq: number): Promise<void> {
    await this.setUint(STATE_KEYS.installedSeq, seq);
  }

  async newestBlockTime(): Promise<number> {
    return (await this.uint(STATE_KEYS.newestBlockTime)) ?? 0;
  }

  /** Only ever moves forward: a stale block never moves the device's notion of time back. */
  async advanceBlockTime(t: number): Promise<number> {
    const current = await this.newestBlockTime();
    if (t <= current) return current;
    await this.setUint(STATE_KEYS.newestBlockTime, t);
    return t;
  }

  async bundleBytes(): Promise<Uint8Array | undefined> {
    return this.kv.get(STATE_KEYS.bundle);
  }

  async setBundleBytes(bytes: Uint8Array): Promise<void> {
    await this.kv.set(STATE_KEYS.bundle, bytes);
  }

  async progress(): Promise<Progress | undefined> {
    const bytes = await this.kv.get(STATE_KEYS.progress);
    if (bytes === undefined) return undefined;
    const f = Fields.of(decodeCbor(bytes, LIMITS), 'progress', [
      'rollout',
      'digest',
      'size',
      'slot',
      'offset',
      'started',
    ]);
    return Object.freeze({
      rollout: f.bytes('rollout', { len: HASH_SIZE }),
      digest: f.bytes('digest', { len: HASH_SIZE }),
      size: f.uint('size', { min: 1, max: MAX_IMAGE_SIZE }),
      slot: slotOf(f, 'slot'),
      offset: f.uint('offset', { max: MAX_IMAGE_SIZE }),
      started: f.uint('started'),
    });
  }

  async setProgress(p: Progress): Promise<void> {
    await this.kv.set(
      STATE_KEYS.progress,
      encodeCbor(
        new Map<string, unknown>([
          ['rollout', p.rollout],
          ['digest', p.digest],
          ['size', p.size],
          ['slot', p.slot],
          ['offset', p.offset],
          ['started', p.started],
        ]),
      ),
    );
  }

  async clearProgress(): Promise<void> {
    await this.kv.delete(STATE_KEYS.progress);
  }

  async trial(): Promise<Trial | undefined> {
    const bytes = await this.kv.get(STATE_KEYS.trial);
    if (bytes === undefined) return undefined;
    const f = Fields.of(decodeCbor(bytes, LIMITS), 'trial', ['rollout', 'seq', 'previousSeq', 'slot']);
    return Object.freeze({
      rollout: f.bytes('rollout', { len: HASH_SIZE }),
      seq: f.uint('seq'),
      previousSeq: f.uint('previousSeq'),
      slot: slotOf(f, 'slot'),
    });
  }

  async setTrial(t: Trial): Promise<void> {
    await this.kv.set(
      STATE_KEYS.trial,
      encodeCbor(
        new Map<string, unknown>([
          ['rollout', t.rollout],
          ['seq', t.seq],
          ['previousSeq', t.previousSeq],
          ['slot', t.slot],
        ]),
      ),
    );
  }

  async clearTrial(): Promise<void> {
    await this.kv.delete(STATE_KEYS.trial);
  }

  private async doneList(): Promise<Uint8Array[]> {
    const bytes = await this.kv.get(STATE_KEYS.done);
    if (bytes === undefined) return [];
    const f = Fields.of(decodeCbor(bytes, LIMITS), 'done', ['ids']);
    return [
      ...f.list('ids', { max: MAX_DONE }, (item, path) => {
        if (!(item instanceof Uint8Array) || item.length !== HASH_SIZE) {
          throw new MedgateError(ProtocolErrorCode.BAD_FIELD, `${path}: must be a 32-byte id`, {
            field: path,
          });
        }
        return item;
      }),
    ];
  }

  /** True when this device already ended `rollout` (confirmed, rolled back or failed after the checks). */
  async isDone(rollout: Uint8Array): Promise<boolean> {
    const id = toHex(rollout);
    return (await this.doneList()).some((r) => toHex(r) === id);
  }

  async markDone(rollout: Uint8Array): Promise<void> {
    const ids = (await this.doneList()).filter((r) => toHex(r) !== toHex(rollout));
    ids.push(rollout);
    await this.kv.set(STATE_KEYS.done, encodeCbor(new Map([['ids', ids.slice(-MAX_DONE)]])));
  }

  /** The next nonce for a signed report: above the last one and at least the clock (DESIGN §4). */
  async nextNonce(now: number): Promise<number> {
    const last = (await this.uint(STATE_KEYS.nonce)) ?? 0;
    const next = Math.max(last + 1, now);
    await this.setUint(STATE_KEYS.nonce, next);
    return next;
  }
}
