/**
 * MQTT 3.1.1 packets written by hand (OASIS MQTT 3.1.1 §2, §3.1, §3.3, §3.8) for clients that
 * misbehave on purpose: a real client library would refuse to send most of them. A RawConn is
 * a TCP connection from a chosen loopback source address (127.0.0.2 and up), so that the
 * gateway's per-address penalties hit the attackers and not the well-behaved devices on
 * 127.0.0.1.
 */
import { connect, type Socket } from 'node:net';

/** Remaining Length (§2.2.3): 7 bits per byte, high bit = more. */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function str(s: string | Uint8Array): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

function packet(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first, ...remainingLength(body.length)]), body]);
}

/** CONNECT, clean session, keep-alive 30 s; username and password only when given. */
export function connectPacket(clientId: string, username?: string, password?: Uint8Array): Buffer {
  let flags = 0x02;
  if (username !== undefined) flags |= 0x80;
  if (password !== undefined) flags |= 0x40;
  const parts = [Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, flags, 0, 30]), str(clientId)];
  if (username !== undefined) parts.push(str(username));
  if (password !== undefined) parts.push(str(password));
  return packet(0x10, Buffer.concat(parts));
}

/** PUBLISH at QoS 1 with packet id `id`. */
export function publishPacket(topic: string, payload: Uint8Array, id = 1): Buffer {
  const pid = Buffer.from([id >> 8, id & 0xff]);
  return packet(0x32, Buffer.concat([str(topic), pid, Buffer.from(payload)]));
}

/**
 * A fixed header claiming `bodyBytes` of body (sent apart): a packet no string field could
 * make (MQTT strings stop at 65,535 bytes), e.g. a 1 MB CONNECT.
 */
export function fixedHeader(first: number, bodyBytes: number): Buffer {
  return Buffer.from([first, ...remainingLength(bodyBytes)]);
}

/** The fixed header and topic of a QoS 1 PUBLISH whose payload is `payloadBytes` long (sent apart). */
export function publishHeader(topic: string, payloadBytes: number, id = 1): Buffer {
  const variable = Buffer.concat([str(topic), Buffer.from([id >> 8, id & 0xff])]);
  return Buffer.concat([Buffer.from([0x32, ...remainingLength(variable.length + payloadBytes)]), variable]);
}

export function subscribePacket(filter: string, id = 1): Buffer {
  return packet(0x82, Buffer.concat([Buffer.from([id >> 8, id & 0xff]), str(filter), Buffer.from([1])]));
}

/** 127.0.0.2 .. 127.0.0.254 by n. */
export function attackerAddress(n: number): string {
  return `127.0.0.${2 + (n % 253)}`;
}

export class RawConn {
  readonly socket: Socket;
  readonly connected: Promise<void>;
  readonly closed: Promise<void>;
  #received = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  constructor(port: number, localAddress: string) {
    this.socket = connect({ port, host: '127.0.0.1', localAddress });
    this.socket.on('error', () => {}); // resets and EPIPE are expected: the gateway hangs up on us
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('close', () => reject(new Error('closed before connect')));
    });
    this.connected.catch(() => {});
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.socket.on('data', (chunk: Buffer) => {
      // Keep only what the tests read (CONNACK, PUBACK, SUBACK): a few bytes per connection.
      if (this.#received.length < 4096) this.#received = Buffer.concat([this.#received, chunk]);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed.then(() => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  get isClosed(): boolean {
    return this.socket.destroyed;
  }

  /** Writes `bytes`; resolves when flushed or when the connection is gone. */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  /**
   * The first packet from the gateway whose type (high nibble) is `type`: its bytes, or
   * 'closed' if the connection ended first, or 'timeout'.
   */
  async next(type: number, ms = 5_000): Promise<Buffer | 'closed' | 'timeout'> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.#take(type);
      if (found !== undefined) return found;
      if (this.socket.destroyed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** CONNACK return code (§3.2.2.3), or 'closed' / 'timeout'. */
  async connack(ms = 5_000): Promise<number | 'closed' | 'timeout'> {
    const p = await this.next(2, ms);
    return typeof p === 'string' ? p : (p[3] as number);
  }

  /** Waits until the gateway closes the connection; false after `ms`. */
  async waitClosed(ms = 5_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const result = await Promise.race([this.closed.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Removes and returns the first whole packet of `type` in the buffer, if any. */
  #take(type: number): Buffer | undefined {
    let at = 0;
    while (at < this.#received.length) {
      let len = 0;
      let mul = 1;
      let i = at + 1;
      for (;;) {
        const b = this.#received[i];
        if (b === undefined) return undefined;
        len += (b & 0x7f) * mul;
        mul *= 128;
        i++;
        if ((b & 0x80) === 0) break;
      }
      const end = i + len;
      if (end > this.#received.length) return undefined;
      if ((this.#received[at] as number) >> 4 === type) {
        const found = this.#received.subarray(at, end);
        this.#received = Buffer.concat([this.#received.subarray(0, at), this.#received.subarray(end)]);
        return Buffer.from(found);
      }
      at = end;
    }
    return undefined;
  }
}
