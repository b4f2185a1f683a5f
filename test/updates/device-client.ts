/**
 * A device on MQTT running the real update agent (firmware-ts/agent), for end-to-end tests:
 * it connects with its demo key, takes offers from its retained `update` topic, fetches chunks
 * on `fw/get` → `fw/data`, and publishes the agent's signed reports on `update/status` (the
 * PUBACK comes once the report is in a block). Storage is in memory (MemorySlots, MemoryKeyValue);
 * the trust bundle is the factory bundle of the gateway's genesis config.
 *
 * The agent is imported by the test only; the gateway never imports it (DESIGN §6).
 */
import type { MqttClient } from 'mqtt';
import {
  type ChunkTransport,
  type DownloadLimits,
  MemoryKeyValue,
  MemorySlots,
  type OfferOutcome,
  type SelfTestInfo,
  systemClock,
  UpdateAgent,
} from '../../firmware-ts/agent/index.js';
import { decodeCbor } from '../../firmware-ts/protocol/cbor.js';
import { nodeBackend } from '../../firmware-ts/protocol/ed25519/node.js';
import { MedgateError } from '../../firmware-ts/protocol/errors.js';
import { eventsTopic, fwTopic, updateStatusTopic, updateTopic } from '../../firmware-ts/protocol/topics.js';
import { buildFactoryBundle, type TrustBundle } from '../../firmware-ts/protocol/update/index.js';
import type { TestGateway } from '../gateway/harness.js';

export interface DeviceClientOptions {
  readonly model?: string;
  /** Seq of the firmware the device runs at start (default 1). */
  readonly factorySeq?: number;
  /** The trial boot's self-test (default: passes). */
  readonly selfTest?: (info: SelfTestInfo) => Promise<boolean>;
  readonly limits?: Partial<DownloadLimits>;
  /** Bytes per A/B slot (default 1 MiB). */
  readonly slotBytes?: number;
}

/** The factory trust bundle of the chain a test gateway runs. */
export function factoryBundle(gw: TestGateway): TrustBundle {
  return buildFactoryBundle(gw.ledger.genesis);
}

type Waiter = { match: (o: OfferOutcome) => boolean; resolve: (o: OfferOutcome) => void };

export class DeviceClient {
  /** What the agent made of each offer, in order (ignored ones included). */
  readonly outcomes: OfferOutcome[] = [];
  /** Events from the gateway, decoded (fw.rejected, status.accepted, status.rejected, ...). */
  readonly events: Record<string, unknown>[] = [];
  /** Every signed report the agent handed over for `update/status`, in order. */
  readonly reports: Uint8Array[] = [];
  readonly #waiters: Waiter[] = [];
  /** The one chunk request in flight (the agent downloads one chunk at a time). */
  #pending: { resolve: (payload: Uint8Array) => void; reject: (err: Error) => void } | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dev: string,
    readonly client: MqttClient,
    readonly agent: UpdateAgent,
    readonly slots: MemorySlots,
  ) {}

  static async start(gw: TestGateway, dev: string, options: DeviceClientOptions = {}): Promise<DeviceClient> {
    const client = await gw.connect(dev);
    const slots = new MemorySlots(options.slotBytes ?? 1024 * 1024);
    let device: DeviceClient | undefined;
    const transport: ChunkTransport = {
      request: (message) =>
        new Promise<Uint8Array>((resolve, reject) => {
          if (device === undefined || !client.connected) {
            reject(new Error('not connected'));
            return;
          }
          device.#pending = { resolve, reject };
          client.publishAsync(fwTopic(dev, 'get'), Buffer.from(message), { qos: 1 }).catch(reject);
        }),
    };
    const agent = await UpdateAgent.create({
      deviceId: dev,
      model: options.model ?? 'wearable-v1',
      signer: gw.key(dev).signer,
      backend: nodeBackend,
      factoryBundle: factoryBundle(gw),
      factorySeq: options.factorySeq ?? 1,
      slots,
      kv: new MemoryKeyValue(),
      transport,
      clock: systemClock(),
      selfTest: options.selfTest ?? (async () => true),
      report: async (cose) => {
        device?.reports.push(cose);
        await client.publishAsync(updateStatusTopic(dev), Buffer.from(cose), { qos: 1 });
      },
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    });
    device = new DeviceClient(dev, client, agent, slots);
    client.on('message', (topic, payload) => device!.#onMessage(topic, new Uint8Array(payload)));
    client.on('close', () => device!.#fail(new Error('connection closed')));
    await client.subscribeAsync([eventsTopic(dev), fwTopic(dev, 'data')], { qos: 1 });
    // Last: a retained offer may arrive at once.
    await client.subscribeAsync(updateTopic(dev), { qos: 1 });
    return device;
  }

  #onMessage(topic: string, payload: Uint8Array): void {
    if (topic === fwTopic(this.dev, 'data')) {
      const pending = this.#pending;
      this.#pending = undefined;
      pending?.resolve(payload);
    } else if (topic === eventsTopic(this.dev)) {
      const event = Object.fromEntries(decodeCbor(payload) as Map<string, unknown>);
      this.events.push(event);
      // A refused chunk request: the transport fails, the agent reports the download interrupted.
      if (event.type === 'fw.rejected') this.#fail(new MedgateError(String(event.code), 'chunk refused'));
    } else if (topic === updateTopic(this.dev)) {
      // Offers are handled one after the other, as a device's main loop would.
      this.#queue = this.#queue.then(async () => {
        const outcome = await this.agent.handleOffer(payload);
        this.outcomes.push(outcome);
        for (const w of [...this.#waiters]) {
          if (w.match(outcome)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(outcome);
          }
        }
      });
    }
  }

  #fail(err: Error): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(err);
  }

  /** The first outcome (seen or to come) with this status, at most `ms`. */
  outcome(status: OfferOutcome['status'], ms = 10_000): Promise<OfferOutcome> {
    const seen = this.outcomes.find((o) => o.status === status);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match: (o) => o.status === status,
        resolve: (o) => {
          clearTimeout(timer);
          resolve(o);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `${this.dev}: no '${status}' outcome within ${ms} ms (got ${JSON.stringify(this.outcomes)})`,
          ),
        );
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  /** Waits until every offer received so far has been handled. */
  async settled(): Promise<void> {
    await this.#queue;
  }

  stop(): void {
    this.client.end(true);
  }
}
