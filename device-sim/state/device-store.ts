/**
 * One device's persistent state (see fleet-store.ts for the layout): its key, its record
 * (status, sequence reservation, vendor attestation), and its
 * outbox of signed readings that the gateway has not acknowledged yet.
 *
 * Sequence numbers must never repeat (DESIGN §3: a lower or equal seq with other bytes is a
 * replay). The record stores a reservation above the last seq used, made durable before a
 * seq beyond the previous reservation is handed out; after a crash the device resumes at the
 * reservation (a gap, which the gateway accepts and reports), never below it.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBase64, toBase64 } from '../../firmware-ts/protocol/bytes.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { decodePrivateKeyPem, encodePrivateKeyPem } from '../../firmware-ts/protocol/pem.js';
import { MedgateError, SimErrorCode } from '../errors.js';
import { CoalescingWriter, writeFileAtomic } from './atomic.js';
import { deviceDir } from './fleet-store.js';
import { field, readJson } from './json.js';

/** new: never enrolled; pending: waits for an admin; active: may connect; refused: enrolment refused or revoked. */
export type DeviceStatus = 'new' | 'pending' | 'active' | 'refused';

const STATUSES: readonly DeviceStatus[] = ['new', 'pending', 'active', 'refused'];

/** Seqs reserved per durable write of the record. */
export const SEQ_RESERVATION = 64;

export interface DeviceRecord {
  v: 1;
  id: string;
  model: string;
  status: DeviceStatus;
  /** Last seq used. */
  seq: number;
  /** No seq above this was used; durable before any seq above the previous one is. */
  seqReserved: number;
  /** Vendor attestation (COSE_Sign1, base64), made at "manufacture" with the key. */
  att: string;
  /** Why the device stopped (status refused). */
  code?: string;
}

export interface OutboxItem {
  readonly seq: number;
  /** Device clock of the reading, ms. */
  readonly t: number;
  /** The signed COSE_Sign1 bytes, exactly as they will be (re)published. */
  readonly cose: Uint8Array;
}

export class DeviceStore {
  readonly dir: string;
  readonly secret: Uint8Array;
  readonly record: DeviceRecord;
  readonly #outbox: OutboxItem[];
  readonly #limit: number;
  #dropped = 0;
  #durableReserved: number;
  #seqLock: Promise<void> = Promise.resolve();
  readonly #recordWriter: CoalescingWriter;
  readonly #outboxWriter: CoalescingWriter;

