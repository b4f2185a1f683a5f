/**
 * Firmware-update helpers over a test gateway (test/gateway/harness.ts): a vendor-signed
 * release with its image stored, a rollout proposed and approved by demo admins, device-signed
 * update reports, and a collector of a device's CBOR events.
 */
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { sha256 } from '../../firmware-ts/protocol/hash.js';
import { eventsTopic } from '../../firmware-ts/protocol/topics.js';
import { signManifest, signTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { Manifest, RolloutTarget, Tx, TxBodies } from '../../firmware-ts/protocol/tx/types.js';
import type { TestGateway, TestKey } from '../gateway/harness.js';

export interface Release {
  readonly image: Uint8Array;
  readonly manifest: Uint8Array;
  readonly fields: Manifest;
  /** Hex SHA-256 of the manifest COSE bytes. */
  readonly id: string;
  readonly digest: Uint8Array;
}

/** Signs a manifest of a fresh random image (vendor acme), releases it, stores the image. */
export async function releaseImage(
  gw: TestGateway,
  options: { size?: number; seq?: number; version?: string; model?: string; store?: boolean } = {},
): Promise<Release> {
  const image = new Uint8Array(randomBytes(options.size ?? 40_000));
  const fields: Manifest = {
    vendor: 'acme',
    model: options.model ?? 'wearable-v1',
    seq: options.seq ?? 2,
    version: options.version ?? '2.0.0',
    digest: sha256(image),
    size: image.length,
    created: Date.now(),
  };
  const manifest = signManifest(fields, gw.key('vendor:acme').signer, gw.chain);
  await gw.tx('admin:alice', 'firmware.release', { manifest });
  if (options.store !== false)
    await gw.gateway.updates.images.put(image, { digest: fields.digest, size: image.length });
  return { image, manifest, fields, id: toHex(sha256(manifest)), digest: fields.digest };
}

export interface RolloutOptions {
  readonly target: RolloutTarget;
  readonly waves: readonly number[];
  readonly maxFailures?: number;
  readonly model?: string;
  readonly notBefore?: number;
  readonly expires?: number;
  /** Admins: the first proposes, the others approve. Default alice then bob. */
  readonly admins?: readonly string[];
}

/** Proposes and approves a rollout of `release`; resolves with its id (hex) once authorised. */
export async function authorizeRollout(
  gw: TestGateway,
  release: Release,
  options: RolloutOptions,
): Promise<string> {
  const [proposer, ...approvers] = options.admins ?? ['admin:alice', 'admin:bob'];
  const now = Date.now();
  const created = await gw.tx(proposer!, 'proposal.create', {
    action: {
      type: 'rollout.authorize',
      body: {
        manifest: sha256(release.manifest),
        model: options.model ?? release.fields.model,
        target: options.target,
        notBefore: options.notBefore ?? now - 60_000,
        expires: options.expires ?? now + 3_600_000,
        waves: options.waves,
        maxFailures: options.maxFailures ?? 1,
      },
    },
    expires: now + 3_600_000,
  });
  const id = created.id;
  for (const admin of approvers) await gw.tx(admin, 'proposal.approve', { proposal: id });
  return toHex(id);
}

let nonce = Date.now();

/** A transaction of `actor` signed by `key` (nonces rise across the test run). */
export function signedBy<K extends keyof TxBodies>(
  gw: TestGateway,
  actor: string,
  key: TestKey,
  type: K,
  body: TxBodies[K],
): Uint8Array {
  nonce += 1;
  return signTx({ type, chain: gw.chain, actor, nonce, t: Date.now(), body } as Tx, key.signer);
}

/** The device's CBOR events (as plain objects), collected from subscription on. */
export class Events {
  readonly list: Record<string, unknown>[] = [];
  readonly #waiters: Array<{
    match: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }> = [];

  static async of(client: MqttClient, dev: string): Promise<Events> {
    const events = new Events();
    const topic = eventsTopic(dev);
    client.on('message', (t, payload) => {
      if (t !== topic) return;
      const event = Object.fromEntries(decodeCbor(new Uint8Array(payload)) as Map<string, unknown>);
      events.list.push(event);
      for (const w of [...events.#waiters]) {
        if (w.match(event)) {
          events.#waiters.splice(events.#waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return events;
  }

  /** The first event (seen or to come) of this type, at most `ms`. */
  next(type: string, ms = 5_000): Promise<Record<string, unknown>> {
    const seen = this.list.findIndex((e) => e.type === type);
    if (seen >= 0) return Promise.resolve(this.list.splice(seen, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match: (e: Record<string, unknown>) => e.type === type,
        resolve: (e: Record<string, unknown>) => {
          clearTimeout(timer);
          this.list.splice(this.list.indexOf(e), 1);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no ${type} event within ${ms} ms`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }
}
