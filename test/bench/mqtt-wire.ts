/**
 * Just enough MQTT 3.1.1 on raw sockets for the scale bench's load generators
 * (scale-generator.ts): thousands of devices per process, where an mqtt.js client per device
 * would cost the generator more memory and CPU than the gateway spends on it. CONNECT, QoS 1
 * PUBLISH with a packet identifier patched in place, and a reader that splits the byte stream
 * into packets (OASIS MQTT 3.1.1 §2.2: fixed header, variable-length "remaining length").
 */
import type { Socket } from 'node:net';

/** Packet types of the fixed header's high nibble (§2.2.1). */
export const PacketType = Object.freeze({ CONNACK: 2, PUBLISH: 3, PUBACK: 4 });

/** §2.2.3: 7 bits per byte, least significant first, high bit = more; at most 4 bytes. */
export function remainingLength(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0 || n > 268_435_455) throw new RangeError(`remaining length ${n}`);
  const bytes: number[] = [];
  do {
    const digit = n % 128;
    n = Math.floor(n / 128);
    bytes.push(n > 0 ? digit | 0x80 : digit);
  } while (n > 0);
  return Buffer.from(bytes);
}

const str = (value: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from([value.length >> 8, value.length & 0xff]), value]);

/** CONNECT (§3.1): clean session, username = client id, password, keepalive in seconds (0: none). */
export function connectPacket(clientId: string, password: Uint8Array, keepalive = 0): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    str(Buffer.from('MQTT')),
    // protocol level 4; flags: username, password, clean session
    Buffer.from([4, 0xc2, keepalive >> 8, keepalive & 0xff]),
    str(id),
    str(id),
    str(password),
  ]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** A QoS 1 PUBLISH (§3.3) whose packet identifier `setPacketId` fills in before each send. */
export interface PublishTemplate {
  readonly bytes: Buffer;
  /** Offset of the two-byte packet identifier. */
  readonly idAt: number;
}

export function publishPacket(topic: string, payload: Uint8Array): PublishTemplate {
  const name = str(Buffer.from(topic));
  const length = remainingLength(name.length + 2 + payload.length);
  const bytes = Buffer.concat([Buffer.from([0x32]), length, name, Buffer.alloc(2), payload]);
  return { bytes, idAt: 1 + length.length + name.length };
}

/** Packet identifiers are 1..65535 (§2.3.1). */
export function setPacketId(packet: PublishTemplate, id: number): Buffer {
  if (!Number.isInteger(id) || id < 1 || id > 0xffff) throw new RangeError(`packet id ${id}`);
  packet.bytes.writeUInt16BE(id, packet.idAt);
  return packet.bytes;
}

export interface Packet {
  readonly type: number;
  readonly flags: number;
  readonly body: Buffer;
}

/** Splits a byte stream into packets, whatever the chunk boundaries. */
export class PacketReader {
  #pending: Buffer = Buffer.alloc(0);

  /** The packets completed by `chunk`, in order. */
  push(chunk: Buffer): Packet[] {
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Packet[] = [];
    for (;;) {
      if (buf.length < 2) break;
      let length = 0;
      let multiplier = 1;
      let at = 1;
      let complete = false;
      for (; at < Math.min(buf.length, 5); at++) {
        const byte = buf[at]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          at++;
          break;
        }
      }
      if (!complete) {
        if (buf.length >= 5) throw new RangeError('malformed remaining length');
        break;
      }
      if (buf.length < at + length) break;
      out.push({ type: buf[0]! >> 4, flags: buf[0]! & 0x0f, body: buf.subarray(at, at + length) });
      buf = buf.subarray(at + length);
    }
    // Kept as a copy: the chunk's memory is not held by a tiny remainder.
    this.#pending = Buffer.from(buf);
    return out;
  }
}

/**
 * Calls `onPacket` for every packet `socket` brings, in order; a stream that is not MQTT
 * destroys the socket. Stops at a packet after which `onPacket` destroyed the socket.
 */
export function readPackets(socket: Socket, onPacket: (packet: Packet) => void): void {
  const reader = new PacketReader();
  socket.on('data', (chunk: Buffer) => {
    let packets: Packet[];
    try {
      packets = reader.push(chunk);
    } catch (err) {
      socket.destroy(err as Error);
      return;
    }
    for (const packet of packets) {
      if (socket.destroyed) return;
      onPacket(packet);
    }
  });
}
