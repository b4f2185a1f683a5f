/**
 * A publisher of the gateway benchmark's lanes on a raw MQTT 3.1.1 socket (mqtt-wire.ts):
 * CONNECT, QoS 1 PUBLISH, and each PUBACK matched to its packet identifier. It stands in for
 * the devices at the lowest CPU cost a client can have, so that the 2-core machine's second
 * core goes to the broker under test and not to the load generator (mqtt.js spent about
 * 25 µs per publish here, a quarter of a core at the gateway's rate).
 */
import { connect } from 'node:net';
import { connectPacket, PacketType, readPackets, remainingLength } from './mqtt-wire.js';

const CONNECT_TIMEOUT_MS = 30_000;
/** Packet identifiers are 1..65535 (MQTT 3.1.1 §2.3.1). */
const MAX_PACKET_ID = 0xffff;

export type PublishCallback = (err?: Error) => void;

/** What a lane publishes through: mqtt.js's `publish(topic, payload, { qos: 1 }, cb)` shape, QoS 1 only. */
export interface LanePublisher {
  publish(topic: string, payload: Buffer, options: { readonly qos: 1 }, callback: PublishCallback): void;
  end(force?: boolean): void;
}

export class WirePublisher implements LanePublisher {
  readonly #socket: ReturnType<typeof connect>;
  /** Callback of each packet identifier in flight. */
  readonly #waiting = new Map<number, PublishCallback>();
  /** The fixed header and topic of the last topic published, reused while it stays the same. */
  #topic = '';
  #topicBytes = Buffer.alloc(0);
  #nextId = 1;
  #closed: Error | undefined;
  #corked = false;

  private constructor(socket: ReturnType<typeof connect>) {
    this.#socket = socket;
  }

  /** Connects to 127.0.0.1:`port` as `clientId` with `password`; resolves once CONNACK 0 came back. */
  static connect(port: number, clientId: string, password: Uint8Array): Promise<WirePublisher> {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    const publisher = new WirePublisher(socket);
    return new Promise((resolve, reject) => {
      let connected = false;
      const timer = setTimeout(
        () => socket.destroy(new Error(`no CONNACK in ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS,
      );
      socket.once('connect', () => socket.write(connectPacket(clientId, password)));
      readPackets(socket, (p) => {
        if (p.type === PacketType.PUBACK) publisher.#acked(p.body.readUInt16BE(0));
        else if (!connected && p.type === PacketType.CONNACK) {
          clearTimeout(timer);
          if (p.body[1] !== 0) {
            socket.destroy(new Error(`${clientId}: CONNACK ${p.body[1]}`));
            return;
          }
          connected = true;
          resolve(publisher);
        }
      });
      socket.on('error', (err) => {
        publisher.#closed ??= err;
      });
      socket.on('close', () => {
        clearTimeout(timer);
        const err = publisher.#closed ?? new Error(`${clientId}: connection closed`);
        publisher.#closed = err;
        if (!connected) reject(err);
        // Publishes still waiting fail, as mqtt.js fails them when its connection ends.
        for (const callback of publisher.#waiting.values()) callback(err);
        publisher.#waiting.clear();
      });
    });
  }

  publish(topic: string, payload: Buffer, _options: { readonly qos: 1 }, callback: PublishCallback): void {
    if (this.#closed !== undefined) {
      callback(this.#closed);
      return;
    }
    if (topic !== this.#topic) {
      this.#topic = topic;
      const name = Buffer.from(topic);
      this.#topicBytes = Buffer.concat([Buffer.from([name.length >> 8, name.length & 0xff]), name]);
    }
    const id = this.#takeId();
    const length = remainingLength(this.#topicBytes.length + 2 + payload.length);
    // One buffer per packet: the socket may still hold it when the next one is built.
    const packet = Buffer.allocUnsafe(1 + length.length + this.#topicBytes.length + 2 + payload.length);
    packet[0] = 0x32; // PUBLISH, QoS 1 (§3.3.1)
    let at = 1 + length.copy(packet, 1);
    at += this.#topicBytes.copy(packet, at);
    packet.writeUInt16BE(id, at);
    payload.copy(packet, at + 2);
    this.#waiting.set(id, callback);
    // The publishes of one turn of the event loop leave in one write, as mqtt.js's do
    // (mqtt-packet corks the stream and uncorks it on the next tick).
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(packet);
  }

  end(): void {
    this.#closed ??= new Error('publisher ended');
    this.#socket.destroy();
  }

  /** The next identifier not in flight (a lane's window is far below 65,535). */
  #takeId(): number {
    let id = this.#nextId;
    while (this.#waiting.has(id)) id = id === MAX_PACKET_ID ? 1 : id + 1;
    this.#nextId = id === MAX_PACKET_ID ? 1 : id + 1;
    return id;
  }

  #acked(id: number): void {
    const callback = this.#waiting.get(id);
    if (callback === undefined) return;
    this.#waiting.delete(id);
    callback();
  }
}
