/**
 * The scale bench's raw MQTT: packets laid out as MQTT 3.1.1 §2–3 says, and a reader that splits
 * a stream at any chunk boundary.
 */
import { connect, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  connectPacket,
  type Packet,
  PacketReader,
  PacketType,
  publishPacket,
  readPackets,
  remainingLength,
  setPacketId,
} from './mqtt-wire.js';

describe('remainingLength', () => {
  it('encodes the spec examples of §2.2.3', () => {
    expect([...remainingLength(0)]).toEqual([0x00]);
    expect([...remainingLength(127)]).toEqual([0x7f]);
    expect([...remainingLength(128)]).toEqual([0x80, 0x01]);
    expect([...remainingLength(16_383)]).toEqual([0xff, 0x7f]);
    expect([...remainingLength(16_384)]).toEqual([0x80, 0x80, 0x01]);
    expect([...remainingLength(268_435_455)]).toEqual([0xff, 0xff, 0xff, 0x7f]);
    expect(() => remainingLength(268_435_456)).toThrow(RangeError);
  });
});

describe('packets', () => {
  it('writes CONNECT and a QoS 1 PUBLISH with the packet id in place', () => {
    const connect = connectPacket('dev-1', Uint8Array.of(1, 2, 3));
    expect(connect[0]).toBe(0x10);
    expect(connect.subarray(2, 8).toString('latin1')).toBe('\x00\x04MQTT');
    expect(connect[9]).toBe(0xc2);
    expect(connect.subarray(-3)).toEqual(Buffer.from([1, 2, 3]));

    const payload = Buffer.alloc(200, 7);
    const template = publishPacket('mg/v1/dev/d/telemetry', payload);
    const bytes = setPacketId(template, 0x1234);
    const [packet] = new PacketReader().push(bytes) as [Packet];
    expect(packet.type).toBe(PacketType.PUBLISH);
    expect(packet.flags).toBe(0x2); // QoS 1, no DUP, no RETAIN
    const topicLength = packet.body.readUInt16BE(0);
    expect(packet.body.subarray(2, 2 + topicLength).toString()).toBe('mg/v1/dev/d/telemetry');
    expect(packet.body.readUInt16BE(2 + topicLength)).toBe(0x1234);
    expect(packet.body.subarray(4 + topicLength)).toEqual(payload);
    expect(setPacketId(template, 2).readUInt16BE(template.idAt)).toBe(2);
    expect(() => setPacketId(template, 0)).toThrow(RangeError);
  });
});

describe('PacketReader', () => {
  it('splits a stream into packets at any chunk boundary', () => {
    const pubacks = [1, 2, 300].map((id) => Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
    const big = setPacketId(publishPacket('t', Buffer.alloc(300, 1)), 9); // two-byte remaining length
    const stream = Buffer.concat([Buffer.from([0x20, 0x02, 0x00, 0x00]), ...pubacks, big]);
    for (let cut = 1; cut < stream.length; cut += 7) {
      const reader = new PacketReader();
      const packets = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      expect(packets.map((p) => p.type)).toEqual([
        PacketType.CONNACK,
        PacketType.PUBACK,
        PacketType.PUBACK,
        PacketType.PUBACK,
        PacketType.PUBLISH,
      ]);
      expect(packets.slice(1, 4).map((p) => p.body.readUInt16BE(0))).toEqual([1, 2, 300]);
      expect(packets[4]!.body.length).toBe(2 + 1 + 2 + 300);
    }
    // One byte at a time, too.
    const reader = new PacketReader();
    const oneByOne = [...stream].flatMap((b) => reader.push(Buffer.from([b])));
    expect(oneByOne).toHaveLength(5);
  });

  it('refuses a remaining length longer than four bytes', () => {
    expect(() => new PacketReader().push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(
      RangeError,
    );
  });
});

describe('readPackets', () => {
  it('hands over the packets of a socket in order, and destroys it when the stream is not MQTT', async () => {
    const puback = (id: number) => Buffer.from([0x40, 2, id >> 8, id & 0xff]);
    const server = createServer((peer) => {
      // Two PUBACKs split across writes, then a remaining length of five bytes (§2.2.3 allows four).
      peer.write(Buffer.concat([puback(1), puback(2).subarray(0, 1)]));
      setTimeout(() => peer.write(puback(2).subarray(1)), 20);
      // The bad bytes only once the client said it has both PUBACKs: no chunk mixes them.
      peer.once('data', () => peer.write(Buffer.from([0x40, 0xff, 0xff, 0xff, 0xff, 0x01])));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
    const ids: number[] = [];
    readPackets(socket, (p) => {
      ids.push(p.body.readUInt16BE(0));
      if (ids.length === 2) socket.write('x');
    });
    const closed = await new Promise<Error | undefined>((resolve) => {
      let error: Error | undefined;
      socket.on('error', (err) => {
        error = err;
      });
      socket.on('close', () => resolve(error));
    });
    server.close();
    expect(ids).toEqual([1, 2]);
    expect(closed).toBeInstanceOf(RangeError);
  });
});
