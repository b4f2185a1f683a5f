/**
 * Storage behind an interface (DESIGN §6: no node:fs in the agent), so the same agent runs in
 * the simulator (file-backed) and on a device port (flash): A/B firmware slots and a small
 * key-value store. In-memory implementations of both are here.
 *
 * A/B scheme: the device runs the ACTIVE slot. An update is written to the other (inactive)
 * slot, booted once as a TRIAL, then either CONFIRMED (it becomes the active slot) or ROLLED
 * BACK (the trial is dropped and the device runs the active slot again). On a real port,
 * `trialBoot` resets into the trial slot and the agent continues in `UpdateAgent.resume()`.
 */
import { MedgateError, ProtocolErrorCode } from '../protocol/errors.js';

export type SlotId = 'A' | 'B';

export function otherSlot(slot: SlotId): SlotId {
  return slot === 'A' ? 'B' : 'A';
}

export interface SlotStorage {
  /** Bytes one slot holds. */
  capacity(): number;
  /** The confirmed slot. */
  activeSlot(): Promise<SlotId>;
  /** The slot running now: the active one, or the trial slot during a trial boot. */
  bootedSlot(): Promise<SlotId>;
  /** Empties `slot` for a new image (never the active one). */
  erase(slot: SlotId): Promise<void>;
  write(slot: SlotId, offset: number, data: Uint8Array): Promise<void>;
  /** Up to `len` bytes from `offset` (fewer at the end of what was written). */
  read(slot: SlotId, offset: number, len: number): Promise<Uint8Array>;
  /** Boots `slot` once without making it active. */
  trialBoot(slot: SlotId): Promise<void>;
  /** The trial slot becomes the active one. */
  confirm(): Promise<void>;
  /** Drops the trial: the device runs the active slot again. */
  rollback(): Promise<void>;
}

/** A small persistent key-value store (values are the agent's own CBOR). */
export interface KeyValueStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

function badArgument(message: string, field: string): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, message, { field });
}

/** In-memory A/B slots (tests, simulator without a disk). */
export class MemorySlots implements SlotStorage {
  private readonly images: Record<SlotId, Uint8Array>;
  private readonly lengths: Record<SlotId, number> = { A: 0, B: 0 };
  private active: SlotId;
  private booted: SlotId;

  constructor(
    private readonly bytes: number,
    initial: { readonly slot?: SlotId; readonly image?: Uint8Array } = {},
  ) {
    if (!Number.isSafeInteger(bytes) || bytes < 1)
      throw badArgument('capacity must be a positive integer', 'capacity');
    this.images = { A: new Uint8Array(bytes), B: new Uint8Array(bytes) };
    this.active = initial.slot ?? 'A';
    this.booted = this.active;
    if (initial.image !== undefined) {
      if (initial.image.length > bytes) throw badArgument('the initial image is larger than a slot', 'image');
      this.images[this.active].set(initial.image);
      this.lengths[this.active] = initial.image.length;
    }
  }

  capacity(): number {
    return this.bytes;
  }

  async activeSlot(): Promise<SlotId> {
    return this.active;
  }

  async bootedSlot(): Promise<SlotId> {
    return this.booted;
  }

  async erase(slot: SlotId): Promise<void> {
    this.assertWritable(slot);
    this.images[slot].fill(0);
    this.lengths[slot] = 0;
  }

  async write(slot: SlotId, offset: number, data: Uint8Array): Promise<void> {
    this.assertWritable(slot);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.bytes) {
      throw badArgument('write outside the slot', 'offset');
    }
    this.images[slot].set(data, offset);
    this.lengths[slot] = Math.max(this.lengths[slot], offset + data.length);
  }

  async read(slot: SlotId, offset: number, len: number): Promise<Uint8Array> {
    const end = Math.min(this.lengths[slot], offset + len);
    return this.images[slot].slice(Math.min(offset, end), end);
  }

  async trialBoot(slot: SlotId): Promise<void> {
    if (slot === this.active) throw badArgument('the trial slot must not be the active slot', 'slot');
    this.booted = slot;
  }

  async confirm(): Promise<void> {
    this.active = this.booted;
  }

  async rollback(): Promise<void> {
    this.booted = this.active;
  }

  /** The image in `slot` as written so far (tests, simulator). */
  image(slot: SlotId): Uint8Array {
    return this.images[slot].slice(0, this.lengths[slot]);
  }

  /** Overwrites bytes of a slot directly, as a fault or an attacker with flash access would. */
  tamper(slot: SlotId, offset: number, data: Uint8Array): void {
    this.images[slot].set(data, offset);
  }

  private assertWritable(slot: SlotId): void {
    if (slot === this.active || slot === this.booted)
      throw badArgument('a running slot is never written', 'slot');
  }
}

/** In-memory key-value store. */
export class MemoryKeyValue implements KeyValueStore {
  private readonly entries = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.entries.get(key)?.slice();
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    this.entries.set(key, value.slice());
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
