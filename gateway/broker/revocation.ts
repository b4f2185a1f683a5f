/**
 * Live revocation (issue 4): what a new block changes for the connections already open. Called
 * from the ledger's onBlock, right after the block is durable, so it acts within one block
 * interval of the transaction's submission:
 *
 * - `device.revoked`: the device's connection is closed (MG_ERR_DEVICE_REVOKED);
 * - `device.rotated`: closed if its connect token was signed by the replaced key
 *   (MG_ERR_KEY_ROTATED); the device reconnects with a token of its new key;
 * - `admin.removed`: the admin's connection is closed;
 * - `access.revoked`: the clinician's subscriptions to those devices' verified topics are
 *   removed. Deliveries had already stopped: authorizeForward checks grants per message.
 *
 * The connect checks (credentials.ts) refuse the same principals from then on.
 */
import type { Client } from 'aedes';
import { verifiedTopic } from '../../firmware-ts/protocol/topics.js';
import { GatewayErrorCode } from '../errors.js';
import type { ProducedBlock } from '../ledger/ledger.js';
import { StateErrorCode } from '../ledger/state/errors.js';
import type { Logger } from '../log.js';
import type { Session, Sessions } from './sessions.js';

export interface RevocationDeps {
  readonly sessions: Sessions;
  readonly log: Logger;
}

/** Returns the onBlock listener. It never throws (the block producer must not see an error). */
export function createRevocation(deps: RevocationDeps): (produced: ProducedBlock) => void {
  const disconnect = (id: string, code: string, height: number, keep?: (s: Session) => boolean): void => {
    const client = deps.sessions.client(id);
    const session = deps.sessions.of(client);
    if (client === undefined || session === undefined || keep?.(session)) return;
    session.log.warn({ code, height }, 'disconnected by a ledger change');
    client.close();
  };
  const unsubscribe = (clinician: string, devs: readonly string[], height: number): void => {
    const client: Client | undefined = deps.sessions.client(`clinician:${clinician}`);
    const session = deps.sessions.of(client);
    if (client === undefined || session === undefined) return;
    const topics = devs.map((dev) => verifiedTopic(dev));
    session.log.info(
      { code: GatewayErrorCode.SUBSCRIBE_FORBIDDEN, devs: devs.length, height },
      'grant revoked',
    );
    // No messageId: aedes removes the subscriptions without answering the client (no UNSUBACK).
    client.unsubscribe({ cmd: 'unsubscribe', unsubscriptions: topics }, (err?: Error) => {
      if (err) session.log.warn({ err }, 'could not remove the subscriptions of a revoked grant');
    });
  };

  return (produced) => {
    const height = produced.block.header.height;
    try {
      for (const effects of produced.effects) {
        for (const effect of effects) {
          switch (effect.type) {
            case 'device.revoked':
              disconnect(effect.dev, StateErrorCode.DEVICE_REVOKED, height);
              break;
            case 'device.rotated':
              disconnect(effect.dev, GatewayErrorCode.KEY_ROTATED, height, (s) => s.kid === effect.kid);
              break;
            case 'admin.removed':
              disconnect(`admin:${effect.id}`, StateErrorCode.UNKNOWN_ADMIN, height);
              break;
            case 'access.revoked':
              unsubscribe(effect.clinician, effect.devs, height);
              break;
            default:
              break;
          }
        }
      }
    } catch (err) {
      deps.log.error({ err, height }, 'live revocation failed for a block');
    }
  };
}
