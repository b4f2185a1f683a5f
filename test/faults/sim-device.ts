/**
 * A well-behaved device for the fault runs, as DESIGN §3 asks a device to behave across gateway
 * crashes: it publishes signed readings at QoS 1 with strictly rising seqs, keeps every reading
 * it sent until the PUBACK arrives, and after a reconnect first resends the unacknowledged ones
 * (the same bytes, so a reading the gateway made durable before dying counts as a duplicate),
 * then continues with seqs above them. What it saw acknowledged is what the gateway promised.
 *
 * Each connection is a fresh mqtt.js client with a fresh connect token (a token's nonce serves
 * once), so mqtt.js's own reconnect logic is not used.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { eventsTopic, telemetryTopic } from '../../firmware-ts/protocol/topics.js';

export interface DeviceSigner {
  /** COSE_Sign1 bytes of a reading with this seq. */
  reading(seq: number): Uint8Array;
  /** A fresh connect token (COSE_Sign1 bytes). */
  token(): Uint8Array;
}

export interface SimDeviceOptions {
  /** Readings in flight (sent, not acknowledged) at most. */
  readonly window?: number;
  /** Pause between new readings, ms (0: as fast as the window allows). */
  readonly paceMs?: number;
}

export class SimDevice {
  /** Readings the gateway acknowledged, in ack order. */
  readonly acked: { seq: number; bytes: Uint8Array }[] = [];
  /** Sent or to be sent, not acknowledged, by seq. */
  readonly pending = new Map<number, Uint8Array>();
  /** Codes of `rejected` events (a well-behaved device must see none). */
  readonly rejected: string[] = [];
  /** Readings sent again after a reconnect. */
  resent = 0;
  connects = 0;
  #nextSeq = 1;
  #client: MqttClient | undefined;
  #producing = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #window: number;
  readonly #paceMs: number;

  constructor(
    readonly id: string,
    readonly signer: DeviceSigner,
    options: SimDeviceOptions = {},
  ) {
    this.#window = options.window ?? 4;
    this.#paceMs = options.paceMs ?? 10;
  }

  get connected(): boolean {
    return this.#client?.connected === true;
  }

  /** Highest seq acknowledged so far (0 before any). */
  get lastAcked(): number {
    return this.acked.reduce((max, a) => Math.max(max, a.seq), 0);
  }

  /**
   * Connects to `url`, retrying every 50 ms while `keepTrying()` holds; resolves true once
   * connected (pending readings are then resent), false if it gave up.
   */
  async attach(url: string, keepTrying: () => boolean): Promise<boolean> {
    while (keepTrying()) {
      const client = await this.#connectOnce(url);
      if (client !== undefined) {
        this.#client = client;
        this.connects++;
        client.on('message', (_topic, payload) => this.#onEvent(payload));
        client.subscribe(eventsTopic(this.id), { qos: 0 });
        client.once('close', () => {
          if (this.#client === client) this.#client = undefined;
          client.end(true);
        });
        const resend = [...this.pending.keys()].sort((a, b) => a - b);
        this.resent += resend.length;
        for (const seq of resend) this.#send(client, seq, this.pending.get(seq) as Uint8Array);
        this.#fill();
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  }

  /** Starts or stops producing new readings (pending ones are still resent and acknowledged). */
  produce(on: boolean): void {
    this.#producing = on;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (on) this.#fill();
  }

  /** Drops the connection at once (no DISCONNECT). */
  detach(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#client?.end(true);
    this.#client = undefined;
  }

  #connectOnce(url: string): Promise<MqttClient | undefined> {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: this.id,
      username: this.id,
      password: Buffer.from(this.signer.token()),
      reconnectPeriod: 0,
      connectTimeout: 3_000,
      keepalive: 30,
    });
    return new Promise((resolve) => {
      const fail = () => {
        client.end(true);
        resolve(undefined);
      };
      client.once('connect', () => {
        client.off('error', fail);
        client.off('close', fail);
        resolve(client);
      });
      client.once('error', fail);
      client.once('close', fail);
    });
  }

  #send(client: MqttClient, seq: number, bytes: Uint8Array): void {
    client.publish(telemetryTopic(this.id), Buffer.from(bytes), { qos: 1 }, (err) => {
      // An error means the connection went away before the PUBACK: the reading stays pending.
      if (err !== undefined && err !== null) return;
      if (!this.pending.delete(seq)) return;
      this.acked.push({ seq, bytes });
      this.#fill();
    });
  }

  #fill(): void {
    if (!this.#producing || this.#timer !== undefined) return;
    const client = this.#client;
    if (client === undefined || !client.connected || this.pending.size >= this.#window) return;
    const seq = this.#nextSeq++;
    const bytes = this.signer.reading(seq);
    this.pending.set(seq, bytes);
    this.#send(client, seq, bytes);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fill();
    }, this.#paceMs);
  }

  #onEvent(payload: Buffer): void {
    try {
      const event = decodeCbor(new Uint8Array(payload)) as Map<string, unknown>;
      if (event.get('type') === 'rejected') this.rejected.push(String(event.get('code')));
    } catch {
      this.rejected.push('undecodable event');
    }
  }
}
