/**
 * The chunk server (DESIGN §5, update wire format v1): a device asks on its own
 * `mg/v1/dev/{id}/fw/get` for `{digest, offset, len}` and gets `{digest, offset, data}` on
 * `mg/v1/dev/{id}/fw/data`. Resumable by design: the device asks again from the offset it has
 * stored. Only the image of the rollout offered to that device now is served (offer-index.ts):
 * no chunk for another device's update, a halted or expired rollout, a wave not yet open.
 *
 * A refusal is final for that request: the device gets its PUBACK and a coded event on its
 * events topic `{"type": "fw.rejected", "code", ? "field", ? "offset"}`, and stays connected.
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { isMedgateError, ProtocolErrorCode } from '../../firmware-ts/protocol/errors.js';
import { fwTopic } from '../../firmware-ts/protocol/topics.js';
import {
  type ChunkRequest,
  decodeChunkRequest,
  encodeChunk,
} from '../../firmware-ts/protocol/update/index.js';
import type { GatewayPublisher } from '../broker/publisher.js';
import type {
  PublishInfo,
  TelemetryClient,
  TelemetryHandler,
  TelemetryVerdict,
} from '../broker/telemetry-seam.js';
import { GatewayErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ImageStore } from './image-store.js';
import { OfferIndex } from './offer-index.js';
import { CHUNK_SIZE, type OfferLedger } from './offers.js';

/** The level under `fw/` of requests (device → gateway) and of data (gateway → device). */
export const FW_GET = 'get';
export const FW_DATA = 'data';

export const FwEventType = Object.freeze({ rejected: 'fw.rejected' });

export interface ChunkServerDeps {
  readonly ledger: Pick<OfferLedger, 'state' | 'tip'>;
  readonly images: Pick<ImageStore, 'read'>;
  readonly publisher: Pick<GatewayPublisher, 'publish' | 'deviceEvent'>;
  readonly log: Pick<Logger, 'debug' | 'info' | 'warn'>;
}

export function createChunkServer(deps: ChunkServerDeps): TelemetryHandler {
  const { ledger, images, publisher, log } = deps;

  const refuse = async (
    dev: string,
    code: string,
    extra: { field?: string; offset?: number } = {},
  ): Promise<TelemetryVerdict> => {
    log.info({ deviceId: dev, code, ...extra }, 'chunk request refused');
    await publisher.deviceEvent(dev, { type: FwEventType.rejected, code, ...extra });
    return 'refused';
  };

  return {
    async handle(client: TelemetryClient, payload: Uint8Array, info: PublishInfo): Promise<TelemetryVerdict> {
      const dev = client.deviceId;
      // The ACL lets a device publish under fw/ only its own fw/get; anything else is a bug here.
      if (info.topic !== fwTopic(dev, FW_GET))
        return refuse(dev, ProtocolErrorCode.BAD_TOPIC, { field: 'topic' });
      let request: ChunkRequest;
      try {
        request = decodeChunkRequest(payload);
      } catch (err) {
        if (!isMedgateError(err)) throw err;
        return refuse(dev, err.code, err.field === undefined ? {} : { field: err.field });
      }
      const decision = OfferIndex.of(ledger.state, ledger.tip.header.t).mayFetch(dev, request.digest);
      if (!decision.ok) return refuse(dev, decision.code, { field: 'digest', offset: request.offset });
      let data: Uint8Array;
      try {
        data = await images.read(request.digest, request.offset, Math.min(request.len, CHUNK_SIZE));
      } catch (err) {
        if (!isMedgateError(err)) throw err;
        if (err.code !== GatewayErrorCode.FW_BAD_OFFSET) {
          log.warn(
            { deviceId: dev, code: err.code, digest: toHex(request.digest) },
            'offered image unavailable',
          );
        }
        return refuse(dev, err.code, { field: err.field ?? 'digest', offset: request.offset });
      }
      await publisher.publish(
        fwTopic(dev, FW_DATA),
        encodeChunk({ digest: request.digest, offset: request.offset, data }),
        {
          qos: 1,
        },
      );
      log.debug({ deviceId: dev, offset: request.offset, len: data.length }, 'chunk served');
      return 'accepted';
    },
  };
}