  private constructor(
    dir: string,
    secret: Uint8Array,
    record: DeviceRecord,
    outbox: OutboxItem[],
    limit: number,
  ) {
    this.dir = dir;
    this.secret = secret;
    this.record = record;
    this.#outbox = outbox;
    this.#limit = limit;
    this.#durableReserved = record.seqReserved;
    this.#recordWriter = new CoalescingWriter(
      join(dir, 'device.json'),
      () => `${JSON.stringify(this.record)}\n`,
    );
    this.#outboxWriter = new CoalescingWriter(join(dir, 'outbox.json'), () =>
      JSON.stringify({
        v: 1,
        items: this.#outbox.map((i) => ({ seq: i.seq, t: i.t, cose: toBase64(i.cose) })),
      }),
    );
  }

  /**
   * Opens the device `id` in `stateDir`, or creates it: a fresh key from the CSPRNG and the
   * vendor attestation `attest(pub)` made once, as a factory would. `limit` bounds the outbox.
   */
  static async open(
    stateDir: string,
    id: string,
    model: string,
    limit: number,
    attest: (pub: Uint8Array) => Promise<Uint8Array>,
  ): Promise<DeviceStore> {
    const dir = deviceDir(stateDir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, 'device.key');
    const recordPath = join(dir, 'device.json');
    const existing = await readJson(recordPath);
    if (existing === undefined) {
      const secret = nodeBackend.generateSecretKey();
      const att = await attest(nodeBackend.publicKey(secret));
      await writeFileAtomic(keyPath, encodePrivateKeyPem(secret));
      const record: DeviceRecord = {
        v: 1,
        id,
        model,
        status: 'new',
        seq: 0,
        seqReserved: 0,
        att: toBase64(att),
      };
      await writeFileAtomic(recordPath, `${JSON.stringify(record)}\n`);
      return new DeviceStore(dir, secret, record, [], limit);
    }
    let secret: Uint8Array;
    try {
      secret = decodePrivateKeyPem(await readFile(keyPath, 'utf8'));
    } catch (err) {
      throw new MedgateError(SimErrorCode.STATE, `${keyPath}: cannot read the device key`, { cause: err });
    }
    const record = parseRecord(existing, recordPath, id);
    // After a crash the last seqs used may be above `seq`, never above the reservation.
    record.seq = Math.max(record.seq, record.seqReserved);
    const outbox = await readOutbox(join(dir, 'outbox.json'));
    return new DeviceStore(dir, secret, record, outbox, limit);
  }

  get attestation(): Uint8Array {
    return fromBase64(this.record.att, 'att');
  }

  /** The next seq, durable as a reservation before it is returned. Calls are serialised. */
  nextSeq(): Promise<number> {
    const next = this.#seqLock.then(() => this.#nextSeq());
    this.#seqLock = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  async #nextSeq(): Promise<number> {
    const seq = this.record.seq + 1;
    this.record.seq = seq;
    if (seq > this.#durableReserved) {
      this.record.seqReserved = seq + SEQ_RESERVATION - 1;
      await this.saveRecord();
      this.#durableReserved = this.record.seqReserved;
    } else {
      this.#recordWriter.schedule();
    }
    return seq;
  }

  async saveRecord(): Promise<void> {
    this.#recordWriter.schedule();
    await this.#recordWriter.flush();
  }

  /** Signed readings waiting for a PUBACK, oldest first. */
  get outbox(): readonly OutboxItem[] {
    return this.#outbox;
  }

  /** Readings dropped from a full outbox since the start of this run. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds a reading; when the outbox is full the oldest is dropped (returned). */
  push(item: OutboxItem): OutboxItem | undefined {
    this.#outbox.push(item);
    let dropped: OutboxItem | undefined;
    if (this.#outbox.length > this.#limit) {
      dropped = this.#outbox.shift();
      this.#dropped++;
    }
    this.#outboxWriter.schedule();
    return dropped;
  }

  /** Removes the reading with `seq` once the gateway acknowledged it. */
  acknowledge(seq: number): void {
    const i = this.#outbox.findIndex((item) => item.seq === seq);
    if (i < 0) return;
    this.#outbox.splice(i, 1);
    this.#outboxWriter.schedule();
  }

  /** Resolves once the writes scheduled so far are on disk (changes nothing). */
  async idle(): Promise<void> {
    await Promise.all([this.#recordWriter.flush(), this.#outboxWriter.flush()]);
  }

  /** Writes everything pending (on stop). */
  async flush(): Promise<void> {
    // A graceful stop leaves the exact seq, so the next run has no gap.
    this.record.seqReserved = this.record.seq;
    this.#durableReserved = this.record.seq;
    this.#recordWriter.schedule();
    this.#outboxWriter.schedule();
    await Promise.all([this.#recordWriter.flush(), this.#outboxWriter.flush()]);
  }
}

function parseRecord(obj: Record<string, unknown>, path: string, id: string): DeviceRecord {
  if (obj.v !== 1) throw new MedgateError(SimErrorCode.STATE, `${path}: unknown version`, { field: 'v' });
  const status = field<string>(obj, 'status', 'string', path) as DeviceStatus;
  if (!STATUSES.includes(status))
    throw new MedgateError(SimErrorCode.STATE, `${path}: bad status`, { field: 'status' });
  const record: DeviceRecord = {
    v: 1,
    id: field<string>(obj, 'id', 'string', path),
    model: field<string>(obj, 'model', 'string', path),
    status,
    seq: field<number>(obj, 'seq', 'number', path),
    seqReserved: field<number>(obj, 'seqReserved', 'number', path),
    att: field<string>(obj, 'att', 'string', path),
  };
  if (record.id !== id)
    throw new MedgateError(SimErrorCode.STATE, `${path}: id is not ${id}`, { field: 'id' });
  if (typeof obj.code === 'string') record.code = obj.code;
  return record;
}

async function readOutbox(path: string): Promise<OutboxItem[]> {
  const obj = await readJson(path);
  if (obj === undefined) return [];
  const items = obj.items;
  if (obj.v !== 1 || !Array.isArray(items))
    throw new MedgateError(SimErrorCode.STATE, `${path}: not an outbox`);
  return items.map((raw: unknown, i) => {
    const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const where = `${path} items[${i}]`;
    return {
      seq: field<number>(o, 'seq', 'number', where),
      t: field<number>(o, 't', 'number', where),
      cose: fromBase64(field<string>(o, 'cose', 'string', where), 'cose'),
    };
  });
}
