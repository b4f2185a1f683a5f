/**
 * A bound on the size of every MQTT packet a client sends (`limits.maxPayloadBytes` plus room
 * for the topic and headers). aedes has no such option and mqtt-packet's parser buffers a
 * packet of up to 256 MiB (MQTT 3.1.1 §2.2.3) before it hands it over, so one client could
 * make the gateway hold that much. The limit is enforced as soon as the fixed header's
 * Remaining Length is read, before any of the packet is buffered: the connection is closed
 * with MG_ERR_PACKET_TOO_LARGE.
 *
 * It hooks the parser aedes creates for each client (`client._parser`, mqtt-packet 9). That is
 * internal API; `limitPacketSize` throws at the first connection if the shape ever changes,
 * and test/gateway/broker-limits.test.ts sends an oversized packet.
 */
import type { Client } from 'aedes';
import { GatewayErrorCode, MedgateError } from '../errors.js';

/** Room for the fixed header, a 256-character topic, a packet id (and a CONNECT's fields). */
export const PACKET_OVERHEAD_BYTES = 1024;

interface ParserLike {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

export function limitPacketSize(client: Client, maxPacketBytes: number): void {
  const parser = (client as unknown as { _parser?: Partial<ParserLike> })._parser;
  if (typeof parser?._parseLength !== 'function' || typeof parser._emitError !== 'function') {
    throw new Error('aedes changed: its client has no mqtt-packet parser to bound (see packet-limit.ts)');
  }
  const p = parser as ParserLike;
  const parseLength = p._parseLength;
  p._parseLength = function boundedParseLength(this: ParserLike): boolean {
    const complete = parseLength.call(this);
    if (complete && this.packet.length > maxPacketBytes) {
      this._emitError(
        new MedgateError(GatewayErrorCode.PACKET_TOO_LARGE, `an MQTT packet of ${this.packet.length} bytes`, {
          got: this.packet.length,
          want: maxPacketBytes,
        }),
      );
      return false;
    }
    return complete;
  };
}
