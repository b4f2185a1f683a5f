/**
 * The firmware service (DESIGN §5), as the composition root wires it: the image store, the
 * offer publisher run after every block, the chunk server on `fw/get` and the status intake on
 * `update/status`. The broker is created before this service (it publishes through it), so
 * the broker gets `lazyUpdateHandlers`, which forward to the service once it exists.
 */
import type { GatewayPublisher } from '../broker/publisher.js';
import type { IngressHandlers, TelemetryHandler } from '../broker/telemetry-seam.js';
import { GatewayErrorCode, MedgateError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../log.js';
import { createChunkServer } from './chunk-server.js';
import { ImageStore } from './image-store.js';
import { OfferPublisher } from './offer-publisher.js';
import { OfferCache } from './offers.js';
import { createStatusIntake } from './status-intake.js';

export interface UpdateServiceDeps {
  readonly ledger: Pick<Ledger, 'state' | 'tip' | 'txProof' | 'submitTx' | 'path'>;
  readonly publisher: GatewayPublisher;
  readonly log: Logger;
}

export interface UpdateService {
  readonly images: ImageStore;
  readonly offers: OfferPublisher;
  readonly handlers: { readonly updateStatus: TelemetryHandler; readonly fw: TelemetryHandler };
  /** Ledger onBlock listener: re-plans and publishes the offers that changed. */
  readonly onBlock: () => void;
  /** Stops publishing offers (after the pass running now). */
  close(): Promise<void>;
}

/** Opens the image store and publishes the offers of the current state. */
export async function startUpdateService(deps: UpdateServiceDeps): Promise<UpdateService> {
  const { ledger, publisher, log } = deps;
  const images = await ImageStore.open(ledger.path);
  const offers = new OfferPublisher({
    ledger,
    offers: new OfferCache(ledger),
    publish: publisher.publish,
    log,
  });
  const reconcile = (): void => {
    void offers.reconcile();
  };
  await offers.reconcile();
  return {
    images,
    offers,
    handlers: {
      updateStatus: createStatusIntake({ ledger, publisher, log }),
      fw: createChunkServer({ ledger, images, publisher, log }),
    },
    onBlock: reconcile,
    close: () => offers.close(),
  };
}

/** Handlers for the broker that forward to the service once `get()` returns it. */
export function lazyUpdateHandlers(
  get: () => UpdateService | undefined,
): Pick<IngressHandlers, 'updateStatus' | 'fw'> {
  const forward = (pick: (s: UpdateService) => TelemetryHandler): TelemetryHandler => ({
    handle: (client, payload, info) => {
      const service = get();
      if (service === undefined) {
        return Promise.reject(
          new MedgateError(GatewayErrorCode.GATEWAY_STOPPING, 'the firmware service is not running'),
        );
      }
      return pick(service).handle(client, payload, info);
    },
  });
  return { updateStatus: forward((s) => s.handlers.updateStatus), fw: forward((s) => s.handlers.fw) };
}
