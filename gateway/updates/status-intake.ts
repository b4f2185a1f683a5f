/**
 * Status intake (DESIGN §5, update wire format v1): a device publishes on its own
 * `mg/v1/dev/{id}/update/status` the COSE bytes of an `update.report` transaction signed by its
 * own key. The gateway checks that it is an update report and that its actor is the device of
 * the topic (a device reports only for itself: the state machine would accept a report another
 * connected device relays, and the topic is the connection's identity), then submits it to the
 * ledger exactly as `POST /v1/tx` does: the state machine checks the signature and every rule.
 *
 * The PUBACK follows the block that holds the report (durable, DESIGN §4). The result goes to
 * the device's events topic: `{"type": "status.accepted", "state", "height", "index"}` or
 * `{"type": "status.rejected", "code", ? "field"}`. A ledger that cannot take transactions now
 * (pool full, closing) rejects the publish instead: no PUBACK, the device redelivers.
 */
import { toHex } from '../../firmware-ts/protocol/bytes.js';
import { isMedgateError } from '../../firmware-ts/protocol/errors.js';
import { type DecodedTx, decodeTx } from '../../firmware-ts/protocol/tx/sign.js';
import type { GatewayPublisher, SecurityEvent } from '../broker/publisher.js';
import type { TelemetryClient, TelemetryHandler, TelemetryVerdict } from '../broker/telemetry-seam.js';
import { GatewayErrorCode } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Logger } from '../log.js';

export const StatusEventType = Object.freeze({ accepted: 'status.accepted', rejected: 'status.rejected' });

/** Refusals that say nothing about the report: the device should send it again later. */
const TRANSIENT: ReadonlySet<string> = new Set([
  GatewayErrorCode.TX_POOL_FULL,
  GatewayErrorCode.LEDGER_CLOSED,
  GatewayErrorCode.LEDGER_READ_ONLY,
  GatewayErrorCode.LEDGER_WRITE_FAILED,
  GatewayErrorCode.GATEWAY_STOPPING,
]);

export interface StatusIntakeDeps {
  readonly ledger: Pick<Ledger, 'submitTx'>;
  readonly publisher: Pick<GatewayPublisher, 'deviceEvent' | 'security'>;
  readonly log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /** Called after a report is in a block (the offer publisher re-plans). */
  readonly onReport?: () => void;
}

export function createStatusIntake(deps: StatusIntakeDeps): TelemetryHandler {
  const { ledger, publisher, log } = deps;

  const refuse = async (dev: string, code: string, field?: string): Promise<TelemetryVerdict> => {
    log.info({ deviceId: dev, code, field }, 'update status refused');
    await publisher.deviceEvent(dev, {
      type: StatusEventType.rejected,
      code,
      ...(field === undefined ? {} : { field }),
    });
    return 'refused';
  };

  return {
    async handle(client: TelemetryClient, payload: Uint8Array): Promise<TelemetryVerdict> {
      const dev = client.deviceId;
      let decoded: DecodedTx;
      try {
        decoded = decodeTx(payload);
      } catch (err) {
        if (!isMedgateError(err)) throw err;
        return refuse(dev, err.code, err.field);
      }
      const { tx } = decoded;
      if (tx.type !== 'update.report') return refuse(dev, GatewayErrorCode.FW_STATUS_NOT_REPORT, 'type');
      if (tx.actor !== dev) {
        const event: SecurityEvent = {
          type: 'status.spoofed',
          code: GatewayErrorCode.FW_STATUS_SPOOFED,
          principal: client.principal,
          dev: tx.actor.slice(0, 80),
        };
        publisher.security(event).catch((err: unknown) => log.debug({ err }, 'security event not published'));
        log.warn({ deviceId: dev, code: event.code }, 'update status for another actor');
        return refuse(dev, GatewayErrorCode.FW_STATUS_SPOOFED, 'actor');
      }
      try {
        const position = await ledger.submitTx(payload);
        log.info({ deviceId: dev, state: tx.body.state, height: position.height }, 'update status recorded');
        await publisher.deviceEvent(dev, {
          type: StatusEventType.accepted,
          rollout: toHex(tx.body.rollout),
          state: tx.body.state,
          height: position.height,
          index: position.index,
        });
        deps.onReport?.();
        return 'accepted';
      } catch (err) {
        if (!isMedgateError(err) || TRANSIENT.has(err.code)) throw err;
        return refuse(dev, err.code, err.field);
      }
    },
  };
}
