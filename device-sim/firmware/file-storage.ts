/**
 * File-backed implementations of the agent's storage ports (firmware-ts/agent/slots.ts), in
 * the device's state directory, so that a restarted simulator finds the same A/B slots, the
 * same installed firmware and a download or trial boot it was in the middle of:
 *
 *   firmware/slot-A.bin, slot-B.bin   the two images (written in place, like flash)
 *   firmware/slots.json               {active, booted, lengths}: which slot runs, atomically replaced
 *   firmware/kv/{hex key}             the agent's key-value entries, each atomically replaced
 */
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyValueStore, SlotId, SlotStorage } from '../../firmware-ts/agent/slots.js';
import { toHex, utf8 } from '../../firmware-ts/protocol/bytes.js';
import { MedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { writeFileAtomic } from '../state/atomic.js';
import { readJson } from '../state/json.js';

interface SlotTable {
  active: SlotId;
  booted: SlotId;
  lengths: Record<SlotId, number>;
}

const isSlot = (v: unknown): v is SlotId => v === 'A' || v === 'B';

function badArgument(message: string, field: string): MedgateError {
  return new MedgateError(ProtocolErrorCode.BAD_ARGUMENT, message, { field });
}

export class FileSlots implements SlotStorage {
  readonly #dir: string;
  readonly #capacity: number;
  #table: SlotTable;

  private constructor(dir: string, capacity: number, table: SlotTable) {
    this.#dir = dir;
    this.#capacity = capacity;
    this.#table = table;
  }

  /** Opens the slots in `dir`, or creates them with `factoryImage` in slot A. */
  static async open(dir: string, capacity: number, factoryImage: Uint8Array): Promise<FileSlots> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const raw = await readJson(join(dir, 'slots.json'));
    if (raw !== undefined) {
      const lengths = (raw.lengths ?? {}) as Record<string, unknown>;
      if (
        isSlot(raw.active) &&
        isSlot(raw.booted) &&
        Number.isSafeInteger(lengths.A) &&
        Number.isSafeInteger(lengths.B)
      ) {
        return new FileSlots(dir, capacity, {
          active: raw.active,
          booted: raw.booted,
          lengths: { A: lengths.A as number, B: lengths.B as number },
        });
      }
    }
    if (factoryImage.length > capacity) throw badArgument('the factory image is larger than a slot', 'image');
    const slots = new FileSlots(dir, capacity, { active: 'A', booted: 'A', lengths: { A: 0, B: 0 } });
    await writeFileAtomic(slots.#file('A'), factoryImage);
    await writeFileAtomic(slots.#file('B'), new Uint8Array(0));
    slots.#table.lengths.A = factoryImage.length;
    await slots.#save();
    return slots;
  }

  capacity(): number {
    return this.#capacity;
  }

  async activeSlot(): Promise<SlotId> {
    return this.#table.active;
  }

  async bootedSlot(): Promise<SlotId> {
    return this.#table.booted;
  }

  async erase(slot: SlotId): Promise<void> {
    this.#assertWritable(slot);
    this.#table.lengths[slot] = 0;
    await this.#save();
    await writeFileAtomic(this.#file(slot), new Uint8Array(0));
  }

  async write(slot: SlotId, offset: number, data: Uint8Array): Promise<void> {
    this.#assertWritable(slot);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.#capacity) {
      throw badArgument('write outside the slot', 'offset');
    }
    const handle = await open(this.#file(slot), 'r+');
    try {
      await handle.write(data, 0, data.length, offset);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (offset + data.length > this.#table.lengths[slot]) {
      this.#table.lengths[slot] = offset + data.length;
      await this.#save();
    }
  }

  async read(slot: SlotId, offset: number, len: number): Promise<Uint8Array> {
    const end = Math.min(this.#table.lengths[slot], offset + len);
    const start = Math.min(offset, end);
    const bytes = await readFile(this.#file(slot));
    return new Uint8Array(bytes.subarray(start, end));
  }

  async trialBoot(slot: SlotId): Promise<void> {
    if (slot === this.#table.active) throw badArgument('the trial slot must not be the active slot', 'slot');
    this.#table.booted = slot;
    await this.#save();
  }

  async confirm(): Promise<void> {
    this.#table.active = this.#table.booted;
    await this.#save();
  }

  async rollback(): Promise<void> {
    this.#table.booted = this.#table.active;
    await this.#save();
  }

  /** Overwrites bytes of a slot on disk directly, as a fault or an attacker with flash access would. */
  async tamper(slot: SlotId, offset: number, data: Uint8Array): Promise<void> {
    const handle = await open(this.#file(slot), 'r+');
    try {
      await handle.write(data, 0, data.length, offset);
    } finally {
      await handle.close();
    }
  }

  #file(slot: SlotId): string {
    return join(this.#dir, `slot-${slot}.bin`);
  }

  #save(): Promise<void> {
    return writeFileAtomic(join(this.#dir, 'slots.json'), `${JSON.stringify(this.#table)}\n`);
  }

  #assertWritable(slot: SlotId): void {
    if (slot === this.#table.active || slot === this.#table.booted) {
      throw badArgument('a running slot is never written', 'slot');
    }
  }
}

/** The agent's key-value store as one file per key (names are the key's hex, so any key is safe). */
export class FileKeyValue implements KeyValueStore {
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  static async open(dir: string): Promise<FileKeyValue> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new FileKeyValue(dir);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.#path(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    await writeFileAtomic(this.#path(key), value);
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  #path(key: string): string {
    return join(this.#dir, toHex(utf8(key)));
  }
}
