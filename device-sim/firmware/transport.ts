/**
 * The agent's ChunkTransport over the device's MQTT session (update wire format v1): a chunk
 * request goes out on `mg/v1/dev/{id}/fw/get`; the reply on `fw/data` is routed back to the
 * request with the same digest and offset. Requests fail at once when the session drops (the
 * agent then resumes from its stored offset on the next offer) or when `transform` says so.
 */

import type { ChunkTransport } from '../../firmware-ts/agent/download.js';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { fwTopic } from '../../firmware-ts/protocol/topics.js';
import { type ChunkRequest, decodeChunk } from '../../firmware-ts/protocol/update/index.js';
import type { FirmwareLink } from './module.js';

/** Levels under `fw/` of the transfer (gateway/updates/chunk-server.ts uses the same). */
export const FW_GET = 'get';
export const FW_DATA = 'data';

interface Waiter {
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (err: Error) => void;
}

export class LinkTransport implements ChunkTransport {
  readonly #deviceId: string;
  readonly #waiters = new Map<string, Waiter[]>();
  #link: FirmwareLink | undefined;
  /** Changes a reply before the agent sees it (the tamper-fw attack's man in the middle). */
  transform: ((payload: Uint8Array) => Uint8Array) | undefined;

  constructor(deviceId: string) {
    this.#deviceId = deviceId;
  }

  attach(link: FirmwareLink): void {
    this.#link = link;
  }

  /** The session ended: every request waiting fails (the agent reports it as interrupted). */
  detach(): void {
    this.#link = undefined;
    this.failAll(new Error('the session ended'));
  }

  failAll(err: Error): void {
    const all = [...this.#waiters.values()].flat();
    this.#waiters.clear();
    for (const w of all) w.reject(err);
  }

  request(message: Uint8Array, request: ChunkRequest): Promise<Uint8Array> {
    const link = this.#link;
    if (link === undefined) return Promise.reject(new Error('not connected'));
    const key = `${toHex(request.digest)}:${request.offset}`;
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(key) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(key, list);
      link.publish(fwTopic(this.#deviceId, FW_GET), message).catch((err: Error) => {
        const waiting = this.#waiters.get(key);
        const i = waiting?.findIndex((w) => w.reject === reject) ?? -1;
        if (waiting !== undefined && i >= 0) waiting.splice(i, 1);
        reject(err);
      });
    });
  }

  /** A message on `fw/data`: handed, as received, to the request it answers. */
  onData(payload: Uint8Array): void {
    let key: string;
    try {
      const chunk = decodeChunk(payload);
      key = `${toHex(chunk.digest)}:${chunk.offset}`;
    } catch {
      return; // nothing asked for this; the agent checks what it does get
    }
    const list = this.#waiters.get(key);
    if (list === undefined) return;
    this.#waiters.delete(key);
    const delivered = this.transform === undefined ? payload : this.transform(payload);
    for (const w of list) w.resolve(delivered);
  }
}
