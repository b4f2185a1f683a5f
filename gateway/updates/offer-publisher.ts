/**
 * The offer publisher (DESIGN §5): after each block, the offer of every device an open wave
 * holds is published RETAINED on its `mg/v1/dev/{id}/update` topic, so that a device gets it on
 * subscribing, also after a reconnect. When the device's update ended, its rollout halted or
 * expired, the retained offer is cleared (a zero-length retained payload, MQTT 3.1.1 §3.3.1.3).
 *
 * Only changes are published: a device keeps its offer (with the `latest` block of when it was
 * made) until what it is offered changes. Passes run one at a time; blocks arriving meanwhile
 * share one further pass.
 */
import { updateTopic } from '../../firmware-ts/protocol/topics.js';
import type { GatewayPublisher } from '../broker/publisher.js';
import type { Logger } from '../log.js';
import { OfferIndex } from './offer-index.js';
import type { OfferCache, OfferLedger } from './offers.js';

export interface OfferPublisherDeps {
  readonly ledger: OfferLedger;
  readonly offers: OfferCache;
  readonly publish: GatewayPublisher['publish'];
  readonly log: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

const CLEAR = new Uint8Array(0);

export class OfferPublisher {
  readonly #deps: OfferPublisherDeps;
  /** Device id → id of the rollout whose offer is retained on its topic now. */
  readonly #retained = new Map<string, string>();
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(deps: OfferPublisherDeps) {
    this.#deps = deps;
  }

  /** What is retained now, by device (for tests and status). */
  get retained(): ReadonlyMap<string, string> {
    return this.#retained;
  }

  /** Runs a pass soon; resolves once a pass that started after this call has finished. */
  reconcile(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running !== undefined) {
      // The running loop makes one more pass before it settles.
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#loop();
    return this.#running;
  }

  /** No passes after the one running, which is awaited. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.#pass();
      } catch (err) {
        this.#deps.log.error({ err }, 'offer pass failed; the next block retries');
      }
    } while (this.#again && !this.#closed);
    // In the same turn as the last check: a later reconcile() starts a new loop.
    this.#running = undefined;
  }

  async #pass(): Promise<void> {
    const { ledger, offers, publish, log } = this.#deps;
    const index = OfferIndex.of(ledger.state, ledger.tip.header.t);
    const live = new Set<string>();
    for (const [dev, offered] of index.offers) {
      live.add(offered.rollout.id);
      if (this.#retained.get(dev) === offered.rollout.id) continue;
      const payload = await offers.offer(offered.rollout);
      await publish(updateTopic(dev), payload, { qos: 1, retain: true });
      this.#retained.set(dev, offered.rollout.id);
      log.info({ deviceId: dev, rollout: offered.rollout.id }, 'update offered');
    }
    for (const [dev, rollout] of [...this.#retained]) {
      if (index.offers.has(dev)) continue;
      await publish(updateTopic(dev), CLEAR, { qos: 1, retain: true });
      this.#retained.delete(dev);
      log.info({ deviceId: dev, rollout }, 'update offer cleared');
    }
    offers.retain(live);
  }
}
